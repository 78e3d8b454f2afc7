package prompts

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParseVariant feeds variant files to the parser and compiler: they
// must never panic, and what they accept must be usable.
func FuzzParseVariant(f *testing.F) {
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, variantExt) {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil {
			f.Add(data)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("---\nvariant: &a x\nmatch: *a\n---\nmessages: [{role: user, content: '{{ x }}'}]\n"))
	eng := newEngine()
	root := filepath.Join("testdata", "good")
	const file = "fuzz/x.prompt"
	f.Fuzz(func(t *testing.T, data []byte) {
		vf, ps := parseVariant(file, data)
		if vf == nil {
			if len(ps) == 0 {
				t.Fatal("rejected without a problem")
			}
			for _, p := range ps {
				if p.File != file || p.Severity != SeverityError || p.Message == "" || p.Line < 0 {
					t.Fatalf("bad problem %+v", p)
				}
			}
			return
		}
		if len(ps) != 0 {
			t.Fatalf("accepted with problems %v", ps)
		}
		if len(vf.messages) == 0 || !nameRe.MatchString(vf.name) {
			t.Fatalf("accepted %d messages, name %q", len(vf.messages), vf.name)
		}
		for _, m := range vf.messages {
			if !slices.Contains(roles, m.role) || m.src.line0 < 1 {
				t.Fatalf("accepted message %+v", m)
			}
		}
		var cps problems
		vt := newCompiler(eng, root).compileVariant(vf, file, &cps)
		if (vt == nil) != (len(cps) > 0) {
			t.Fatalf("compile: variant %v with problems %v", vt, cps)
		}
		if vt != nil {
			// Rendering may fail (strict variables) but must not panic.
			vt.Render(map[string]any{"x": "<&>", "code": "c"}, "gpt-4o", FamilyOpenAI) //nolint:errcheck
		}
	})
}
