package prompts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file reads YAML as node trees rather than decoding into structs:
// yaml.v3's decoder cannot reject unknown keys with their line, and stops
// at the first error. Walking nodes gives every problem its file:line.

const (
	tagInt  = "!!int"
	tagBool = "!!bool"
	tagNull = "!!null"
)

// parseDocs parses every YAML document in data and returns the root node
// of each (nil for an empty document).
func parseDocs(data []byte, file string, ps *problems) (docs []*yaml.Node, ok bool) {
	defer func() {
		// yaml.v3 panics on some inputs it cannot handle; a reload must
		// not take the gateway down.
		if r := recover(); r != nil {
			ps.errorf(file, 0, "yaml parser failed: %v", r)
			docs, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, true
		}
		if err != nil {
			ps.add(syntaxProblem(file, err))
			return nil, false
		}
		var root *yaml.Node
		if len(doc.Content) > 0 {
			root = doc.Content[0]
		}
		docs = append(docs, root)
	}
}

var yamlLine = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)

// syntaxProblem turns "yaml: line 3: could not find expected ':'" into a
// Problem at line 3.
func syntaxProblem(file string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: file, Message: "yaml: " + msg, Severity: SeverityError}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = "yaml: " + m[2]
	}
	return p
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// fields returns the values of a mapping by key, reporting keys not in
// known, repeated keys, and a node that is not a mapping. what names the
// mapping in messages ("prompt.yaml", "front matter", "messages[2]").
func fields(n *yaml.Node, file, what string, known []string, ps *problems) map[string]*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		ps.errorf(file, line(n), "%s: want a mapping with keys %s", what, strings.Join(known, ", "))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			ps.errorf(file, k.Line, "%s: keys must be names", what)
		case !slices.Contains(known, k.Value):
			ps.errorf(file, k.Line, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(known, ", "))
		case out[k.Value] != nil:
			ps.errorf(file, k.Line, "%s: %s given twice", what, k.Value)
		default:
			out[k.Value] = v
		}
	}
	return out
}

// line returns n's line, 0 for a missing node.
func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// isNull reports whether n is absent or an explicit null (`key:`).
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == tagNull)
}

// str returns a scalar's text. Numbers and booleans are accepted as text
// (a description of "2024" is still a description).
func str(n *yaml.Node, file, what string, ps *problems) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == tagNull {
		ps.errorf(file, n.Line, "%s: want a string", what)
		return "", false
	}
	return n.Value, true
}

// integer returns an integer scalar.
func integer(n *yaml.Node, file, what string, ps *problems) (int, bool) {
	n = deref(n)
	var v int
	if n.Kind != yaml.ScalarNode || n.Tag != tagInt || n.Decode(&v) != nil {
		ps.errorf(file, n.Line, "%s: want an integer, got %s", what, describe(n))
		return 0, false
	}
	return v, true
}

// boolean returns a true/false scalar.
func boolean(n *yaml.Node, file, what string, ps *problems) (bool, bool) {
	n = deref(n)
	var v bool
	if n.Kind != yaml.ScalarNode || n.Tag != tagBool || n.Decode(&v) != nil {
		ps.errorf(file, n.Line, "%s: want true or false, got %s", what, describe(n))
		return false, false
	}
	return v, true
}

// strList returns a sequence of strings.
func strList(n *yaml.Node, file, what string, ps *problems) ([]string, bool) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		ps.errorf(file, n.Line, "%s: want a list of strings, got %s", what, describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		s, good := str(item, file, fmt.Sprintf("%s[%d]", what, i), ps)
		if good && s == "" {
			ps.errorf(file, item.Line, "%s[%d]: empty", what, i)
			good = false
		}
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// describe names a node's value for messages: `"abc"`, "a list", ...
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.Tag == tagNull {
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

// plain decodes n into plain Go values (maps with string keys, slices,
// strings, numbers, booleans) that encoding/json can write.
func plain(n *yaml.Node) (any, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return jsonable(v)
}

// jsonable checks that v has only string map keys, which is what YAML
// decodes to unless a key is a number or a list.
func jsonable(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			e, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			v[k] = e
		}
		return v, nil
	case []any:
		for i, e := range v {
			e, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			v[i] = e
		}
		return v, nil
	case map[any]any:
		return nil, errors.New("map keys must be strings")
	default:
		return v, nil
	}
}
