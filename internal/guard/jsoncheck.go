package guard

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/llmux/llmux/internal/config"
)

// jsonCheck passes when the text holds JSON (see extractJSON) that is
// valid against schema, if set.
type jsonCheck struct {
	schema *jsonschema.Schema
}

func (c *jsonCheck) check(_ context.Context, text string) string {
	v, err := extractJSON(text)
	if err != nil {
		return "json: " + err.Error()
	}
	if c.schema == nil {
		return ""
	}
	var verr *jsonschema.ValidationError
	if err := c.schema.Validate(v); errors.As(err, &verr) {
		return "json: " + describeValidation(verr)
	} else if err != nil {
		return "json: " + err.Error()
	}
	return ""
}

func compileJSON(g config.Guardrail, baseDir string) (checker, []string) {
	c := &jsonCheck{}
	if g.Schema == nil && g.SchemaFile == "" {
		return c, nil
	}
	if g.Schema != nil && g.SchemaFile != "" {
		return c, []string{"schema and schema_file are exclusive"}
	}
	comp := jsonschema.NewCompiler()
	var loc string
	var err error
	if g.Schema != nil {
		// A location beside the config file, so relative $refs resolve
		// against baseDir.
		loc, err = filepath.Abs(filepath.Join(baseDir, ".guardrail-"+safeName(g.Name)+".schema.json"))
		if err == nil {
			err = addDoc(comp, loc, g.Schema)
		}
		if err != nil {
			return c, []string{"schema: " + err.Error()}
		}
	} else {
		loc = g.SchemaFile
		if !filepath.IsAbs(loc) {
			loc = filepath.Join(baseDir, loc)
		}
		if ext := strings.ToLower(filepath.Ext(loc)); ext == ".yaml" || ext == ".yml" {
			if err := addYAMLFile(comp, loc); err != nil {
				return c, []string{"schema_file: " + err.Error()}
			}
		}
	}
	sch, err := comp.Compile(loc)
	if err != nil {
		field := "schema"
		if g.SchemaFile != "" {
			field = "schema_file"
		}
		return c, []string{field + ": " + oneLine(err.Error())}
	}
	c.schema = sch
	return c, nil
}
