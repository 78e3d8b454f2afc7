package guard

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// listDetector reports each of its findings whose secret occurs in the
// text: a Detector under the test's control.
type listDetector []Finding

func (d listDetector) Detect(text string) []Finding {
	var out []Finding
	for _, f := range d {
		if strings.Contains(text, f.Secret) {
			out = append(out, f)
		}
	}
	return out
}

// fill replaces {{name}} in tmpl by the JSON string body of vars[name].
func fill(tmpl string, vars map[string]string) []byte {
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, "{{"+k+"}}", jsonBody(v))
	}
	return []byte(tmpl)
}

// jsonBody is s encoded as a JSON string, without the quotes.
func jsonBody(s string) string {
	b := appendJSONString(nil, s)
	return string(b[1 : len(b)-1])
}

// decodeJSON decodes b with numbers kept as written.
func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	return v
}

const openAIBody = `{
  "model": "gpt-4o",
  "messages": [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "my key is {{aws}} ok"},
    {"role": "user", "content": [
      {"type": "text", "text": "token: {{github}}"},
      {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "read_file", "arguments": "{\"path\": \"secrets.env\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "SLACK_BOT_TOKEN={{slack}}\nAWS={{aws}}\n"}
  ],
  "temperature":   0.50,
  "x_unknown": {"n": 1.0e2, "list": [true, false, null], "s": "\u00e9t\u00e9"},
  "stream": true
}`

const anthropicBlocksBody = `{"model":"claude-sonnet-4","max_tokens":1024,
 "system":[{"type":"text","text":"Project key:\n{{rsa}}","cache_control":{"type":"ephemeral"}}],
 "messages":[
  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"export GH={{github}}"}]}]},
  {"role":"user","content":"deploy with {{aws}}"}],
 "metadata":{"user_id":"u-123"}, "x_future": [1, 2.50, {"deep": "\u2028"}]}`

const anthropicStringBody = `{"model":"claude-haiku","max_tokens":64,"system":"ops notes: {{slack}}",
 "messages":[{"role":"user","content":"hi"}]}`

func TestRedactBodies(t *testing.T) {
	g := newTestGitleaks(t)
	f := newFakes(10)
	vars := map[string]string{"aws": f.aws, "github": f.github, "slack": f.slack, "rsa": f.rsa}
	tests := []struct {
		name         string
		tmpl         string
		placeholders []string
		rules        []string
		keep         []string // raw fragments that must pass through
	}{
		{
			name:         "openai string content, parts and tool result",
			tmpl:         openAIBody,
			placeholders: []string{"<<SECRET_1:aws-access-token>>", "<<SECRET_2:github-pat>>", "<<SECRET_3:slack-bot-token>>"},
			rules:        []string{"aws-access-token", "github-pat", "slack-bot-token"},
			keep: []string{`"temperature":   0.50`, `"x_unknown": {"n": 1.0e2, "list": [true, false, null], "s": "\u00e9t\u00e9"}`,
				`"arguments": "{\"path\": \"secrets.env\"}"`, "\n    {\"role\": \"system\""},
		},
		{
			name:         "anthropic system blocks and tool_result blocks",
			tmpl:         anthropicBlocksBody,
			placeholders: []string{"<<SECRET_1:private-key>>", "<<SECRET_2:github-pat>>", "<<SECRET_3:aws-access-token>>"},
			rules:        []string{"aws-access-token", "github-pat", "private-key"},
			keep:         []string{`"cache_control":{"type":"ephemeral"}`, `"x_future": [1, 2.50, {"deep": "\u2028"}]`},
		},
		{
			name:         "anthropic string system",
			tmpl:         anthropicStringBody,
			placeholders: []string{"<<SECRET_1:slack-bot-token>>"},
			rules:        []string{"slack-bot-token"},
			keep:         []string{`"max_tokens":64`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := fill(tt.tmpl, vars)
			out, v, err := NewRedactor(g).Redact(body)
			if err != nil {
				t.Fatal(err)
			}
			for name, s := range vars {
				if bytes.Contains(out, []byte(jsonBody(s))) || bytes.Contains(out, []byte(s)) {
					t.Errorf("the %s secret is still in the output", name)
				}
			}
			for _, p := range tt.placeholders {
				if !bytes.Contains(out, []byte(p)) {
					t.Errorf("placeholder %s missing from\n%s", p, out)
				}
			}
			for _, k := range tt.keep {
				if !bytes.Contains(out, []byte(k)) {
					t.Errorf("fragment %s did not pass through", k)
				}
			}
			if got := v.Rules(); !slices.Equal(got, tt.rules) {
				t.Errorf("Rules = %v, want %v", got, tt.rules)
			}
			if v.Len() != len(tt.placeholders) {
				t.Errorf("Len = %d, want %d", v.Len(), len(tt.placeholders))
			}
			// Only the secrets changed: putting them back gives the body.
			if back := v.restoreRaw(out); !bytes.Equal(back, body) {
				t.Errorf("raw restore differs from the body:\n%s\nwant\n%s", back, body)
			}
			if !reflect.DeepEqual(decodeJSON(t, v.RestoreJSON(out)), decodeJSON(t, body)) {
				t.Errorf("RestoreJSON(output) decodes differently from the body")
			}
			// Placeholders are not secrets: a second pass finds nothing.
			if again, v2, err := NewRedactor(g).Redact(out); err != nil || v2 != nil || &again[0] != &out[0] {
				t.Errorf("Redact(redacted) = %v, %v; want nothing found", v2, err)
			}
		})
	}
}

