package guard

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// patternDetector reports every match of its regex: with `K[^<>]{7}` it
// finds "secrets" holding quotes, backslashes, newlines and any Unicode,
// which exercises escaping far more than real rules do.
type patternDetector struct{ re *regexp.Regexp }

func (d patternDetector) Detect(text string) []Finding {
	var out []Finding
	for _, m := range d.re.FindAllString(text, -1) {
		out = append(out, Finding{RuleID: "fuzz", Secret: m})
	}
	return out
}

// detectors runs several detectors.
type detectors []Detector

func (ds detectors) Detect(text string) []Finding {
	var out []Finding
	for _, d := range ds {
		out = append(out, d.Detect(text)...)
	}
	return out
}

func FuzzRedact(f *testing.F) {
	fk := newFakes(30)
	vars := map[string]string{"aws": fk.aws, "github": fk.github, "slack": fk.slack, "rsa": fk.rsa}
	for _, tmpl := range []string{openAIBody, anthropicBlocksBody, anthropicStringBody} {
		f.Add(fill(tmpl, vars))
	}
	for _, seed := range []string{
		`{"a":"Kabcdefgh"}`, `{"a":"x\nKab\"cdefg","b":["Kab\"cdefg"],"Kab\"cdefg":1}`,
		`{"a":"\u004babcdefgh K\/bc\/defg"}`, `{"a":"<<SECRET_1:fuzz>> Kxxxxxxx"}`,
		`{"a":"K\u2028\u00e9\\\\\\n12"}`, `[1,2.50,"Kzzzzzzz",null,true]`, `"Kstring!"`,
		`{"a":"\xff\xfeKinvalid"}`, `{"a":1e400}`, `not json`, ``,
	} {
		f.Add([]byte(seed))
	}
	g := newTestGitleaks(f)
	r := NewRedactor(detectors{g, patternDetector{regexp.MustCompile(`K[^<>]{7}`)}})
	f.Fuzz(func(t *testing.T, body []byte) {
		out, v, err := r.Redact(body)
		valid := json.Valid(body)
		switch {
		case err != nil:
			if valid {
				t.Fatalf("Redact(valid JSON) = %v", err)
			}
			return
		case !valid:
			t.Fatalf("Redact accepted invalid JSON %q", body)
		case !json.Valid(out):
			t.Fatalf("Redact output is not JSON: %q", out)
		case v == nil && !bytes.Equal(out, body):
			t.Fatalf("nothing found but the body changed")
		}
		if !reflect.DeepEqual(fuzzDecode(t, v.RestoreJSON(out)), fuzzDecode(t, body)) {
			t.Fatalf("RestoreJSON(Redact(body)) differs:\nbody     %q\nredacted %q\nrestored %q", body, out, v.RestoreJSON(out))
		}
	})
}

func fuzzDecode(t *testing.T, b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

func FuzzStreamRestorer(f *testing.F) {
	f.Add(streamText, uint16(3), uint16(17), uint16(40))
	f.Add("<<SECRET_1:aws-access-token>>", uint16(1), uint16(2), uint16(28))
	f.Add("<<<<SECRET_2:private-key>><<SECRET_3:quirky>", uint16(5), uint16(5), uint16(30))
	f.Add("", uint16(0), uint16(0), uint16(0))
	v, _ := testVault(f)
	f.Fuzz(func(t *testing.T, text string, a, b, c uint16) {
		cuts := []int{int(a), int(b), int(c)}
		for i := range cuts {
			if len(text) > 0 {
				cuts[i] %= len(text) + 1
			} else {
				cuts[i] = 0
			}
		}
		if cuts[0] > cuts[1] {
			cuts[0], cuts[1] = cuts[1], cuts[0]
		}
		if cuts[1] > cuts[2] {
			cuts[1], cuts[2] = cuts[2], cuts[1]
		}
		if cuts[0] > cuts[1] {
			cuts[0], cuts[1] = cuts[1], cuts[0]
		}
		s := v.NewStream()
		var got strings.Builder
		prev := 0
		for _, cut := range cuts {
			got.WriteString(s.Push(text[prev:cut]))
			prev = cut
		}
		got.WriteString(s.Push(text[prev:]))
		got.WriteString(s.Flush())
		if want := v.Restore(text); got.String() != want {
			t.Fatalf("pieces %v of %q: got %q, want %q", cuts, text, got.String(), want)
		}
	})
}
