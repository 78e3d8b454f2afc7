package prompts

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	gonjaconfig "github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// This file compiles templates with gonja, once, at load. gonja's own
// {% include %} reads and parses the included file on every render and
// loops forever on a cycle; ours (includeNode) parses each partial once
// per load, reports cycles and missing files as load problems, and only
// walks the parsed tree when rendering.

// partialsDir is where include paths must point, relative to the prompts
// directory (or to a frozen copy).
const partialsDir = "_partials"

// allowed are the gonja statements a prompt may use besides include.
// Statements that load other templates (extends, import, from) are left
// out because they would bypass load-time checks; autoescape because
// prompts are never HTML-escaped.
var allowed = []string{"if", "for", "set", "with", "raw", "macro", "call", "filter", "break", "continue"}

var refused = []string{"extends", "block", "import", "from", "autoescape", "trans", "do"}

// engine is what every template of one load shares: strict undefined
// variables, no autoescape, and gonja's filters, tests and globals (copied
// so that renders do not contend on gonja's package-level sets).
type engine struct {
	cfg     *gonjaconfig.Config
	filters *exec.FilterSet
	tests   *exec.TestSet
	globals *exec.Context
}

func newEngine() *engine {
	cfg := gonjaconfig.New()
	cfg.StrictUndefined = true
	cfg.AutoEscape = false
	return &engine{
		cfg:     cfg,
		filters: exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters),
		tests:   exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests),
		globals: exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables),
	}
}

// compiler compiles the templates of the versions whose include paths
// resolve against root: the prompts directory for current versions, the
// frozen copy for a frozen one. It caches partials, so each is parsed
// once per compiler.
type compiler struct {
	eng      *engine
	root     string
	env      *exec.Environment
	partials map[string]*partial
	// stack holds the partials being parsed, outermost first, to find
	// include cycles.
	stack []string
}

// partial is a compiled file under _partials/.
type partial struct {
	rel  string // as included: "_partials/scope.j2"
	file string // path for problems
	tmpl *exec.Template
	size int // text length
	// problem is why it did not compile; tmpl is nil then.
	problem *Problem
}

func newCompiler(eng *engine, root string) *compiler {
	c := &compiler{eng: eng, root: root, partials: map[string]*partial{}}
	structures := map[string]parser.ControlStructureParser{"include": c.parseInclude}
	for _, name := range allowed {
		if p, ok := builtins.ControlStructures.Get(name); ok {
			structures[name] = p
		}
	}
	for _, name := range refused {
		structures[name] = refuse(name)
	}
	c.env = &exec.Environment{
		Context:           eng.globals,
		Filters:           eng.filters,
		Tests:             eng.tests,
		ControlStructures: exec.NewControlStructureSet(structures),
		Methods:           builtins.Methods,
	}
	return c
}

func refuse(name string) parser.ControlStructureParser {
	return func(_ *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		return nil, syntaxError(args.Current(), fmt.Sprintf("{%% %s %%} is not supported in prompt templates", name))
	}
}

// compile parses one template. Problems name the file and line of src.
func (c *compiler) compile(src source, text string) (t *exec.Template, p *Problem) {
	defer func() {
		// gonja's parser panics on some malformed input ({% if x is %});
		// a reload must report it, not take the gateway down.
		if r := recover(); r != nil {
			t, p = nil, &Problem{File: src.file, Line: src.line0, Message: fmt.Sprintf("template: the template parser failed (%v); check the syntax", r), Severity: SeverityError}
		}
	}()
	t, err := exec.NewTemplate(src.file, c.eng.cfg, textLoader(text), c.env)
	if err != nil {
		return nil, c.parseProblem(src, err)
	}
	if p := c.checkNames(src, t); p != nil {
		return nil, p
	}
	return t, nil
}

func (c *compiler) parseProblem(src source, err error) *Problem {
	var inc *includeFailure
	if errors.As(err, &inc) {
		return &inc.problem
	}
	p := &Problem{File: src.file, Line: src.line0, Severity: SeverityError}
	var se *parser.SyntaxError
	if errors.As(err, &se) {
		p.Line = src.line(se.Line)
		p.Message = "template: " + se.Message
		if se.Raw != "" {
			p.Message += fmt.Sprintf(" (near %q)", se.Raw)
		}
		return p
	}
	// NewTemplate wraps the parser's error in one that quotes the whole
	// source; drop it.
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	p.Message = "template: " + err.Error()
	return p
}

// checkNames reports the first filter or test that gonja does not have;
// gonja itself would fail only when rendering.
func (c *compiler) checkNames(src source, t *exec.Template) *Problem {
	var p *Problem
	w := walker{
		filter: func(s source, tok *tokens.Token, name string) {
			if p == nil && !c.eng.filters.Exists(name) {
				p = &Problem{File: s.file, Line: s.line(tokLine(tok)), Message: fmt.Sprintf("template: unknown filter %q", name), Severity: SeverityError}
			}
		},
		test: func(s source, tok *tokens.Token, name string) {
			if p == nil && !c.eng.tests.Exists(name) {
				p = &Problem{File: s.file, Line: s.line(tokLine(tok)), Message: fmt.Sprintf("template: unknown test %q", name), Severity: SeverityError}
			}
		},
		skipIncludes: true, // checked when the partial compiled
	}
	w.template(src, t.Root().Nodes, nil)
	return p
}

