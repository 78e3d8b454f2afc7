package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/llmux/llmux/internal/sim"
)

// limitsAccount is one provider account of the limits benchmark. The
// simulator's key carries the provider's truth and llmux's deployment is
// configured with the same limits.
type limitsAccount struct {
	name, provider, model string
	rpm, tpm, itpm, otpm  int
}

// limitsAccounts are 4 accounts over 3 providers with different limits;
// the Anthropic one has separate input and output limits.
var limitsAccounts = []limitsAccount{
	{name: "openai-1", provider: sim.ProviderOpenAI, model: "gpt-4o-mini", rpm: 400, tpm: 80_000},
	{name: "openai-2", provider: sim.ProviderOpenAI, model: "gpt-4o-mini", rpm: 300, tpm: 50_000},
	{name: "azure-1", provider: sim.ProviderAzure, model: "gpt-4o-mini", rpm: 240, tpm: 40_000},
	{name: "anthropic-1", provider: sim.ProviderAnthropic, model: "claude-haiku-4-5", rpm: 200, itpm: 40_000, otpm: 12_000},
}

// simKey is the account's key at the simulator.
func (a limitsAccount) simKey() string { return "sim-limits-" + a.name }

// limitsLatency is the simulator's latency model, in clock time: time to
// first token log-normal with median 800ms and p99 8s, capped at 15s,
// then 60 tokens per second.
var limitsLatency = sim.Latency{TTFTMedian: 800 * time.Millisecond, TTFTP99: 8 * time.Second,
	TTFTMax: 15 * time.Second, TokensPerSecond: 60}

// The workload mix: ~90% short prompts, ~10% long ones, and max_tokens
// drawn uniformly from a fixed set. Prompt sizes are in tokens as the
// simulator counts them (one per 4 bytes of text, 3 per message, 3 to
// prime the reply), drawn uniformly in each range.
var (
	mixShort     = [2]int{150, 1_500}
	mixLong      = [2]int{6_000, 16_000}
	mixMaxTokens = []int{64, 256, 512, 1024}
)

const (
	mixLongShare = 0.10
	// mixMeanOutput is the mean reply length: the simulator answers 5 to
	// 60 tokens (uniform over the prompt's hash), never cut by these
	// max_tokens. It is what Anthropic charges to OTPM.
	mixMeanOutput = 32.5
)

// Mean sizes of the mix, in tokens.
func meanPrompt() float64 {
	return (1-mixLongShare)*float64(mixShort[0]+mixShort[1])/2 + mixLongShare*float64(mixLong[0]+mixLong[1])/2
}

func meanMaxTokens() float64 {
	s := 0
	for _, m := range mixMaxTokens {
		s += m
	}
	return float64(s) / float64(len(mixMaxTokens))
}

// accountCapacity is what one account can serve of the mix, per clock
// minute, and which of its limits binds first.
type accountCapacity struct {
	limitsAccount
	// perMinute is the sustainable rate in requests per minute:
	//   OpenAI, Azure: min(RPM, TPM / (mean prompt + mean max_tokens))
	//   Anthropic:     min(RPM, ITPM / mean prompt, OTPM / mean output)
	perMinute float64
	binding   string // rpm, tpm, itpm or otpm
	// tokenLimit is the limit capacity_used is measured against: TPM,
	// or ITPM for Anthropic (both charged at arrival).
	tokenLimit int
}

// capacities returns every account's capacity and their sum, the
// aggregate capacity the loads are multiples of.
func capacities() ([]accountCapacity, float64) {
	p, m := meanPrompt(), meanMaxTokens()
	var out []accountCapacity
	total := 0.0
	for _, a := range limitsAccounts {
		c := accountCapacity{limitsAccount: a, perMinute: float64(a.rpm), binding: "rpm"}
		bind := func(dim string, limit int, perRequest float64) {
			if limit > 0 && float64(limit)/perRequest < c.perMinute {
				c.perMinute, c.binding = float64(limit)/perRequest, dim
			}
		}
		if a.provider == sim.ProviderAnthropic {
			bind("itpm", a.itpm, p)
			bind("otpm", a.otpm, mixMeanOutput)
			c.tokenLimit = a.itpm
		} else {
			bind("tpm", a.tpm, p+m)
			c.tokenLimit = a.tpm
		}
		out = append(out, c)
		total += c.perMinute
	}
	return out, total
}

// benchRequest is one request of the workload.
type benchRequest struct {
	at        time.Duration // arrival, clock time after the phase start
	body      []byte
	prompt    int // tokens as the simulator counts the OpenAI body
	maxTokens int
	long      bool
}

// limitsChat is the OpenAI chat body the clients send.
type limitsChat struct {
	Model     string        `json:"model"`
	Messages  []limitsChatM `json:"messages"`
	MaxTokens int           `json:"max_tokens"`
}

type limitsChatM struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// limitsSystem is every request's system prompt (100 bytes: 25 tokens).
const limitsSystem = "You are a careful assistant for a travel company. Answer briefly, cite the policy, never invent fees."

// prose is what user prompts are made of: plain English words, the text
// a tokenizer sees most.
var prose = strings.Fields(`the customer asked whether the booking could be moved to a later date
because the flight was delayed and the hotel would not hold the room past midnight unless
someone called ahead please summarise the policy for changes and refunds including any fees
that apply when the change is made less than two days before departure and explain what
documents are needed for a claim with the insurer also list the steps the agent should follow
in order and note which of them can be done online through the account page while the rest
require a phone call to the support line during business hours in the local time zone of the
office that issued the ticket`)

// workload draws the phase's requests: Poisson arrivals at rate per
// clock minute over window, each with a prompt from the mix and a
// max_tokens from the set. The same seed and rate give the same
// requests, so every strategy sees the same load.
func workload(seed int64, rate float64, window time.Duration) ([]benchRequest, error) {
	rng := rand.New(rand.NewPCG(uint64(seed), math.Float64bits(rate)))
	var out []benchRequest
	at := time.Duration(0)
	for {
		at += time.Duration(rng.ExpFloat64() / rate * float64(time.Minute))
		if at >= window {
			return out, nil
		}
		r := benchRequest{at: at, maxTokens: mixMaxTokens[rng.IntN(len(mixMaxTokens))]}
		span := mixShort
		if rng.Float64() < mixLongShare {
			span, r.long = mixLong, true
		}
		r.prompt = span[0] + rng.IntN(span[1]-span[0]+1)
		body, err := json.Marshal(limitsChat{Model: limitsRoute, MaxTokens: r.maxTokens, Messages: []limitsChatM{
			{Role: "system", Content: limitsSystem},
			{Role: "user", Content: proseText(rng, 4*userTokens(r.prompt))},
		}})
		if err != nil {
			return nil, fmt.Errorf("bench: encode request: %w", err)
		}
		r.body = body
		out = append(out, r)
	}
}

// userTokens is the user message's share of a prompt of n tokens: the
// simulator counts 3 to prime the reply, 3 per message and the system
// prompt.
func userTokens(n int) int {
	return n - 3 - 2*3 - (len(limitsSystem)+3)/4
}

// proseText returns exactly n bytes of words from prose.
func proseText(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.Grow(n + 16)
	for b.Len() < n {
		b.WriteString(prose[rng.IntN(len(prose))])
		b.WriteByte(' ')
	}
	return b.String()[:n]
}
