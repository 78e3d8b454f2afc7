package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/guard"
	"github.com/llmux/llmux/internal/provider"
)

// Guardrail headers: what the guardrails did (rule:outcome, comma
// separated) and which secret rules fired in the request.
const (
	headerGuardrails = "x-llmux-guardrails"
	headerRedacted   = "x-llmux-redacted"
)

// callGuards are the guardrails that apply to one call, by hook.
type callGuards struct {
	pre, during, post []*guard.Rule
	// redact: secrets are replaced by placeholders before sending.
	redact bool
}

// guardsFor collects the guardrails of c's route, key and prompt.
func (g *Gateway) guardsFor(c *call) (*callGuards, *apiError) {
	cg := &callGuards{}
	if r := g.cfgRoute(c.route); r.RedactSecrets == nil || *r.RedactSecrets {
		cg.redact = g.redactor != nil
	}
	if g.guards == nil || c.op != provider.OpChat {
		return cg, nil
	}
	var lists [][]string
	lists = append(lists, g.cfgRoute(c.route).Guardrails, c.key.Guardrails)
	if c.prompt != nil && c.prompt.version != nil {
		lists = append(lists, c.prompt.version.Guardrails)
	}
	rules, err := g.guards.Select(lists...)
	if err != nil {
		return nil, &apiError{status: http.StatusInternalServerError, code: "guardrail_not_configured",
			message: "This request's guardrails are misconfigured: " + err.Error()}
	}
	for _, r := range rules {
		switch r.Hook {
		case hookPre:
			cg.pre = append(cg.pre, r)
		case hookDuring:
			cg.during = append(cg.during, r)
		default:
			cg.post = append(cg.post, r)
		}
	}
	return cg, nil
}

// protect readies a payload to leave: secrets redacted (the vault keeps
// them for the answer), then the pre_call checks on its messages.
func (g *Gateway) protect(ctx context.Context, c *call, p *payload) *apiError {
	cg := c.guards
	if cg == nil {
		return nil
	}
	if cg.redact {
		body, vault, err := g.redactor.Redact(p.body)
		if err != nil {
			return errBadRequest("messages", "Could not scan the request for secrets: "+err.Error())
		}
		if vault != nil {
			p.body, p.vault = body, vault
			p.notes = append(p.notes, "secrets:redacted")
			for _, r := range vault.Rules() {
				g.metrics.redactions.WithLabelValues(r).Inc()
			}
		}
	}
	if len(cg.pre) == 0 {
		return nil
	}
	fails := guard.Run(ctx, cg.pre, hookPre, inputText(c.f, p))
	g.countFailures(fails, hookPre)
	notes, deny := verdict(fails)
	p.notes = append(p.notes, notes...)
	if deny != nil {
		return denied(hookPre, deny)
	}
	return nil
}

// verdict sorts failed checks into header notes and the first denial.
// A fallback or reask failure is returned like a denial; the caller
// decides what it means at its hook.
func verdict(fails []guard.Result) (notes []string, stop *guard.Result) {
	for i := range fails {
		f := &fails[i]
		notes = append(notes, f.Rule+":"+outcomeWord(f.Action))
		if f.Action != actionFlag && stop == nil {
			stop = f
		}
	}
	return notes, stop
}

func outcomeWord(action string) string {
	switch action {
	case actionFlag:
		return "flagged"
	case actionFallback:
		return "fallback"
	case actionReask:
		return "reask"
	}
	return "denied"
}

// denied is the client's answer to a guardrail's deny: a 422 in the
// client's format naming the rule and why.
func denied(hook string, r *guard.Result) *apiError {
	what := "the request"
	if hook != hookPre {
		what = "the answer"
	}
	return &apiError{status: http.StatusUnprocessableEntity, code: "guardrail_denied", param: r.Rule,
		message: fmt.Sprintf("Guardrail %s (%s) rejected %s: %s", quote(r.Rule), hook, what, r.Reason)}
}

// inputText is the text of a payload's messages, for input checks.
func inputText(f format, p *payload) string {
	texts, _ := promptTexts(f, p)
	return strings.Join(nonEmpty(texts), "\n")
}