// parseInclude parses {% include "_partials/x.j2" %}: one literal path
// under _partials/, compiled now.
func (c *compiler) parseInclude(_ *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	tok := args.Match(tokens.String)
	if tok == nil || !args.End() {
		return nil, syntaxError(args.Current(), `include takes one quoted path, e.g. {% include "_partials/scope.j2" %}`)
	}
	rel := tok.Val
	if clean := path.Clean(rel); clean != rel || !strings.HasPrefix(rel, partialsDir+"/") {
		return nil, syntaxError(tok, fmt.Sprintf("include %q: want a path under %s/, e.g. %s/scope.j2", rel, partialsDir, partialsDir))
	}
	if i := slices.Index(c.stack, rel); i >= 0 {
		cycle := append(slices.Clone(c.stack[i:]), rel)
		return nil, syntaxError(tok, "include cycle: "+strings.Join(cycle, " -> "))
	}
	pt, ok := c.partials[rel]
	if !ok {
		var err error
		if pt, err = c.loadPartial(rel); err != nil {
			return nil, syntaxError(tok, err.Error())
		}
	}
	if pt.problem != nil {
		return nil, &includeFailure{problem: *pt.problem}
	}
	return &includeNode{tok: tok, partial: pt}, nil
}

// loadPartial reads and compiles a partial and caches the result, good or
// bad. It returns an error only when the file cannot be read; that is
// reported at the include, and not cached.
func (c *compiler) loadPartial(rel string) (*partial, error) {
	file := filepath.Join(c.root, filepath.FromSlash(rel))
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("missing partial %q (no file %s)", rel, file)
	}
	if err != nil {
		return nil, fmt.Errorf("partial %q: %w", rel, err)
	}
	c.stack = append(c.stack, rel)
	tmpl, prob := c.compile(source{file: file, line0: 1}, string(data))
	c.stack = c.stack[:len(c.stack)-1]
	pt := &partial{rel: rel, file: file, tmpl: tmpl, size: len(data), problem: prob}
	c.partials[rel] = pt
	return pt, nil
}

// syntaxError is a parse error at tok's line. Unlike parser.Error it
// does not quote the token: our messages name what they are about.
func syntaxError(tok *tokens.Token, msg string) error {
	return &parser.SyntaxError{Message: msg, Line: tokLine(tok)}
}

// includeFailure carries a problem found inside a partial up through the
// includer's parse, so it is reported at the partial's file:line.
type includeFailure struct{ problem Problem }

func (e *includeFailure) Error() string { return e.problem.String() }

// includeNode is a compiled {% include %}.
type includeNode struct {
	tok     *tokens.Token
	partial *partial
}

var _ exec.ControlStructure = (*includeNode)(nil)

func (n *includeNode) Position() *tokens.Token { return n.tok }

func (n *includeNode) String() string { return fmt.Sprintf("include(%s)", n.partial.rel) }

// Execute renders the partial with the includer's variables; names it
// sets stay inside it, as in Jinja.
func (n *includeNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	env := *r.Environment
	env.Context = r.Environment.Context.Inherit()
	if err := run(r.Config, &env, n.partial.tmpl, r.Output); err != nil {
		return &includeError{partial: n.partial, err: err}
	}
	return nil
}

// run renders t. It builds gonja's Renderer itself: Template.Execute and
// NewRenderer would also copy the config, copy the variables into a new
// context and build a map of the template's blocks (which prompts cannot
// have) on every call, which was a third of the render time.
func run(cfg *gonjaconfig.Config, env *exec.Environment, t *exec.Template, w io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the template engine failed: %v", r)
		}
	}()
	r := &exec.Renderer{
		Config:      cfg,
		Environment: env,
		Loader:      textLoader(""),
		Template:    t,
		RootNode:    t.Root(),
		Output:      w,
	}
	return r.Execute()
}

// includeError is a render error inside a partial; it says which.
type includeError struct {
	partial *partial
	err     error
}

func (e *includeError) Error() string {
	return fmt.Sprintf("in %s: %v", e.partial.rel, e.err)
}

func (e *includeError) Unwrap() error { return e.err }

// textLoader hands gonja a template's text; the name is ignored, since
// includes never reach the loader.
type textLoader string

var _ loaders.Loader = textLoader("")

func (l textLoader) Read(string) (io.Reader, error)         { return strings.NewReader(string(l)), nil }
func (l textLoader) Resolve(name string) (string, error)    { return name, nil }
func (l textLoader) Inherit(string) (loaders.Loader, error) { return l, nil }

func tokLine(tok *tokens.Token) int {
	if tok == nil {
		return 0
	}
	return tok.Line
}
