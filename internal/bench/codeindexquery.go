package bench

import (
	"cmp"
	"go/ast"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// query is one retrieval question of the codeindex benchmark: the first
// sentence of an exported function's doc comment without the function's
// name. Its answer is the function: a hit is right when it is in path and
// its lines include line, the line of the func keyword.
type query struct {
	text string
	path string // slash-separated, relative to the corpus root
	line int
	name string // Name, or Recv.Name for a method
	// generated is set when the file is generated (ast.IsGenerated): an
	// index that skips generated files cannot answer the query.
	generated bool
}

// minQueryWords is the fewest words a query keeps; shorter ones say too
// little to have one answer ("returns the length.").
const minQueryWords = 3

// querySeed seeds the sample of --queries, so that runs compare.
const querySeed = 1

// queryExtractor turns doc comments into queries. It holds the parsing
// state one file set and one go/doc package share; not safe for
// concurrent use.
type queryExtractor struct {
	fset *token.FileSet
	pkg  *doc.Package // empty: only its Synopsis is used
	// links parses every [Name], [Recv.Name] and [pkg.Name] as a doc
	// link, so that the printed sentence drops the brackets as go doc
	// does; an empty doc.Package knows no symbol and keeps them.
	links *comment.Parser
}

func newQueryExtractor() *queryExtractor {
	return &queryExtractor{fset: token.NewFileSet(), pkg: &doc.Package{}, links: &comment.Parser{
		LookupPackage: func(name string) (string, bool) { return name, true },
		LookupSym:     func(string, string) bool { return true },
	}}
}

// synopsis returns the first sentence of a doc comment's text, cleaned
// as go/doc does, with doc links' brackets dropped.
func (ex *queryExtractor) synopsis(text string) string {
	pr := &comment.Printer{TextWidth: -1}
	return strings.Join(strings.Fields(string(pr.Text(ex.links.Parse(ex.pkg.Synopsis(text))))), " ")
}

// fileQueries returns the queries of one file's exported functions and
// methods (on exported types) that have a doc comment, and how many it
// dropped for having fewer than minQueryWords words, and whether the
// file is generated. The file set retains only line tables; the syntax
// tree is dropped on return.
func (ex *queryExtractor) fileQueries(rel string, src []byte) (qs []query, short int, generated bool, err error) {
	f, err := parser.ParseFile(ex.fset, rel, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, 0, false, err
	}
	generated = ast.IsGenerated(f)
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Doc == nil || !fd.Name.IsExported() {
			continue
		}
		name, recv := fd.Name.Name, ""
		if fd.Recv != nil {
			recv = receiverType(fd.Recv)
			if !ast.IsExported(recv) {
				continue
			}
			name = recv + "." + name
		}
		text := queryText(ex.synopsis(fd.Doc.Text()), fd.Name.Name, recv)
		if countWords(text) < minQueryWords {
			short++
			continue
		}
		qs = append(qs, query{text: text, path: rel, line: ex.fset.Position(fd.Type.Func).Line, name: name, generated: generated})
	}
	return qs, short, generated, nil
}

// receiverType returns the name of a method's receiver base type: T for
// T, *T, T[K] and *T[K, V].
func receiverType(recv *ast.FieldList) string {
	if len(recv.List) == 0 {
		return ""
	}
	t := recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.ParenExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// queryText removes the function's name from sentence and normalizes
// the spaces. The name goes where it stands as a whole word, and where
// its receiver qualifies it (recv.Name: the same function); another
// qualifier (io.Reader.Read, fs.FileInfo) names another identifier,
// which stays.
func queryText(sentence, name, recv string) string {
	var b strings.Builder
	rest := sentence
	for {
		i := strings.Index(rest, name)
		if i < 0 {
			b.WriteString(rest)
			break
		}
		end := i + len(name)
		switch {
		case isWordByteBefore(rest, i) || isWordByteAfter(rest, end):
			b.WriteString(rest[:end]) // part of a longer word
		case i > 0 && rest[i-1] == '.':
			qual := rest[:i-1]
			q := strings.LastIndexFunc(qual, func(r rune) bool { return !isWordRune(r) }) + 1
			if recv != "" && qual[q:] == recv && !(q > 0 && qual[q-1] == '.') {
				b.WriteString(qual[:q])
			} else {
				b.WriteString(rest[:end])
			}
		default:
			b.WriteString(rest[:i])
		}
		rest = rest[end:]
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func isWordByteBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return i > 0 && isWordRune(r)
}

func isWordByteAfter(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return i < len(s) && isWordRune(r)
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// countWords counts the space-separated fields that hold a letter or a
// digit, so that a lone "." left by the name's removal is no word.
func countWords(s string) int {
	n := 0
	for _, f := range strings.Fields(s) {
		if strings.IndexFunc(f, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			n++
		}
	}
	return n
}

// querySet is the queries a run asks, with how they were chosen.
type querySet struct {
	queries []query
	// Candidates counts the queries before duplicates were dropped;
	// DupQueries the queries dropped because another function has the
	// same text, DupTexts the distinct texts among them; Available the
	// queries left, of which Sampled were kept (all, without --queries).
	Candidates, DupQueries, DupTexts, Available int
}

// dedupeQueries drops every query whose text is shared by another
// function (no single answer) and, if n > 0 and fewer than the rest,
// keeps a sample of n chosen with querySeed. The result is sorted by
// path and line.
func dedupeQueries(cands []query, n int) querySet {
	count := map[string]int{}
	for _, q := range cands {
		count[q.text]++
	}
	s := querySet{Candidates: len(cands)}
	for _, q := range cands {
		if count[q.text] > 1 {
			s.DupQueries++
			continue
		}
		s.queries = append(s.queries, q)
	}
	for _, c := range count {
		if c > 1 {
			s.DupTexts++
		}
	}
	sortQueries(s.queries)
	s.Available = len(s.queries)
	if n > 0 && n < len(s.queries) {
		rng := rand.New(rand.NewPCG(querySeed, querySeed))
		rng.Shuffle(len(s.queries), func(i, j int) { s.queries[i], s.queries[j] = s.queries[j], s.queries[i] })
		s.queries = s.queries[:n]
		sortQueries(s.queries)
	}
	return s
}

func sortQueries(qs []query) {
	slices.SortFunc(qs, func(a, b query) int {
		return cmp.Or(strings.Compare(a.path, b.path), cmp.Compare(a.line, b.line))
	})
}
