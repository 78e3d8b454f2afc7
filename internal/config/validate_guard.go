package config

import (
	"fmt"
	"regexp"
	"slices"
)

const (
	guardTypes   = "regex, contains, length, json, required_fields, command"
	guardHooks   = "pre_call, during_call, post_call"
	guardActions = "deny, flag, fallback, reask"
)

// guardrails checks the guardrail definitions and returns their names.
func (v *validator) guardrails() map[string]bool {
	names := map[string]string{}
	for i := range v.c.Guardrails {
		g := &v.c.Guardrails[i]
		p := fmt.Sprintf("guardrails[%d]", i)
		v.unique(p+".name", g.Name, names, p)
		v.guardrail(p, g)
	}
	out := map[string]bool{}
	for n := range names {
		out[n] = true
	}
	return out
}

func (v *validator) guardrail(p string, g *Guardrail) {
	if !slices.Contains([]string{HookPreCall, HookDuringCall, HookPostCall}, g.Hook) {
		v.add(p+".hook", "%s is not a hook; use one of %s", v.str(p+".hook", g.Hook), guardHooks)
	}
	switch g.Action {
	case ActionDeny, ActionFlag:
	case ActionFallback:
		if g.Hook == HookPreCall {
			v.add(p+".action", "fallback needs an upstream answer or a parallel check: use it on during_call or post_call")
		}
	case ActionReask:
		if g.Hook != HookPostCall {
			v.add(p+".action", "reask retries with the answer's failure appended, so it applies to post_call only")
		}
	default:
		v.add(p+".action", "%s is not an action; use one of %s", v.str(p+".action", g.Action), guardActions)
	}
	v.regexps(p+".match", g.Match)
	v.regexps(p+".deny", g.Deny)
	atLeast0(v, p+".min_chars", g.MinChars)
	atLeast0(v, p+".max_chars", g.MaxChars)
	atLeast0(v, p+".min_words", g.MinWords)
	atLeast0(v, p+".max_words", g.MaxWords)
	atLeast0(v, p+".timeout", g.Timeout)
	switch g.Type {
	case GuardRegex:
		if len(g.Match)+len(g.Deny) == 0 {
			v.add(p, "a regex guardrail needs match or deny patterns")
		}
	case GuardContains:
		if len(g.Any)+len(g.All)+len(g.None) == 0 {
			v.add(p, "a contains guardrail needs any, all or none")
		}
	case GuardLength:
		if g.MinChars+g.MaxChars+g.MinWords+g.MaxWords == 0 {
			v.add(p, "a length guardrail needs min_chars, max_chars, min_words or max_words")
		}
	case GuardJSON:
		if g.Schema != nil && g.SchemaFile != "" {
			v.add(p+".schema_file", "set schema or schema_file, not both")
		}
		if _, ok := g.Schema.(map[string]any); g.Schema != nil && !ok {
			v.add(p+".schema", "must be a JSON Schema object")
		}
	case GuardRequiredFields:
		if len(g.Fields) == 0 {
			v.add(p+".fields", "required: the dotted paths that must be present")
		}
	case GuardCommand:
		if len(g.Command) == 0 || g.Command[0] == "" {
			v.add(p+".command", "required: the program and its arguments")
		}
	default:
		v.add(p+".type", "%s is not a guardrail type; use one of %s", v.str(p+".type", g.Type), guardTypes)
	}
}

func (v *validator) regexps(p string, list []string) {
	for i, s := range list {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if _, err := regexp.Compile(s); err != nil {
			v.add(ip, "not a valid regular expression: %v", err)
		}
	}
}

// guardrailRefs checks that routes and keys name defined guardrails.
func (v *validator) guardrailRefs(defined map[string]bool) {
	check := func(p string, names []string) {
		for j, n := range names {
			np := fmt.Sprintf("%s.guardrails[%d]", p, j)
			if v.required(np, n) && !defined[n] {
				v.add(np, "%s is not defined in guardrails", v.str(np, n))
			}
		}
	}
	for i, r := range v.c.Routes {
		check(fmt.Sprintf("routes[%d]", i), r.Guardrails)
	}
	for i, k := range v.c.Keys {
		check(fmt.Sprintf("keys[%d]", i), k.Guardrails)
	}
}

// promptsAndSecrets checks the prompts and secrets sections.
func (v *validator) promptsAndSecrets() {
	if p := v.c.Prompts; p != nil {
		v.required("prompts.dir", p.Dir)
	}
	v.regexps("secrets.allow", v.c.Secrets.Allow)
}
