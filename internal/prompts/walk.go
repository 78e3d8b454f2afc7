package prompts

import (
	"fmt"
	"maps"

	controls "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// walker visits a compiled template's tree, following includes into
// partials, and reports what the checks in compile and Lint need. Each
// callback may be nil. Statements gonja implements with unexported fields
// (set, with, macro, ...) are reported to statement but not entered.
type walker struct {
	// variable is called for each name read that is not bound by an
	// enclosing {% for %}.
	variable func(s source, tok *tokens.Token, name string)
	filter   func(s source, tok *tokens.Token, name string)
	test     func(s source, tok *tokens.Token, name string)
	// statement is called for syntax beyond the portable subset
	// ({{identifier}}, {% if %}, {% for %}, {% include %}).
	statement func(s source, tok *tokens.Token, what string)
	// include is called for each partial included.
	include func(pt *partial)
	// skipIncludes keeps the walk inside one file.
	skipIncludes bool
}

func (w *walker) template(s source, ns []nodes.Node, bound map[string]bool) {
	for _, n := range ns {
		w.node(s, n, bound)
	}
}

func (w *walker) node(s source, n nodes.Node, bound map[string]bool) {
	switch n := n.(type) {
	case *nodes.Output:
		if _, plainName := n.Expression.(*nodes.Name); !plainName || n.Condition != nil {
			w.report(s, n.Start, "{{ }} with "+describeExpr(n))
		}
		w.expr(s, n.Expression, bound)
		w.expr(s, n.Condition, bound)
		w.expr(s, n.Alternative, bound)
	case *nodes.ControlStructureBlock:
		w.block(s, n, bound)
	case *nodes.Wrapper:
		w.template(s, n.Nodes, bound)
	}
}

func (w *walker) block(s source, b *nodes.ControlStructureBlock, bound map[string]bool) {
	switch cs := b.ControlStructure.(type) {
	case *controls.IfControlStructure:
		for _, c := range cs.Conditions {
			w.expr(s, c, bound)
		}
		for _, wr := range cs.Wrappers {
			w.node(s, wr, bound)
		}
	case *controls.ForControlStructure:
		w.expr(s, cs.ObjectEvaluator, bound)
		inner := maps.Clone(bound)
		if inner == nil {
			inner = map[string]bool{}
		}
		inner[cs.Key] = true
		inner["loop"] = true
		if cs.Value != "" {
			inner[cs.Value] = true
		}
		w.expr(s, cs.IfCondition, inner)
		if cs.BodyWrapper != nil {
			w.node(s, cs.BodyWrapper, inner)
		}
		if cs.EmptyWrapper != nil {
			w.node(s, cs.EmptyWrapper, bound)
		}
	case *includeNode:
		if w.include != nil {
			w.include(cs.partial)
		}
		if !w.skipIncludes && cs.partial.tmpl != nil {
			w.template(source{file: cs.partial.file, line0: 1}, cs.partial.tmpl.Root().Nodes, bound)
		}
	default:
		w.report(s, b.Location, fmt.Sprintf("{%% %s %%}", b.Name))
	}
}

func (w *walker) report(s source, tok *tokens.Token, what string) {
	if w.statement != nil {
		w.statement(s, tok, what)
	}
}

func (w *walker) expr(s source, e nodes.Node, bound map[string]bool) {
	switch e := e.(type) {
	case nil:
	case *nodes.Name:
		if !bound[e.Name.Val] && w.variable != nil {
			w.variable(s, e.Name, e.Name.Val)
		}
	case *nodes.FilteredExpression:
		w.expr(s, e.Expression, bound)
		for _, f := range e.Filters {
			if w.filter != nil {
				w.filter(s, f.Token, f.Name)
			}
			w.exprs(s, f.Args, f.Kwargs, bound)
		}
	case *nodes.TestExpression:
		w.expr(s, e.Expression, bound)
		if e.Test != nil {
			if w.test != nil {
				w.test(s, e.Test.Token, e.Test.Name)
			}
			w.exprs(s, e.Test.Args, e.Test.Kwargs, bound)
		}
	case *nodes.BinaryExpression:
		w.expr(s, e.Left, bound)
		w.expr(s, e.Right, bound)
	case *nodes.UnaryExpression:
		w.expr(s, e.Term, bound)
	case *nodes.Negation:
		w.expr(s, e.Term, bound)
	case *nodes.Call:
		w.expr(s, e.Func, bound)
		w.exprs(s, e.Args, e.Kwargs, bound)
	case *nodes.GetItem:
		w.expr(s, e.Node, bound)
		w.expr(s, e.Arg, bound)
	case *nodes.GetSlice:
		w.expr(s, e.Node, bound)
		w.expr(s, e.Start, bound)
		w.expr(s, e.End, bound)
		w.expr(s, e.Step, bound)
	case *nodes.GetAttribute:
		w.expr(s, e.Node, bound)
	case *nodes.List:
		w.exprs(s, e.Val, nil, bound)
	case *nodes.Tuple:
		w.exprs(s, e.Val, nil, bound)
	case *nodes.Dict:
		for _, p := range e.Pairs {
			w.expr(s, p.Key, bound)
			w.expr(s, p.Value, bound)
		}
	case *nodes.Pair:
		w.expr(s, e.Key, bound)
		w.expr(s, e.Value, bound)
	}
}

func (w *walker) exprs(s source, args []nodes.Expression, kwargs map[string]nodes.Expression, bound map[string]bool) {
	for _, a := range args {
		w.expr(s, a, bound)
	}
	for _, a := range kwargs {
		w.expr(s, a, bound)
	}
}

// describeExpr names what makes an output non-portable.
func describeExpr(o *nodes.Output) string {
	if o.Condition != nil {
		return "an inline if"
	}
	switch e := o.Expression.(type) {
	case *nodes.FilteredExpression:
		return fmt.Sprintf("filter %q", e.Filters[0].Name)
	case *nodes.GetAttribute, *nodes.GetItem, *nodes.GetSlice:
		return "attribute or item access"
	case *nodes.Call:
		return "a function call"
	default:
		return "an expression"
	}
}
