package arch

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/llmux/llmux/"

// layer ranks each internal package: a package may import only packages of
// a strictly lower layer. A package missing here fails the test, so every
// new package gets a place in the map.
var layer = map[string]int{
	"internal/api":           0,
	"internal/api/openai":    0,
	"internal/api/anthropic": 0,
	"internal/api/sse":       0,
	"internal/config":        0,
	"internal/arch":          0,
	"internal/translate":     1,
	"internal/tokens":        1,
	"internal/sim":           1,
	"internal/store":         1,
	"internal/redistest":     1,
	"codeindex":              1,
	"internal/provider":      2,
	"internal/health":        2,
	"internal/ratelimit":     2,
	"internal/prompts":       2,
	"internal/guard":         2,
	"internal/router":        3,
	"internal/failover":      4,
	"internal/gateway":       5,
	"internal/server":        6,
	"internal/bench":         7,
	"cmd/llmux":              9,
}

// sameLayerOK lists imports within one layer that the design allows: the
// api subpackages share types.
func sameLayerOK(from, to string) bool {
	return strings.HasPrefix(from, "internal/api") && strings.HasPrefix(to, "internal/api")
}

func TestDependencyDirection(t *testing.T) {
	root := filepath.Join("..", "..")
	imports := packageImports(t, root)
	for pkg, deps := range imports {
		from, ok := layer[pkg]
		if !ok {
			t.Errorf("package %s has no layer in arch_test.go; add it where DESIGN.md puts it", pkg)
			continue
		}
		for dep := range deps {
			to, ok := layer[dep]
			switch {
			case !ok:
				t.Errorf("%s imports %s, which has no layer", pkg, dep)
			case pkg == "internal/sim" && !strings.HasPrefix(dep, "internal/api"):
				t.Errorf("internal/sim imports %s; the simulator may import only internal/api", dep)
			case to >= from && !sameLayerOK(pkg, dep):
				t.Errorf("%s (layer %d) imports %s (layer %d): dependencies must point down", pkg, from, dep, to)
			}
		}
	}
	if len(imports) < 5 {
		t.Fatalf("found only %d packages; is the walk rooted right?", len(imports))
	}
}

// packageImports maps each package dir (relative to root) to the llmux
// packages its non-test files import.
func packageImports(t *testing.T, root string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if out[rel] == nil {
			out[rel] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok {
				out[rel][dep] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
