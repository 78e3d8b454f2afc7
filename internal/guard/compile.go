package guard

import (
	"fmt"

	"github.com/llmux/llmux/internal/config"
)

// compileRule checks one guardrail and builds its rule; the problems are
// messages without the guardrail's position.
func compileRule(g config.Guardrail, baseDir string) (*Rule, []string) {
	r := &Rule{Name: g.Name, Type: g.Type, Hook: g.Hook, Action: g.Action}
	var ps []string
	if g.Name == "" {
		ps = append(ps, "name is required")
	}
	if r.Hook == "" {
		r.Hook = config.HookPostCall
	}
	if r.Action == "" {
		r.Action = config.ActionDeny
	}
	ps = append(ps, hookActionProblems(r.Hook, r.Action)...)
	ps = append(ps, unusedFields(g)...)
	var check checker
	var more []string
	switch g.Type {
	case "":
		more = []string{"type is required"}
	case config.GuardRegex:
		check, more = compileRegex(g)
	case config.GuardContains:
		check, more = compileContains(g)
	case config.GuardLength:
		check, more = compileLength(g)
	case config.GuardJSON:
		check, more = compileJSON(g, baseDir)
	case config.GuardRequiredFields:
		check, more = compileFields(g)
	case config.GuardCommand:
		check, more = compileCommand(g, baseDir)
	default:
		more = []string{fmt.Sprintf("unknown type %q (want regex, contains, length, json, required_fields or command)", g.Type)}
	}
	r.check = check
	return r, append(ps, more...)
}

func hookActionProblems(hook, action string) []string {
	var ps []string
	switch hook {
	case config.HookPreCall, config.HookDuringCall, config.HookPostCall:
	default:
		ps = append(ps, fmt.Sprintf("unknown hook %q (want pre_call, during_call or post_call)", hook))
	}
	switch action {
	case config.ActionDeny, config.ActionFlag:
	case config.ActionReask:
		if hook != config.HookPostCall {
			ps = append(ps, fmt.Sprintf("action reask needs hook post_call, not %s", hook))
		}
	case config.ActionFallback:
		if hook != config.HookPostCall && hook != config.HookDuringCall {
			ps = append(ps, fmt.Sprintf("action fallback needs hook post_call or during_call, not %s", hook))
		}
	default:
		ps = append(ps, fmt.Sprintf("unknown action %q (want deny, flag, fallback or reask)", action))
	}
	return ps
}

// unusedFields reports fields set for a type that does not read them,
// which are most likely a mistake (a regex guardrail with any: ...).
func unusedFields(g config.Guardrail) []string {
	fields := []struct {
		name, typ string
		set       bool
	}{
		{"match", config.GuardRegex, len(g.Match) > 0},
		{"deny", config.GuardRegex, len(g.Deny) > 0},
		{"any", config.GuardContains, len(g.Any) > 0},
		{"all", config.GuardContains, len(g.All) > 0},
		{"none", config.GuardContains, len(g.None) > 0},
		{"ignore_case", config.GuardContains, g.IgnoreCase},
		{"min_chars", config.GuardLength, g.MinChars != 0},
		{"max_chars", config.GuardLength, g.MaxChars != 0},
		{"min_words", config.GuardLength, g.MinWords != 0},
		{"max_words", config.GuardLength, g.MaxWords != 0},
		{"schema", config.GuardJSON, g.Schema != nil},
		{"schema_file", config.GuardJSON, g.SchemaFile != ""},
		{"fields", config.GuardRequiredFields, len(g.Fields) > 0},
		{"command", config.GuardCommand, len(g.Command) > 0},
		{"timeout", config.GuardCommand, g.Timeout != 0},
	}
	known := false
	for _, f := range fields {
		known = known || f.typ == g.Type
	}
	var ps []string
	for _, f := range fields {
		if known && f.set && f.typ != g.Type {
			ps = append(ps, fmt.Sprintf("%s does not apply to type %s", f.name, g.Type))
		}
	}
	return ps
}
