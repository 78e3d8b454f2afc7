// Package guard runs deterministic guardrail checks on request and answer
// text, and redacts secrets from chat requests behind reversible
// placeholders.
//
// # Guardrails
//
// A guardrail (config.Guardrail) is a named check with a hook and an
// action. Compile turns the configured guardrails into a Set once, at
// load time: regexes are compiled (Go RE2 syntax), JSON schemas compiled,
// defaults filled in, and every problem reported at once with the
// guardrail's index, name and config line. Set.Select picks the rules a
// request applies (its route's, its key's and its prompt's lists, merged
// in order without duplicates).
//
// The check types:
//
//   - regex: every match pattern must match and no deny pattern may.
//   - contains: at least one of any, all of all, none of none
//     (optionally ignoring case).
//   - length: bounds in characters (runes) and words; 0 is no bound.
//   - json: the text must hold JSON: the whole text, else a ```json
//     fenced block, else the first complete {...} or [...] value, so
//     "Here you go: {...}" passes. With a schema, the value must be valid
//     against it; the reason names the instance path and the keyword.
//   - required_fields: dotted paths (a.b.0.c) present and not null in that
//     JSON.
//   - command: a program run with the text on stdin, passing on exit
//     status 0. It gets a minimal environment (PATH, HOME, TMPDIR, LANG,
//     LC_ALL, TZ and LLMUX_GUARDRAIL, not the gateway's provider keys). It
//     is bounded by its timeout (default 5s): on expiry its whole process
//     group is killed, and output pipes held by stray children are closed
//     after a short grace, so a hanging command fails the check ("command
//     timed out after 5s") instead of hanging it.
//
// # Hooks and actions
//
// The hook says which text a rule reads and when. pre_call rules read the
// request's message text before it is sent; during_call rules read the
// same text while the upstream call runs in parallel (the answer is held
// until they pass); post_call rules (the default) read the model's
// answer. For a streamed answer, the caller decides what post_call means:
// buffer the stream and check the whole answer before releasing it, or
// check the final text and report in the last event. This package checks
// whatever text it is given.
//
// The action says what the caller does when a rule fails: deny (the
// default) refuses the request naming the rule; flag lets it through but
// marks it; fallback tries the next candidate deployment (post_call and
// during_call only); reask retries once with the failure appended
// (post_call only). Result carries the action; applying it is the
// caller's job.
//
// Run runs the rules of one hook and returns the failures only. The
// in-process checks run first, in the order given; command checks run
// last, concurrently, and are skipped when a deny rule has already failed,
// since nothing they say could change the verdict. A Reason quotes at most
// 200 bytes of the text or of a command's output.
//
// # Secret redaction
//
// A Redactor replaces the secrets in a JSON chat request (OpenAI or
// Anthropic shape, or any other: it reads every string value and skips
// object keys) by placeholders such as <<SECRET_1:aws-access-token>>,
// numbered from 1 in order of first appearance, the same secret getting
// the same placeholder wherever it occurs. It replaces on the raw bytes,
// so fields it does not know, number spellings and formatting pass
// through unchanged; a body with no secret is returned as the same slice.
//
// The Detector behind it is Gitleaks: gitleaks' rules (its defaults, or
// a gitleaks TOML with [extend] useDefault = true, allowlists and
// stopwords), loaded once by NewGitleaks, plus the config's allow regexes
// and stopwords; a gitleaks:allow comment on a line silences a match on
// that line (the same value found elsewhere is still replaced
// everywhere). Each string value is scanned on its own, in fragments cut
// at blank lines as gitleaks cuts files (fragment.go), and a prefilter
// (prefilter.go) proves most fragments free of secrets without running
// the rules' regexes, so plain prose costs microseconds and 100 KB of
// source code tens of milliseconds. A placeholder is never reported as a
// secret, so redacting a redacted request changes nothing.
//
// Redact returns a Vault: the placeholder → secret map of that one request.
// It lives in memory only, for the request's lifetime, and never prints a
// secret (String, Format and LogValue print "[3 secrets redacted]"). The
// caller restores the answer with it: Restore for text, RestoreJSON for a
// JSON body (values JSON-escaped so the document stays valid), and a
// StreamRestorer per stream for text deltas, which holds back a trailing
// piece that could be the start of a placeholder until the next delta
// shows whether it is one. Nothing in this package logs.
package guard
