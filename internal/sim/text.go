package sim

import (
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

// turn is the provider-neutral view of a generation request.
type turn struct {
	seed       string // the text the reply is derived from (last user text or tool result)
	toolResult bool   // the last message is a tool result
	maxTokens  int    // output cap; noLimit when the request has none
	stops      []string
	tools      []toolSpec
	choice     toolChoice
	parallel   bool // more than one tool call allowed
	// assistantLast: the conversation ends with an assistant message.
	assistantLast bool
	// prefill is that message's text when it is a prefill (Anthropic):
	// the reply continues it. OpenAI treats it as history and leaves
	// prefill empty.
	prefill string
}

// noLimit is turn.maxTokens when the request sets no output cap.
const noLimit = -1

type toolSpec struct {
	name   string
	schema json.RawMessage
}

// toolChoice is how tools may be used: mode "auto", "none", "required"
// (Anthropic "any") or "forced" with name.
type toolChoice struct {
	mode string
	name string
}

// output is a generated reply before a provider encodes it.
type output struct {
	pieces  []string // text tokens, concatenated = the text
	calls   []toolCall
	finish  string // finishStop, finishLength, finishStopSeq or finishTool
	stopSeq string // the stop sequence hit, with finishStopSeq
}

type toolCall struct {
	name, args string
}

// Neutral finish reasons; each provider maps them to its own names.
const (
	finishStop    = "stop"
	finishLength  = "length"
	finishStopSeq = "stop_sequence"
	finishTool    = "tool"
	finishRefusal = "refusal" // Anthropic's stop_reason refusal (content_filter fault)
)

// vocabulary is what replies are made of after the echo of the prompt.
const vocabulary = "the a of and to in is that it for on with as was by at be this from " +
	"model token stream request gateway limit route reply answer cache system value " +
	"quick brown fox jumps over lazy dog alpha bravo charlie delta echo foxtrot golf " +
	"hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango"

// generate produces the reply for choice variant of t. Everything depends
// only on t and variant, never on the server's seed, so the same prompt
// gets the same reply from every simulator.
func generate(t turn, variant int) output {
	if calls := planCalls(t); calls != nil {
		cost := 0
		for _, c := range calls {
			cost += c.tokens()
		}
		if t.maxTokens == noLimit || cost <= t.maxTokens {
			return output{calls: calls, finish: finishTool}
		}
	}
	if t.prefill != "" {
		if rest, ok := afterPrefix(fullReply(t.seed, variant), t.prefill); ok {
			return limitText(rest, t.maxTokens, t.stops)
		}
	}
	return generateText(t.seed, variant, t.maxTokens, t.stops)
}

// generateText makes a 5..60 token reply "sim reply to: <first words of
// seed> <words>." cut at maxTokens and at the earliest stop sequence.
func generateText(seed string, variant, maxTokens int, stops []string) output {
	return limitText(fullReply(seed, variant), maxTokens, stops)
}

// fullReply is the reply's text tokens before any cut.
func fullReply(seed string, variant int) []string {
	h := hash64(seed, variant)
	return replyPieces(seed, h, 5+int(h%56))
}

// limitText cuts pieces at maxTokens and at the earliest stop sequence.
func limitText(pieces []string, maxTokens int, stops []string) output {
	out := output{pieces: pieces, finish: finishStop}
	if maxTokens != noLimit && maxTokens < len(pieces) {
		out.pieces, out.finish = pieces[:maxTokens], finishLength
	}
	if cut, seq, ok := cutAtStop(out.pieces, stops); ok {
		out.pieces, out.finish, out.stopSeq = cut, finishStopSeq, seq
	}
	return out
}

// afterPrefix returns what follows prefix in the text of pieces, as
// pieces (a token the prefix ends inside keeps its rest), and whether the
// text starts with prefix at all. This is how a prefilled reply
// continues: only what the model adds is sent and counted.
func afterPrefix(pieces []string, prefix string) ([]string, bool) {
	if !strings.HasPrefix(strings.Join(pieces, ""), prefix) {
		return nil, false
	}
	n := 0
	for i, p := range pieces {
		if n+len(p) > len(prefix) {
			rest := append([]string{p[len(prefix)-n:]}, pieces[i+1:]...)
			return rest, true
		}
		n += len(p)
	}
	return []string{}, true
}

// refused is o cut to its first n text tokens and ended by a refusal,
// without tool calls: Anthropic's streaming classifier stopping a reply.
func (o output) refused(n int) output {
	return output{pieces: o.pieces[:min(n, len(o.pieces))], finish: finishRefusal}
}

func replyPieces(seed string, h uint64, target int) []string {
	pieces := make([]string, 0, target+9)
	pieces = append(pieces, "sim", " reply", " to:")
	for i, w := range strings.Fields(seed) {
		if i == 6 {
			break
		}
		pieces = append(pieces, " "+truncateRunes(w, 20))
	}
	vocab := strings.Fields(vocabulary)
	r := rand.New(rand.NewPCG(h, h>>1|1))
	for len(pieces) < target-1 {
		pieces = append(pieces, " "+vocab[r.IntN(len(vocab))])
	}
	if len(pieces) >= target {
		return pieces[:target]
	}
	return append(pieces, ".")
}

// cutAtStop cuts pieces before the earliest occurrence of any stop.
func cutAtStop(pieces, stops []string) ([]string, string, bool) {
	text := strings.Join(pieces, "")
	best, seq := -1, ""
	for _, s := range stops {
		if i := strings.Index(text, s); s != "" && i >= 0 && (best < 0 || i < best) {
			best, seq = i, s
		}
	}
	if best < 0 {
		return pieces, "", false
	}
	var out []string
	n := 0
	for _, p := range pieces {
		if n >= best {
			break
		}
		if n+len(p) > best {
			p = p[:best-n]
		}
		out = append(out, p)
		n += len(p)
	}
	return out, seq, true
}

// planCalls decides the tool calls for t, or nil for a text reply.
func planCalls(t turn) []toolCall {
	if len(t.tools) == 0 || t.choice.mode == "none" || t.toolResult {
		return nil
	}
	first := t.tools[0]
	if t.choice.mode == "forced" {
		for _, tool := range t.tools {
			if tool.name == t.choice.name {
				return []toolCall{{name: tool.name, args: argsFor(tool.schema)}}
			}
		}
		return nil
	}
	calls := []toolCall{{name: first.name, args: argsFor(first.schema)}}
	if t.parallel && len(t.tools) >= 2 && strings.Contains(strings.ToLower(t.seed), "parallel") {
		second := t.tools[1]
		calls = append(calls, toolCall{name: second.name, args: argsFor(second.schema)})
	}
	return calls
}

// tokens is what a tool call counts as output.
func (c toolCall) tokens() int { return 3 + estimate(c.name) + estimate(c.args) }

// outputTokens is the reply's output token count.
func (o output) outputTokens() int {
	n := len(o.pieces)
	for _, c := range o.calls {
		n += c.tokens()
	}
	return n
}

// text is the reply text.
func (o output) text() string { return strings.Join(o.pieces, "") }

// estimate is the simulator's token count for a text: one token per four
// bytes, rounded up. Every count the simulator reports derives from it.
func estimate(s string) int { return (len(s) + 3) / 4 }

func hash64(s string, variant int) uint64 {
	f := fnv.New64a()
	_, _ = f.Write([]byte(s))
	_, _ = f.Write([]byte{byte(variant), byte(variant >> 8)})
	return f.Sum64()
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// chunkPieces groups pieces into stream chunks of up to size tokens; it
// returns each chunk's text and token count.
func chunkPieces(pieces []string, size int) (texts []string, tokens []int) {
	for i := 0; i < len(pieces); i += size {
		j := min(i+size, len(pieces))
		texts = append(texts, strings.Join(pieces[i:j], ""))
		tokens = append(tokens, j-i)
	}
	return texts, tokens
}

// splitArgs splits tool arguments into stream fragments of about n bytes,
// on rune boundaries.
func splitArgs(s string, n int) []string {
	var out []string
	for len(s) > 0 {
		i := min(n, len(s))
		for i < len(s) && !utf8.RuneStart(s[i]) {
			i++
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}
