package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func testVault(t testing.TB) (*Vault, fakes) {
	t.Helper()
	f := newFakes(20)
	return newVault([]Finding{
		{"aws-access-token", f.aws},
		{"private-key", f.rsa},
		{"quirky", `a"b\c<d>&e` + "\u2028"},
	}, nil), f
}

func TestVaultRestore(t *testing.T) {
	v, f := testVault(t)
	got := v.Restore("key <<SECRET_1:aws-access-token>>, pem <<SECRET_2:private-key>>, <<SECRET_9:nope>>, <<SECRET_1:aws-acc")
	want := "key " + f.aws + ", pem " + f.rsa + ", <<SECRET_9:nope>>, <<SECRET_1:aws-acc"
	if got != want {
		t.Errorf("Restore = %q, want %q", got, want)
	}
	var nilVault *Vault
	if nilVault.Restore("<<SECRET_1:x>>") != "<<SECRET_1:x>>" || nilVault.Len() != 0 || nilVault.Rules() != nil {
		t.Error("a nil Vault must leave text alone")
	}
}

func TestRestoreJSON(t *testing.T) {
	v, f := testVault(t)
	tests := []struct {
		name string
		in   string
		want any // decoded
	}{
		{
			name: "raw placeholders, private key with newlines",
			in:   `{"choices":[{"message":{"role":"assistant","content":"Use <<SECRET_2:private-key>> and <<SECRET_1:aws-access-token>>."}}]}`,
			want: map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant",
				"content": "Use " + f.rsa + " and " + f.aws + "."}}}},
		},
		{
			name: "Go's HTML-escaped spelling",
			in:   `{"content":[{"type":"text","text":"k=\u003c\u003cSECRET_1:aws-access-token\u003e\u003e"}]}`,
			want: map[string]any{"content": []any{map[string]any{"type": "text", "text": "k=" + f.aws}}},
		},
		{
			name: "value that needs escaping",
			in:   `{"a":"[<<SECRET_3:quirky>>]"}`,
			want: map[string]any{"a": `[a"b\c<d>&e` + "\u2028]"},
		},
		{
			name: "tool call arguments: the key goes into the inner JSON string",
			in:   `{"tool_calls":[{"function":{"name":"write","arguments":"{\"path\":\"k.pem\",\"data\":\"<<SECRET_2:private-key>>\"}"}}]}`,
			want: map[string]any{"tool_calls": []any{map[string]any{"function": map[string]any{"name": "write",
				"arguments": string(mustJSON(t, map[string]any{"path": "k.pem", "data": f.rsa}))}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := v.RestoreJSON([]byte(tt.in))
			if !json.Valid(out) {
				t.Fatalf("RestoreJSON = %s, not valid JSON", out)
			}
			var got any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalizeJSON(t, got), normalizeJSON(t, tt.want)) {
				t.Errorf("RestoreJSON = %s", out)
			}
		})
	}
}

// normalizeJSON decodes tool arguments so two spellings of the same inner
// document compare equal.
func normalizeJSON(t *testing.T, v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			if s, ok := e.(string); ok && k == "arguments" {
				var inner any
				if err := json.Unmarshal([]byte(s), &inner); err != nil {
					t.Fatalf("arguments %q: %v", s, err)
				}
				e = inner
			}
			m[k] = normalizeJSON(t, e)
		}
		return m
	case []any:
		for i := range x {
			x[i] = normalizeJSON(t, x[i])
		}
	}
	return v
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRestoreJSONPassThrough(t *testing.T) {
	v, f := testVault(t)
	same := []byte(`{"id":"chatcmpl-1","choices":[{"message":{"content":"nothing secret here"}}]}`)
	if out := v.RestoreJSON(same); &out[0] != &same[0] {
		t.Error("RestoreJSON copied a document without placeholders")
	}
	// Bytes outside the restored string stay as they were.
	in := []byte(`{"a" : 1.50e0,  "b":"<<SECRET_1:aws-access-token>>" ,"c":[ ]}`)
	want := `{"a" : 1.50e0,  "b":"` + f.aws + `" ,"c":[ ]}`
	if out := v.RestoreJSON(in); string(out) != want {
		t.Errorf("RestoreJSON = %s, want %s", out, want)
	}
	// A fragment that is not JSON: raw replacement, escaped.
	frag := []byte(`{"delta":{"text":"x <<SECRET_3:quirky>> y`)
	if out := string(v.RestoreJSON(frag)); out != `{"delta":{"text":"x a\"b\\c<d>&e\u2028 y` {
		t.Errorf("RestoreJSON(fragment) = %s", out)
	}
}

func TestVaultNeverPrintsSecrets(t *testing.T) {
	v, f := testVault(t)
	holder := struct {
		V *Vault
		v *Vault
	}{v, v}
	var outs []string
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(format, v), fmt.Sprintf(format, holder), fmt.Sprintf(format, *v))
	}
	outs = append(outs, v.String(), fmt.Sprint(v), fmt.Sprintln(v))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("redacted", "vault", v, "holder", holder)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("redacted", "vault", v)
	outs = append(outs, logs.String())
	b, _ := json.Marshal(v)
	outs = append(outs, string(b))
	for _, out := range outs {
		for _, s := range []string{f.aws, f.rsa[:40], "quirky\"", `a"b\c`} {
			if strings.Contains(out, s) {
				t.Errorf("output %q shows a secret", out)
			}
		}
	}
	if got := fmt.Sprintf("%v", v); got != "[3 secrets redacted]" {
		t.Errorf("%%v = %q", got)
	}
	if !strings.Contains(logs.String(), `"vault":"[3 secrets redacted]"`) {
		t.Errorf("slog output %s lacks the count", logs.String())
	}
}