func TestRedactNothingFound(t *testing.T) {
	r := NewRedactor(newTestGitleaks(t))
	for name, body := range map[string][]byte{
		"openai":    []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"What is an API key?"}]}`),
		"anthropic": fill(anthropicStringBody, map[string]string{"slack": "not a token"}),
		"prose":     proseRequest(t, 4<<10),
	} {
		out, v, err := r.Redact(body)
		if err != nil || v != nil {
			t.Errorf("%s: Redact = %v, %v; want no vault, no error", name, v, err)
		}
		if &out[0] != &body[0] || len(out) != len(body) {
			t.Errorf("%s: Redact returned a new slice, want body itself", name)
		}
	}
}

func TestRedactPlaceholders(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		found listDetector
		want  []string // substrings of the output
		gone  []string
	}{
		{
			name:  "same value, same placeholder; numbered by first appearance",
			body:  `{"a":"x BBBBBBBB y","b":["AAAAAAAA","BBBBBBBB"]}`,
			found: listDetector{{"r-a", "AAAAAAAA"}, {"r-b", "BBBBBBBB"}},
			want:  []string{`{"a":"x <<SECRET_1:r-b>> y","b":["<<SECRET_2:r-a>>","<<SECRET_1:r-b>>"]}`},
		},
		{
			name:  "a secret inside a longer one",
			body:  `{"a":"k=LONGSECRET123 and SECRET1"}`,
			found: listDetector{{"short", "SECRET1"}, {"long", "LONGSECRET123"}},
			want:  []string{`{"a":"k=<<SECRET_2:long>> and <<SECRET_1:short>>"}`},
		},
		{
			name:  "html characters, spelled either way",
			body:  `{"a":"p=<tag>&amp;x","b":"p=\u003ctag\u003e\u0026amp;x"}`,
			found: listDetector{{"html", "p=<tag>&amp;x"}},
			want:  []string{`{"a":"<<SECRET_1:html>>","b":"<<SECRET_1:html>>"}`},
		},
		{
			name:  "escaped differently: re-encoded, key order kept",
			body:  `{"z":1.50,"a":"key \u0041BCDEFGH1 end","m":[1e3,"ABCDEFGH1"]}`,
			found: listDetector{{"esc", "ABCDEFGH1"}},
			want:  []string{`{"z":1.50,"a":"key <<SECRET_1:esc>> end","m":[1e3,"<<SECRET_1:esc>>"]}`},
		},
		{
			name:  "escaped slash",
			body:  `{"a":"k: ab\/cdef\/ghij"}`,
			found: listDetector{{"slash", "ab/cdef/ghij"}},
			want:  []string{`{"a":"k: <<SECRET_1:slash>>"}`},
		},
		{
			name:  "a match that would start inside an escape",
			body:  `{"a":"x\nABCDEF","b":"nABCDEF"}`,
			found: listDetector{{"esc", "nABCDEF"}},
			want:  []string{`{"a":"x\nABCDEF","b":"<<SECRET_1:esc>>"}`},
		},
		{
			name:  "an escaped backslash before the secret",
			body:  `{"a":"x\\nABCDEF"}`,
			found: listDetector{{"esc", "nABCDEF"}},
			want:  []string{`{"a":"x\\<<SECRET_1:esc>>"}`},
		},
		{
			name:  "placeholder already in the request is skipped",
			body:  `{"a":"see <<SECRET_1:r>>","b":"SECRETVALUE"}`,
			found: listDetector{{"r", "SECRETVALUE"}},
			want:  []string{`"see <<SECRET_1:r>>"`, `"b":"<<SECRET_2:r>>"`},
		},
		{
			name:  "keys are not scanned, but a secret found in a value goes everywhere",
			body:  `{"KEYSECRET9":"x","v":"KEYSECRET9"}`,
			found: listDetector{{"k", "KEYSECRET9"}},
			want:  []string{`{"<<SECRET_1:k>>":"x","v":"<<SECRET_1:k>>"}`},
		},
		{
			name:  "rule id made placeholder-safe",
			body:  `{"a":"SOMESECRET"}`,
			found: listDetector{{"My Rule<1>", "SOMESECRET"}},
			want:  []string{`<<SECRET_1:my-rule-1->>`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, v, err := NewRedactor(tt.found).Redact([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !bytes.Contains(out, []byte(w)) {
					t.Errorf("output %s\nlacks %s", out, w)
				}
			}
			if !v.clean(out) {
				t.Errorf("a secret survived in %s", out)
			}
			if !reflect.DeepEqual(decodeJSON(t, v.RestoreJSON(out)), decodeJSON(t, []byte(tt.body))) {
				t.Errorf("RestoreJSON(%s) = %s, want the body's value", out, v.RestoreJSON(out))
			}
		})
	}
}

func TestRedactInvalidJSON(t *testing.T) {
	r := NewRedactor(listDetector{{"r", "SECRET"}})
	for _, body := range []string{``, `{`, `{"a":"SECRET"} {}`, `{"a":"SECRET"}x`, `nope`} {
		out, v, err := r.Redact([]byte(body))
		if err == nil || v != nil || string(out) != body {
			t.Errorf("Redact(%q) = %q, %v, %v; want the body back and an error", body, out, v, err)
		}
	}
}

func TestRedactConcurrent(t *testing.T) {
	r := NewRedactor(newTestGitleaks(t))
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			f := newFakes(uint64(200 + i))
			body := fill(openAIBody, map[string]string{"aws": f.aws, "github": f.github, "slack": f.slack})
			out, v, err := r.Redact(body)
			if err != nil || v.Len() != 3 || bytes.Contains(out, []byte(f.aws)) {
				t.Errorf("goroutine %d: Redact: %v, %d secrets", i, err, v.Len())
			}
		})
	}
	wg.Wait()
}

func TestRedactLargeCodeBody(t *testing.T) {
	f := newFakes(11)
	body := codeRequest(t, f, 100<<10)
	out, v, err := NewRedactor(newTestGitleaks(t)).Redact(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.all() {
		if bytes.Contains(out, []byte(jsonBody(s))) {
			t.Errorf("secret %.12q... survived", s)
		}
	}
	want := []string{"aws-access-token", "github-pat", "private-key", "slack-bot-token"}
	if got := v.Rules(); !slices.Equal(got, want) {
		t.Errorf("Rules = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(decodeJSON(t, v.RestoreJSON(out)), decodeJSON(t, body)) {
		t.Error("RestoreJSON(output) decodes differently from the body")
	}
}