func nonEmpty(ss []string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// answerText is the text of a non-streamed answer in the client's
// format: the first choice's message (OpenAI), the text blocks
// (Anthropic).
func answerText(f format, body []byte) string {
	if f == formatAnthropic {
		var b strings.Builder
		for _, blk := range gjson.GetBytes(body, "content").Array() {
			if blk.Get("type").Str == "text" {
				b.WriteString(blk.Get("text").Str)
			}
		}
		return b.String()
	}
	return gjson.GetBytes(body, "choices.0.message.content").Str
}

// reaskPayload is p with the failed answer and the failure appended, for
// one more try on the same deployment (post_call action reask).
func reaskPayload(f format, p *payload, answer string, fail *guard.Result) (*payload, error) {
	note := fmt.Sprintf("Your previous answer failed the check %q: %s. Answer again, fixing that; reply with the corrected answer only.", fail.Rule, fail.Reason)
	body, err := sjson.SetBytes(p.body, "messages.-1", wireMessage{Role: "assistant", Content: answer})
	if err != nil {
		return nil, err
	}
	if body, err = sjson.SetBytes(body, "messages.-1", wireMessage{Role: "user", Content: note}); err != nil {
		return nil, err
	}
	return &payload{body: body, vault: p.vault, variant: p.variant, notes: p.notes}, nil
}

// reask is a retry of one deployment with a reask payload.
type reask struct {
	deployment string
	p          *payload
}

// guardHeaders writes the guardrail notes and redaction rules.
func guardHeaders(h http.Header, c *call, p *payload, more []string) {
	notes := append(append(p.notes[:len(p.notes):len(p.notes)], c.attemptNotes()...), more...)
	if len(notes) > 0 {
		h.Set(headerGuardrails, strings.Join(notes, ","))
	}
	if p.vault != nil {
		h.Set(headerRedacted, strings.Join(p.vault.Rules(), ","))
	}
}

// during runs the during_call checks on p's input while the upstream
// call proceeds; the answer is held until the result is read. It
// returns nil when there are none.
func (g *Gateway) during(ctx context.Context, c *call, p *payload) <-chan []guard.Result {
	if c.guards == nil || len(c.guards.during) == 0 {
		return nil
	}
	ch := make(chan []guard.Result, 1)
	text := inputText(c.f, p)
	go func() { ch <- guard.Run(ctx, c.guards.during, hookDuring, text) }()
	return ch
}

// checkStarted runs the guardrails on an attempt that has its first
// token: it waits for the during_call checks and, on a non-streamed
// answer, runs the post_call checks. ok false: the attempt ends with r.
func (g *Gateway) checkStarted(ctx context.Context, c *call, s *started, checks <-chan []guard.Result) (r attemptResult, ok bool) {
	if checks != nil {
		var fails []guard.Result
		select {
		case fails = <-checks:
		case <-ctx.Done():
			g.abandon(s)
			return attemptResult{done: true, out: outcome{status: 499, deployment: s.up.dep.Name, reason: "client_closed"}}, false
		}
		g.countFailures(fails, hookDuring)
		notes, stop := verdict(fails)
		s.notes = append(s.notes, notes...)
		if stop != nil {
			return g.guardStop(c, s, hookDuring, stop, ""), false
		}
	}
	if c.stream || c.guards == nil || len(c.guards.post) == 0 {
		return attemptResult{}, true
	}
	answer := answerText(c.f, s.out)
	fails := guard.Run(ctx, c.guards.post, hookPost, answer)
	g.countFailures(fails, hookPost)
	notes, stop := verdict(fails)
	s.notes = append(s.notes, notes...)
	if stop == nil {
		return attemptResult{}, true
	}
	return g.guardStop(c, s, hookPost, stop, answer), false
}

// guardStop ends an attempt whose input or answer failed a check, by the
// check's action: fallback moves on to the next candidate (which renders
// its own variant), reask retries the deployment once with the failure
// appended (a second failure denies), deny answers the client with 422.
// The upstream itself did its job: it is settled and counted a success.
func (g *Gateway) guardStop(c *call, s *started, hook string, f *guard.Result, answer string) attemptResult {
	name := s.up.dep.Name
	if !c.stream {
		g.settle(s.up, s.res, s.u, s.u != (usage{}))
	}
	g.abandon(s)
	g.health.Success(name)
	switch f.Action {
	case actionFallback:
		c.note(f.Rule + ":fallback")
		return attemptResult{failure: attemptFailure{deployment: name, clientErr: denied(hook, f)}}
	case actionReask:
		if !c.reasked {
			c.reasked = true
			c.note(f.Rule + ":reasked")
			if p, err := reaskPayload(c.f, s.p.pl, answer, f); err == nil {
				return attemptResult{failure: attemptFailure{deployment: name, clientErr: denied(hook, f)}, reask: &reask{deployment: name, p: p}}
			}
		}
	}
	aerr := denied(hook, f)
	return attemptResult{done: true, denied: aerr, out: outcome{status: aerr.status, deployment: name, reason: aerr.code}}
}

// The hook and action names, as config spells them.
const (
	hookPre        = config.HookPreCall
	hookDuring     = config.HookDuringCall
	hookPost       = config.HookPostCall
	actionFlag     = config.ActionFlag
	actionFallback = config.ActionFallback
	actionReask    = config.ActionReask
)

func (g *Gateway) countFailures(fails []guard.Result, hook string) {
	for _, f := range fails {
		g.metrics.guardrailFailed(f.Rule, hook, f.Action)
	}
}
