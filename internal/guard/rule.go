package guard

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/llmux/llmux/internal/config"
)

// Rule is one compiled guardrail. Its exported fields are for reading;
// Compile sets them (with defaults applied).
type Rule struct {
	Name   string
	Type   string // config.GuardRegex, ...
	Hook   string // config.HookPreCall, ...
	Action string // config.ActionDeny, ...

	check checker
}

// checker is one check type. check returns "" when text passes, else why
// it failed.
type checker interface {
	check(ctx context.Context, text string) string
}

// Result is the outcome of one rule on one text.
type Result struct {
	Rule   string // the rule's name
	Action string // the rule's action, for the caller to apply on failure
	Passed bool
	// Reason says what failed, e.g. `deny pattern "(?i)password" matched`.
	// It quotes at most maxQuote bytes of the text checked or of a
	// command's output; empty when Passed.
	Reason string
}

// maxQuote bounds how much of a text or command output a Reason quotes.
const maxQuote = 200

// maxReason bounds a whole Reason (patterns from the config included).
const maxReason = 1024

// Check runs the rule on text. Only command checks wait, and they stop
// when ctx is done.
func (r *Rule) Check(ctx context.Context, text string) Result {
	reason := r.check.check(ctx, text)
	return Result{Rule: r.Name, Action: r.Action, Passed: reason == "", Reason: truncate(reason, maxReason)}
}

// cheap reports whether the rule runs in process without waiting.
func (r *Rule) cheap() bool { return r.Type != config.GuardCommand }

// Run runs the rules of hook on text and returns the failures, in the
// order the rules ran; none means text passed. Rules of other hooks are
// skipped. The in-process checks run first, in the order given; command
// checks run last, concurrently, and only if no check with action deny
// has failed already (the request is refused whatever they say).
func Run(ctx context.Context, rules []*Rule, hook string, text string) []Result {
	var failed []Result
	var commands []*Rule
	denied := false
	for _, r := range rules {
		switch {
		case r.Hook != hook:
		case !r.cheap():
			commands = append(commands, r)
		default:
			if res := r.Check(ctx, text); !res.Passed {
				failed = append(failed, res)
				denied = denied || r.Action == config.ActionDeny
			}
		}
	}
	if denied || len(commands) == 0 {
		return failed
	}
	results := make([]Result, len(commands))
	var wg sync.WaitGroup
	for i, r := range commands {
		wg.Go(func() { results[i] = r.Check(ctx, text) })
	}
	wg.Wait()
	for _, res := range results {
		if !res.Passed {
			failed = append(failed, res)
		}
	}
	return failed
}

// truncate cuts s to at most n bytes at a rune boundary, marking the cut
// with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// quote quotes a piece of checked text or output, at most maxQuote bytes.
func quote(s string) string {
	return strconv.Quote(truncate(s, maxQuote))
}

// joinQuoted quotes each of ss and joins them with ", ".
func joinQuoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
