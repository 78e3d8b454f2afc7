package prompts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
)

// inputSchema is a compiled `input:` JSON Schema and the names of its
// top-level properties.
type inputSchema struct {
	schema     *jsonschema.Schema
	properties []string // sorted
}

// schemaURL names the schema inside the compiler; nothing is fetched from
// it.
const schemaURL = "llmux:prompt.yaml"

// parseInput compiles the `input:` node. External $refs are refused so
// that loading prompts never reads other files or the network.
func parseInput(n *yaml.Node, file string, ps *problems) *inputSchema {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		ps.errorf(file, n.Line, "input: want a JSON Schema object, got %s", describe(n))
		return nil
	}
	v, err := plain(n)
	if err != nil {
		ps.errorf(file, n.Line, "input: %v", err)
		return nil
	}
	// Round-trip through JSON so numbers are json.Number, as the
	// compiler expects of a decoded document.
	raw, err := json.Marshal(v)
	if err != nil {
		ps.errorf(file, n.Line, "input: %v", err)
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		ps.errorf(file, n.Line, "input: %v", err)
		return nil
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		ps.errorf(file, n.Line, "input: %v", err)
		return nil
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		ps.errorf(file, n.Line, "input: invalid JSON Schema: %s", schemaProblem(err))
		return nil
	}
	in := &inputSchema{schema: sch}
	if props, ok := doc.(map[string]any)["properties"].(map[string]any); ok {
		for name := range props {
			in.properties = append(in.properties, name)
		}
		slices.Sort(in.properties)
	}
	return in
}

// schemaProblem says in one line what is wrong with a schema: for one
// that breaks the metaschema, the first rule it breaks and where.
func schemaProblem(err error) string {
	var se *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &se) && errors.As(se.Err, &ve) {
		for len(ve.Causes) > 0 {
			ve = ve.Causes[0]
		}
		msg := ve.Error()
		if out := ve.BasicOutput(); out.Error != nil {
			msg = out.Error.String()
		}
		return fmt.Sprintf("at /%s: %s", strings.Join(ve.InstanceLocation, "/"), msg)
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// refuseLoader is the schema loader: input schemas must be
// self-contained.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external $ref %q: input schemas must be self-contained", url)
}

// Validate checks vars against the version's input schema and returns a
// *VarError naming the first offending variable, or nil. A version without
// an input schema accepts anything. Values should be what encoding/json
// decodes to (map[string]any, []any, string, float64 or json.Number,
// bool, nil) plus Go integers; other types are converted through JSON.
func (v *Version) Validate(vars map[string]any) error {
	if v.input == nil {
		return nil
	}
	err := v.input.schema.Validate(vars)
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) && hasInvalidJSON(ve) {
		normal, nerr := viaJSON(vars)
		if nerr != nil {
			return &VarError{Message: fmt.Sprintf("not JSON: %v", nerr)}
		}
		err = v.input.schema.Validate(normal)
	}
	if err == nil {
		return nil
	}
	if errors.As(err, &ve) {
		return varError(ve)
	}
	return fmt.Errorf("validate %s: %w", v.ref, err)
}

// varError turns the first leaf of a validation error tree into a
// VarError naming the top-level variable it is about.
func varError(ve *jsonschema.ValidationError) *VarError {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	msg := ve.Error()
	if out := ve.BasicOutput(); out.Error != nil {
		msg = out.Error.String()
	}
	loc := ve.InstanceLocation
	if len(loc) == 0 {
		switch k := ve.ErrorKind.(type) {
		case *kind.Required:
			return &VarError{Variable: k.Missing[0], Message: "required"}
		case *kind.AdditionalProperties:
			return &VarError{Variable: k.Properties[0], Message: "not allowed (not in the input schema)"}
		}
		return &VarError{Message: msg}
	}
	if len(loc) > 1 {
		msg = "at /" + strings.Join(loc[1:], "/") + ": " + msg
	}
	return &VarError{Variable: loc[0], Message: msg}
}

// hasInvalidJSON reports whether validation failed on a Go value the
// validator does not know (a []string, a struct).
func hasInvalidJSON(ve *jsonschema.ValidationError) bool {
	if _, ok := ve.ErrorKind.(*kind.InvalidJsonValue); ok {
		return true
	}
	return slices.ContainsFunc(ve.Causes, hasInvalidJSON)
}

func viaJSON(vars map[string]any) (any, error) {
	raw, err := json.Marshal(vars)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

// Variables returns the names of the input schema's top-level properties,
// sorted; nil without a schema.
func (v *Version) Variables() []string {
	if v.input == nil {
		return nil
	}
	return slices.Clone(v.input.properties)
}
