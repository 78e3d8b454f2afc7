package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Loading JSON schemas from the config, and describing validation errors.

// addDoc adds a schema decoded from YAML (map[string]any, or map[any]any
// from other decoders) as a JSON document at loc.
func addDoc(comp *jsonschema.Compiler, loc string, doc any) error {
	data, err := json.Marshal(jsonValue(doc))
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return comp.AddResource(loc, v)
}

func addYAMLFile(comp *jsonschema.Compiler, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	return addDoc(comp, path, doc)
}

// jsonValue converts YAML-decoded maps with non-string keys so
// encoding/json accepts them.
func jsonValue(v any) any {
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonValue(e)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = jsonValue(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = jsonValue(e)
		}
		return s
	}
	return v
}

// safeName makes a guardrail name usable in a file name.
func safeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// oneLine joins a multi-line error message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// describeValidation names the instance path and the keyword of the first
// failure (leaves sorted by path for a stable message), e.g.
// "/answer: type: got number, want string".
func describeValidation(e *jsonschema.ValidationError) string {
	var leaves []*jsonschema.ValidationError
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(e)
	p := message.NewPrinter(language.English)
	fails := make([]string, len(leaves))
	for i, l := range leaves {
		kw := "schema"
		if path := l.ErrorKind.KeywordPath(); len(path) > 0 {
			kw = path[len(path)-1]
		}
		msg := l.ErrorKind.LocalizedString(p)
		if !strings.HasPrefix(msg, kw+":") {
			msg = kw + ": " + msg // most messages do not name their keyword
		}
		fails[i] = pointer(l.InstanceLocation) + ": " + msg
	}
	slices.Sort(fails)
	return firstOf(fails)
}

// pointer formats an instance location as a JSON pointer ("/" for the
// root).
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return truncate(b.String(), maxQuote)
}
