package bench

import (
	"bytes"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBlankComments(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"line comment", "x := 1 // one\ny := 2\n", "x := 1       \ny := 2\n"},
		{"doc comment", "// Package p.\npackage p\n", "             \npackage p\n"},
		{"block over lines", "a /* one\n two */ b\n", "a       \n        b\n"},
		{"block in a line", "f(a /* x */, b)\n", "f(a        , b)\n"},
		{"string is not a comment", "s := \"// no /* no */\" // yes\n", "s := \"// no /* no */\"       \n"},
		{"raw string", "s := `/* no\n// no */` /* yes */\n", "s := `/* no\n// no */`          \n"},
		{"rune", "r := '/' // slash\n", "r := '/'         \n"},
		{"division", "x := a / b /c\n", "x := a / b /c\n"},
		{"utf-8 kept byte for byte", "x // größe\n", "x " + strings.Repeat(" ", len("// größe")) + "\n"},
		{"crlf", "x // c\r\ny\r\n", "x      \ny\r\n"},
		{"comment at eof", "x // end", "x       "},
		{"unterminated block", "x /* open\nstill", "x        \n     "},
		{"directive", "//go:build linux\n\npackage p\n", "                \n\npackage p\n"},
		{"after semicolon insertion", "return x // why\n}\n", "return x       \n}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := blankComments([]byte(tc.src))
			if string(got) != tc.want {
				t.Errorf("blankComments(%q)\n got %q\nwant %q", tc.src, got, tc.want)
			}
			if len(got) != len(tc.src) {
				t.Errorf("length %d, want %d", len(got), len(tc.src))
			}
			changed := 0
			for i := range got {
				if got[i] != tc.src[i] {
					changed++
				}
			}
			if n < changed {
				t.Errorf("reported %d bytes blanked, %d changed", n, changed)
			}
		})
	}
}

// TestBlankCommentsStdlib checks blanking on real files: same length, the
// same newlines, no comment left, and the same code tokens.
func TestBlankCommentsStdlib(t *testing.T) {
	root := stdlibDir(t, "strings")
	files, err := filepath.Glob(filepath.Join(root, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s: %v", root, err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, n := blankComments(src)
		if len(out) != len(src) || n == 0 {
			t.Errorf("%s: length %d, want %d; %d bytes blanked", f, len(out), len(src), n)
			continue
		}
		for i := range src {
			if (src[i] == '\n') != (out[i] == '\n') {
				t.Fatalf("%s: newline moved at offset %d", f, i)
			}
		}
		codeIn, commentsIn := codeTokens(t, src)
		codeOut, commentsOut := codeTokens(t, out)
		if commentsIn == 0 || commentsOut != 0 {
			t.Errorf("%s: %d comments before, %d after blanking", f, commentsIn, commentsOut)
		}
		if !slices.Equal(codeIn, codeOut) {
			t.Errorf("%s: the code tokens changed", f)
		}
	}
}

// codeTokens returns src's tokens other than comments and automatic
// semicolons, each with its offset, and the number of comments.
func codeTokens(t *testing.T, src []byte) ([]string, int) {
	t.Helper()
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	var s scanner.Scanner
	s.Init(file, src, func(pos token.Position, msg string) { t.Errorf("scan: %s: %s", pos, msg) }, scanner.ScanComments)
	var out []string
	comments := 0
	for {
		pos, tok, lit := s.Scan()
		switch {
		case tok == token.EOF:
			return out, comments
		case tok == token.COMMENT:
			comments++
		case tok == token.SEMICOLON && lit == "\n":
		default:
			out = append(out, file.Position(pos).String()+" "+tok.String()+" "+lit)
		}
	}
}

func TestSelectCorpus(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a.go", "a_test.go", "b.txt", "p/c.go", "p/testdata/d.go", "vendor/x/e.go", "p/vendor/f.go", ".git/g.go", "_gen/h.go"} {
		if err := writeFile(filepath.Join(root, f), []byte("package x\n")); err != nil {
			t.Fatal(err)
		}
	}
	files, err := selectCorpus(root)
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, f := range files {
		rels = append(rels, f.rel)
	}
	if want := []string{"_gen/h.go", "a.go", "p/c.go"}; !slices.Equal(rels, want) {
		t.Errorf("corpus %v, want %v", rels, want)
	}
}

// TestEditFileKeepsLink checks that editing a corpus file that is a hard
// link to the source leaves the source alone.
func TestEditFileKeepsLink(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.go"), filepath.Join(dir, "corpus", "src.go")
	if err := os.WriteFile(src, []byte("package x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	linked, err := placeFile(src, dst, []byte("package x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := editFile(dst, "func f() {}\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	orig, _ := os.ReadFile(src)
	if string(got) != "package x\nfunc f() {}\n" || string(orig) != "package x\n" {
		t.Errorf("linked %v: corpus %q, source %q", linked, got, orig)
	}
	ents, _ := os.ReadDir(filepath.Dir(dst))
	if len(ents) != 1 {
		t.Errorf("edit left %d files in the corpus directory", len(ents))
	}
}

func TestBuildCorpus(t *testing.T) {
	root := t.TempDir()
	writeFile(filepath.Join(root, "shapes", "shapes.go"), []byte(synthetic))
	writeFile(filepath.Join(root, "other", "other.go"), []byte(other))
	writeFile(filepath.Join(root, "broken", "broken.go"), []byte("package broken // half\nfunc {"))
	work := t.TempDir()
	c, err := buildCorpus(t.Context(), root, filepath.Join(work, "code"), filepath.Join(work, "blanked"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.files) != 3 || c.bytes != int64(len(synthetic)+len(other)+len("package broken // half\nfunc {")) {
		t.Errorf("%d files, %d bytes", len(c.files), c.bytes)
	}
	if len(c.candidates) != 9 || c.short != 1 || c.parseErrs != 1 || c.largest.rel != "shapes/shapes.go" {
		t.Errorf("%d candidates, %d short, %d parse errors, largest %s", len(c.candidates), c.short, c.parseErrs, c.largest.rel)
	}
	code, _ := os.ReadFile(filepath.Join(work, "code", "shapes", "shapes.go"))
	blanked, _ := os.ReadFile(filepath.Join(work, "blanked", "shapes", "shapes.go"))
	if string(code) != synthetic || len(blanked) != len(synthetic) || bytes.Contains(blanked, []byte("square metres")) {
		t.Errorf("corpus copies wrong:\n%s\n%s", code, blanked)
	}
}

// stdlibDir returns $(go env GOROOT)/src/pkg, skipping the test without
// the go command.
func stdlibDir(t *testing.T, pkg string) string {
	t.Helper()
	goroot, err := goEnvGOROOT(t.Context())
	if err != nil {
		t.Skip(err)
	}
	return filepath.Join(goroot, "src", pkg)
}
