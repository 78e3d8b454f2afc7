package tokens

import (
	"errors"
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// Encoding names, as tiktoken spells them.
const (
	O200kBase  = "o200k_base"
	Cl100kBase = "cl100k_base"
)

// claudeFactor is the safety factor applied to o200k_base counts for
// Claude families, in tenths (13 = ×1.3). Anthropic publishes no tokenizer
// (providers.md §3.4: exact counts only from /v1/messages/count_tokens,
// offline "o200k/cl100k count × a safety factor"). Claude's tokenizers
// have smaller vocabularies than o200k_base and spend more tokens on the
// same text, more so on code and non-English text; no ratio is published,
// so 1.3 is a margin [inf], not a measurement. Calibrate it against
// count_tokens when a simulator or a real account is at hand; Settle
// corrects every reservation meanwhile.
const claudeFactor = 13

// Estimate is a request's charge before sending: what the provider itself
// counts against its per-minute limits when the request arrives.
type Estimate struct {
	// Input is the prompt tokens estimate, including per-message overhead,
	// tool schemas, images, audio and documents.
	Input int
	// Prompt is the estimated prompt size in the model's tokens, for
	// context-window checks: the tokenizer-faithful fast estimate, without
	// the providers' character-based admission floor that Input carries.
	Prompt int
	// Output is what the provider reserves for output: on OpenAI and Azure
	// n × (max_completion_tokens or max_tokens, or the default when
	// absent); on Anthropic max_tokens.
	Output int
}

// ErrNoMaxTokens is returned (wrapped) by AnthropicMessages when the body
// has no max_tokens, which the Messages API requires. The Estimate
// returned with it has Input set and Output 0.
var ErrNoMaxTokens = errors.New("max_tokens is required")

// Estimator estimates request charges (fast, from the raw body) and counts
// text exactly (with tiktoken encodings it loads on first use). It is safe
// for concurrent use; build one with NewEstimator and share it, since each
// loaded encoding holds a vocabulary of 100k–200k entries.
type Estimator struct {
	o200k, cl100k codec
}

// NewEstimator returns an Estimator. Encodings load lazily, on the first
// Exact call that needs each one.
func NewEstimator() *Estimator {
	return &Estimator{
		o200k:  codec{name: tokenizer.O200kBase},
		cl100k: codec{name: tokenizer.Cl100kBase},
	}
}

// codec is one tiktoken encoding, loaded once.
type codec struct {
	name tokenizer.Encoding
	once sync.Once
	c    tokenizer.Codec
	err  error
}

// get loads the encoding on first use. tokenizer's codecs are safe for
// concurrent Count calls once built (read-only vocabulary, a regexp2
// matcher documented as safe for concurrent use).
func (c *codec) get() (tokenizer.Codec, error) {
	c.once.Do(func() { c.c, c.err = tokenizer.Get(c.name) })
	return c.c, c.err
}

// profile is what a model family decides: the encoding and its fast-path
// costs, whether the counts are scaled for Claude, and the cookbook's
// per-function constant.
type profile struct {
	encoding string
	costs    *costTable
	claude   bool
	funcInit int
}

// EncodingFor returns the tiktoken encoding for a model family:
// "cl100k_base" for gpt-4 (but not gpt-4o or gpt-4.1), gpt-3.5-turbo
// (also Azure's gpt-35-turbo spelling), text-embedding-* and the
// davinci-002/babbage-002 base models; "o200k_base" for everything else:
// gpt-4o, gpt-4.1, gpt-4.5, gpt-5*, o1/o3/o4, gpt-oss (o200k_harmony, which
// adds only special tokens to o200k_base), unknown families (as the
// cookbook does), and Claude families (no public tokenizer: Claude counts
// are o200k_base counts × 1.3). Source: providers.md §3.1
// (tiktoken model.py). Case, an "ft:" prefix and a "provider/" prefix are
// ignored.
func EncodingFor(family string) string {
	return profileFor(family).encoding
}

// funcInit constants, providers.md §3.2 (cookbook "How to count tokens
// with tiktoken", num_tokens_for_tools): 7 for the gpt-4o family, 10 for
// gpt-4 and gpt-3.5-turbo.
const (
	funcInitO200k  = 7
	funcInitCl100k = 10
)

func profileFor(family string) profile {
	f := strings.ToLower(strings.TrimSpace(family))
	f = strings.TrimPrefix(f, "ft:")
	if i := strings.LastIndexByte(f, '/'); i >= 0 {
		f = f[i+1:]
	}
	switch {
	case strings.HasPrefix(f, "claude") || f == "anthropic":
		return profile{encoding: O200kBase, costs: o200kCosts, claude: true, funcInit: funcInitO200k}
	case f == "gpt-4" || strings.HasPrefix(f, "gpt-4-") ||
		strings.HasPrefix(f, "gpt-3.5") || strings.HasPrefix(f, "gpt-35") ||
		strings.HasPrefix(f, "text-embedding-") ||
		f == "davinci-002" || f == "babbage-002":
		return profile{encoding: Cl100kBase, costs: cl100kCosts, funcInit: funcInitCl100k}
	default:
		return profile{encoding: O200kBase, costs: o200kCosts, funcInit: funcInitO200k}
	}
}

// textTokens converts metered text to tokens for p, applying claudeFactor.
//
// OpenAI and Azure admit a request against TPM with an estimate "based on
// the character count" of the request (OpenAI rate-limits guide,
// providers.md §1.8; Azure: "partly from character count", §5.5), not
// with the tokenizer: about one token per four characters. English prose
// runs 4.5+ characters a token, so a tokenizer-faithful estimate charges
// less than the provider does and llmux would admit what the provider
// refuses (measured in `llmux bench limits`: 0.9× the simulator's charge).
// For OpenAI-family models the estimate is therefore the larger of the
// two. Anthropic counts real tokens (and corrects during the request).
func (p profile) textTokens(m *meter) int {
	n := p.promptTokens(m)
	if p.claude {
		return n
	}
	return max(n, (m.chars+3)/4)
}

// promptTokens is metered text in the model's tokens, without the
// admission floor: the size a context window sees.
func (p profile) promptTokens(m *meter) int {
	n := m.tokens()
	if p.claude {
		n = claudeScale(n)
	}
	return n
}

func claudeScale(n int) int { return (n*claudeFactor + 9) / 10 }

// Exact returns the exact token count of text in the family's encoding
// (see EncodingFor), or for Claude families the o200k_base count × 1.3,
// rounded up. Special tokens such as <|endoftext|> count as plain text. It
// costs a real tokenization, ~60× the fast estimate of the same text (see
// BenchmarkExact), and loads the encoding on first use.
func (e *Estimator) Exact(text string, family string) int {
	p := profileFor(family)
	c := &e.o200k
	if p.encoding == Cl100kBase {
		c = &e.cl100k
	}
	enc, err := c.get()
	var n int
	if err == nil {
		n, err = enc.Count(text)
	}
	if err != nil {
		// Unreachable with the embedded encodings; the fast estimate is a
		// safe stand-in.
		m := meter{tab: p.costs}
		m.addString(text)
		n = m.tokens()
	}
	if p.claude {
		n = claudeScale(n)
	}
	return n
}
