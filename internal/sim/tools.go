package sim

import (
	"bytes"
	"encoding/json"
)

// schema is the part of a JSON Schema argsFor reads.
type schema struct {
	Type       json.RawMessage   `json:"type"` // a string or a list of strings
	Properties map[string]schema `json:"properties"`
	Required   []string          `json:"required"`
	Enum       []json.RawMessage `json:"enum"`
	Const      json.RawMessage   `json:"const"`
	Items      *schema           `json:"items"`
}

// maxSchemaDepth bounds recursion into nested object schemas.
const maxSchemaDepth = 8

// argsFor builds deterministic tool arguments from a parameters schema:
// an object with each required property, in the order listed, set to the
// first enum value if any, else "sim" for strings, 1 for numbers, true for
// booleans, a one-item list for arrays and a nested object for objects.
// A missing or unreadable schema gives {}.
func argsFor(raw json.RawMessage) string {
	var s schema
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return "{}"
	}
	var b bytes.Buffer
	writeObject(&b, s, 0)
	return b.String()
}

func writeObject(b *bytes.Buffer, s schema, depth int) {
	b.WriteByte('{')
	for i, name := range s.Required {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteByte(':')
		writeValue(b, s.Properties[name], depth+1)
	}
	b.WriteByte('}')
}

func writeValue(b *bytes.Buffer, s schema, depth int) {
	switch {
	case len(s.Const) > 0:
		b.Write(compact(s.Const))
		return
	case len(s.Enum) > 0:
		b.Write(compact(s.Enum[0]))
		return
	}
	switch schemaType(s) {
	case "integer", "number":
		b.WriteString("1")
	case "boolean":
		b.WriteString("true")
	case "null":
		b.WriteString("null")
	case "array":
		b.WriteByte('[')
		if s.Items != nil && depth < maxSchemaDepth {
			writeValue(b, *s.Items, depth+1)
		}
		b.WriteByte(']')
	case "object":
		if depth >= maxSchemaDepth {
			b.WriteString("{}")
			return
		}
		writeObject(b, s, depth)
	default:
		b.WriteString(`"sim"`)
	}
}

// schemaType is the schema's type: the first non-null entry of a type
// list, "object" when only properties are given, else "string".
func schemaType(s schema) string {
	var one string
	if json.Unmarshal(s.Type, &one) == nil && one != "" {
		return one
	}
	var list []string
	if json.Unmarshal(s.Type, &list) == nil {
		for _, t := range list {
			if t != "null" {
				return t
			}
		}
		if len(list) > 0 {
			return list[0]
		}
	}
	if s.Properties != nil {
		return "object"
	}
	return "string"
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return []byte("null")
	}
	return b.Bytes()
}
