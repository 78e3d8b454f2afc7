package prompts

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestValidate(t *testing.T) {
	v, err := loadGood(t).Resolve("explain-code@7")
	if err != nil {
		t.Fatal(err)
	}
	strict := mustVersion(t, repoWith(t, `input:
  type: object
  additionalProperties: false
  properties:
    n: {type: integer, minimum: 1}
    opts:
      type: object
      required: [mode]
      properties: {mode: {enum: [fast, slow]}}
`, map[string]string{"default.prompt": "messages:\n  - role: user\n    content: hi\n"}), "p")
	tests := []struct {
		name     string
		v        *Version
		vars     map[string]any
		variable string // "" = valid
		message  string
	}{
		{"valid", v, map[string]any{"code": "x", "language": "Go"}, "", ""},
		{"valid with a list", v, map[string]any{"code": "x", "files": []any{"a", "b"}}, "", ""},
		{"valid with a Go []string", v, map[string]any{"code": "x", "files": []string{"a", "b"}}, "", ""},
		{"missing required", v, map[string]any{"language": "Go"}, "code", "required"},
		{"nil vars", v, nil, "code", "required"},
		{"wrong type", v, map[string]any{"code": 42}, "code", "got number, want string"},
		{"wrong item type", v, map[string]any{"code": "x", "files": []any{"a", 3}}, "files", "at /1: got number, want string"},
		{"wrong item type in a Go slice", v, map[string]any{"code": "x", "files": []int{1}}, "files", "at /0: got number, want string"},
		{"extra variables allowed by default", v, map[string]any{"code": "x", "extra": 1}, "", ""},
		{"integer from JSON", strict, jsonVars(t, `{"n": 2}`), "", ""},
		{"Go integer", strict, map[string]any{"n": 2}, "", ""},
		{"below minimum", strict, map[string]any{"n": 0}, "n", "minimum: got 0, want 1"},
		{"not an integer", strict, jsonVars(t, `{"n": 1.5}`), "n", "got number, want integer"},
		{"additional property", strict, map[string]any{"n": 1, "zzz": true}, "zzz", "not allowed (not in the input schema)"},
		{"nested required", strict, map[string]any{"opts": map[string]any{}}, "opts", `missing property 'mode'`},
		{"nested enum", strict, map[string]any{"opts": map[string]any{"mode": "warp"}}, "opts", "at /mode: value must be one of 'fast', 'slow'"},
		{"no schema accepts anything", mustVersion(t, "testdata/good", "summarize"), map[string]any{"text": 1}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Validate(tt.vars)
			if tt.variable == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var ve *VarError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v (%T), want *VarError", err, err)
			}
			if ve.Variable != tt.variable || ve.Message != tt.message {
				t.Errorf("VarError{%q, %q}, want {%q, %q}", ve.Variable, ve.Message, tt.variable, tt.message)
			}
			if want := `variable "` + tt.variable + `": ` + tt.message; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err, want)
			}
		})
	}
}

func jsonVars(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustVersion(t *testing.T, dir, ref string) *Version {
	t.Helper()
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
