package bench

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/llmux/llmux/internal/sim"
)

// The fault matrix as data: the faults (faultCases), the cells they
// make (each fault × stream or not × client format), what each cell must
// show, and the check of what it showed.

// Client formats and modes of the matrix.
const (
	faultsOpenAI    = "openai"
	faultsAnthropic = "anthropic"
)

var faultsClients = []string{faultsOpenAI, faultsAnthropic}

// The route settings every cell shares. The timeouts are short so the
// whole matrix stays fast; the faults' delays are set against them.
const (
	faultsFirstToken   = time.Second
	faultsChunkGap     = time.Second
	faultsRetryBackoff = 20 * time.Millisecond
	faultsRetryAfter   = time.Second
	// faultsCutAfter is where streams are cut or stall: after a few
	// tokens of the answer.
	faultsCutAfter = 4
	// faultsFlapPeriod is each failing and healthy period of the
	// flapping fault.
	faultsFlapPeriod = 2 * time.Second
	// faultsPrompt is every cell's user message. The simulator's reply
	// depends only on it; this one gets a 59-token reply, long enough to
	// be cut well inside.
	faultsPrompt = "Tell me how llmux degrades when a provider fails"
	// faultsMaxTokens is every request's output cap, above the reply.
	faultsMaxTokens = 256
)

// How a cell's fallback route is reached from its route.
const (
	viaFallbacks     = "fallbacks"
	viaContext       = "context_fallbacks"
	viaContentFilter = "content_filter_fallbacks"
	viaNone          = "" // no fallback route
)

// Who answered a cell.
const (
	byPrimary  = "primary"
	byFallback = "fallback"
	byEither   = "either" // flapping: depends on when the request lands
)

// faultCase is one fault of the matrix: what the simulator does to the
// cell's primary model (and its fallback model), how the route is set
// up, and what must happen in each mode.
type faultCase struct {
	name string
	what string // one line for the report's legend
	// control: not a fault llmux should absorb, but a check that a
	// failure it cannot absorb reaches the client safely.
	control bool
	// primary and fallback are the faults on the cell's two models
	// (Model is filled in per cell).
	primary, fallback []sim.Fault
	// anthropicFallback puts the fallback deployment on an Anthropic
	// account (prefill capability on by default).
	anthropicFallback bool
	via               string
	// continuationOff sets continuation.mode off on the route.
	continuationOff bool
	// want is what must happen without and with streaming.
	want [2]faultWant
}

// faultWant is what must happen in one mode: the client's outcome, who
// answered, and what the providers saw.
type faultWant struct {
	outcome string
	by      string // byPrimary, byFallback, byEither; "" when nobody answers
	// primary and fallback are the least and most requests each model
	// saw.
	primary, fallback [2]int
	// gap is the least time between the primary's first two arrivals
	// at the simulator (0: not checked).
	gap time.Duration
	// log is the attempt log with the cell's prefix cut from deployment
	// names and "@N" byte offsets written "@*"; "" is not checked.
	log string
	// knownGap, when set, names a gateway bug this cell shows (TODO:
	// fix it in the gateway); the other fields then describe the current,
	// wrong behaviour, so the test keeps asserting it and fails once the
	// bug is fixed, and the report marks the cell.
	knownGap string
	// attempts, with knownGap, is the x-llmux-attempts the client gets
	// today. Without knownGap, an answered cell's x-llmux-attempts must
	// equal the requests the providers saw.
	attempts int
}

// Ranges of upstream requests.
var (
	sawNone  = [2]int{0, 0}
	sawOnce  = [2]int{1, 1}
	sawTwice = [2]int{2, 2}
)

// same returns w for both modes.
func same(w faultWant) [2]faultWant { return [2]faultWant{w, w} }

// faultCases is the matrix. Times: 1 makes a fault happen once per cell
// (each cell has its own models), so a retry finds the provider healthy.
// Cells start in this order; flapping comes first because its periods
// count from the simulator's start, so its cells land in the first,
// failing period (on a slow machine a cell may land in the healthy one
// and be served by its primary: both pass).
var faultCases = []faultCase{
	{name: "flapping", what: "503 and healthy in alternating 2s periods, failing first (the cells run in the first)",
		primary: []sim.Fault{{Kind: sim.FaultFlapping, Delay: faultsFlapPeriod}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byEither, primary: [2]int{1, 2}, fallback: [2]int{0, 1}})},
	{name: "429-retry-after", what: "429 with Retry-After: 1, once",
		primary: []sim.Fault{{Kind: sim.FaultStatus, Status: 429, RetryAfter: faultsRetryAfter, Times: 1}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byPrimary, primary: sawTwice, fallback: sawNone, gap: faultsRetryAfter,
			log: "primary:retried(429), primary:ok"})},
	{name: "429-no-retry-after", what: "429 without Retry-After, once",
		primary: []sim.Fault{{Kind: sim.FaultStatus, Status: 429, Times: 1}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce, log: "primary:failed(429), fallback:ok"})},
	{name: "500-once", what: "500 once",
		primary: []sim.Fault{{Kind: sim.FaultStatus, Status: 500, Times: 1}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byPrimary, primary: sawTwice, fallback: sawNone, gap: faultsRetryBackoff / 2,
			log: "primary:retried(500), primary:ok"})},
	{name: "503-persistent", what: "503 on every request",
		primary: []sim.Fault{{Kind: sim.FaultStatus, Status: 503}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byFallback, primary: sawTwice, fallback: sawOnce, gap: faultsRetryBackoff / 2,
			log: "primary:retried(503), primary:failed(503), fallback:ok"})},
	{name: "reset-before-headers", what: "connection closed before any byte, once",
		primary: []sim.Fault{{Kind: sim.FaultResetBeforeHeaders, Times: 1}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byPrimary, primary: sawTwice, fallback: sawNone,
			log: "primary:retried(transport), primary:ok"})},
	{name: "no-response", what: "no response at all (the first-token timeout fires), once",
		primary: []sim.Fault{{Kind: sim.FaultNoResponse, Times: 1}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce,
			log: "primary:failed(timeout), fallback:ok"})},
	{name: "slow-first-token", what: "first token 3s late (past first_token), once",
		primary: []sim.Fault{{Kind: sim.FaultSlowFirstToken, Delay: 3 * time.Second, Times: 1}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce,
			log: "primary:failed(timeout), fallback:ok"})},
	{name: "cut-mid-stream", what: "connection reset after 4 tokens (non-stream: before any byte), once",
		primary: []sim.Fault{{Kind: sim.FaultReset, AfterTokens: faultsCutAfter, Times: 1}}, via: viaFallbacks,
		want: [2]faultWant{
			{outcome: OutcomePass, by: byPrimary, primary: sawTwice, fallback: sawNone, log: "primary:retried(transport), primary:ok"},
			faultWant{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce,
				log: "primary:cut@*(cut), fallback:restarted@*(regenerate), fallback:ok"}}},
	{name: "stall-mid-stream", what: "stream stalls after 4 tokens past chunk_gap (non-stream: no response), once",
		primary: []sim.Fault{{Kind: sim.FaultStall, AfterTokens: faultsCutAfter, Times: 1}}, via: viaFallbacks,
		want: [2]faultWant{
			{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce,
				log: "primary:failed(timeout), fallback:ok"},
			faultWant{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce,
				log: "primary:cut@*(stall), fallback:restarted@*(regenerate), fallback:ok"}}},
	{name: "cut-prefill", what: "stream reset after 4 tokens, once; the Anthropic fallback continues from the partial answer as a prefill",
		primary: []sim.Fault{{Kind: sim.FaultReset, AfterTokens: faultsCutAfter, Times: 1}}, anthropicFallback: true, via: viaFallbacks,
		want: [2]faultWant{
			{outcome: OutcomePass, by: byPrimary, primary: sawTwice, fallback: sawNone, log: "primary:retried(transport), primary:ok"},
			faultWant{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce,
				log: "primary:cut@*(cut), fallback:continued@*(prefill), fallback:ok"}}},
	{name: "stall-first-token", what: "stream stalls right after its first event (role chunk / message_start), once",
		primary: []sim.Fault{{Kind: sim.FaultStall, Times: 1}}, via: viaFallbacks,
		want: [2]faultWant{
			{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce,
				log: "primary:failed(timeout), fallback:ok"},
			faultWant{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce,
				log: "primary:cut@*(stall), fallback:restarted@*(regenerate), fallback:ok"}}},
	{name: "garbage", what: "200 with a body (or first event) that does not parse, once",
		primary: []sim.Fault{{Kind: sim.FaultGarbage, Times: 1}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byPrimary, primary: sawTwice, fallback: sawNone,
			log: "primary:retried(transport), primary:ok"})},
	{name: "malformed-event", what: "one stream event of broken JSON after 4 tokens",
		primary: []sim.Fault{{Kind: sim.FaultMalformedEvent, AfterTokens: faultsCutAfter}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byPrimary, primary: sawOnce, fallback: sawNone, log: "primary:ok"})},
	{name: "no-done", what: "stream ends after its finish without [DONE] / message_stop",
		primary: []sim.Fault{{Kind: sim.FaultNoDone}}, via: viaFallbacks,
		want: same(faultWant{outcome: OutcomePass, by: byPrimary, primary: sawOnce, fallback: sawNone, log: "primary:ok"})},
	{name: "context-length", what: "400 context length exceeded on every request; context_fallbacks",
		primary: []sim.Fault{{Kind: sim.FaultContextLength}}, via: viaContext,
		want: same(faultWant{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce,
			log: "primary:failed(context_length), fallback:ok"})},
	{name: "content-filter", what: "400 content_filter on every request; content_filter_fallbacks",
		primary: []sim.Fault{{Kind: sim.FaultContentFilter}}, via: viaContentFilter,
		want: same(faultWant{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawOnce, log: "primary:failed(content_filter), fallback:ok"})},
	{name: "prefill-rejected", what: "stream reset after 4 tokens, once; the Anthropic fallback rejects assistant prefill",
		primary:  []sim.Fault{{Kind: sim.FaultReset, AfterTokens: faultsCutAfter, Times: 1}},
		fallback: []sim.Fault{{Kind: sim.FaultPrefillRejected}}, anthropicFallback: true, via: viaFallbacks,
		want: [2]faultWant{
			{outcome: OutcomePass, by: byPrimary, primary: sawTwice, fallback: sawNone, log: "primary:retried(transport), primary:ok"},
			faultWant{outcome: OutcomePass, by: byFallback, primary: sawOnce, fallback: sawTwice,
				log: "primary:cut@*(cut), fallback:retried(prefill_rejected), fallback:restarted@*(regenerate), fallback:ok"}}},
	{name: "503-no-fallback", what: "control: 503 on every request, no fallback route", control: true,
		primary: []sim.Fault{{Kind: sim.FaultStatus, Status: 503}}, via: viaNone,
		want: same(faultWant{outcome: OutcomeSafe, primary: sawTwice, fallback: sawNone, gap: faultsRetryBackoff / 2})},
	{name: "cut-continuation-off", what: "control: reset after 4 tokens, once, with continuation off", control: true,
		primary: []sim.Fault{{Kind: sim.FaultReset, AfterTokens: faultsCutAfter, Times: 1}}, via: viaFallbacks, continuationOff: true,
		want: [2]faultWant{
			{outcome: OutcomePass, by: byPrimary, primary: sawTwice, fallback: sawNone, log: "primary:retried(transport), primary:ok"},
			{outcome: OutcomePartial, primary: sawOnce, fallback: sawNone, log: "primary:cut@*(cut)"}}},
}

// faultCell is one cell of the matrix: a case in one mode with one
// client format.
type faultCell struct {
	c      *faultCase
	stream bool
	client string
}

// faultCells lists every cell: each case without and with streaming,
// each with the OpenAI and the Anthropic client format.
func faultCells() []faultCell {
	var cells []faultCell
	for i := range faultCases {
		for _, stream := range []bool{false, true} {
			for _, client := range faultsClients {
				cells = append(cells, faultCell{c: &faultCases[i], stream: stream, client: client})
			}
		}
	}
	return cells
}

func (c faultCell) mode() string {
	if c.stream {
		return "stream"
	}
	return "json"
}

// route is the cell's route name (what the client puts in model), also
// the prefix of its deployments' names.
func (c faultCell) route() string { return c.c.name + "/" + c.mode() + "/" + c.client }

func (c faultCell) fallbackRoute() string { return c.route() + "/fallback" }

// Deployment names and simulator models of the cell.
func (c faultCell) primaryDeployment() string  { return c.route() + "/" + byPrimary }
func (c faultCell) fallbackDeployment() string { return c.route() + "/" + byFallback }
func (c faultCell) primaryModel() string {
	return "fault-" + c.c.name + "-" + c.mode() + "-" + c.client
}
func (c faultCell) fallbackModel() string { return c.primaryModel() + "-fallback" }

// want is what must happen in the cell's mode.
func (c faultCell) want() faultWant {
	if c.stream {
		return c.c.want[1]
	}
	return c.c.want[0]
}

// faults are the cell's simulator faults, on its models.
func (c faultCell) faults() []sim.Fault {
	var out []sim.Fault
	for _, f := range c.c.primary {
		f.Model = c.primaryModel()
		out = append(out, f)
	}
	for _, f := range c.c.fallback {
		f.Model = c.fallbackModel()
		out = append(out, f)
	}
	return out
}

// faultObs is what one cell observed: the client's side, then the
// providers'.
type faultObs struct {
	outcome string
	// detail says why the outcome is not pass (or what the error said).
	detail    string
	text      string
	outTokens int64
	// model is the response's model (OpenAI streams: the last chunk's;
	// Anthropic streams: message_start's).
	model string
	// deployment and attempts are the x-llmux-deployment and
	// x-llmux-attempts headers; log is x-llmux-attempt-log (the header,
	// or on streams the trailer).
	deployment string
	attempts   int
	log        string
	wall       time.Duration
	// primary and fallback count the requests each of the cell's models
	// saw; gap is the time between the primary's first two arrivals.
	primary, fallback int64
	gap               time.Duration
}

// answeredBy is the deployment whose "ok" ends the attempt log, or "".
func answeredBy(log string) string {
	events := strings.Split(log, ", ")
	last := events[len(events)-1]
	dep, what, ok := strings.Cut(last, ":")
	if !ok || what != "ok" {
		return ""
	}
	return dep
}

// relativeLog cuts the cell's route prefix from the deployment names of
// an attempt log.
func (c faultCell) relativeLog(log string) string {
	return strings.ReplaceAll(log, c.route()+"/", "")
}

var byteOffset = regexp.MustCompile(`@\d+`)

// check compares an observation with the cell's want and returns every
// difference.
func (c faultCell) check(o faultObs) []string {
	w := c.want()
	var bad []string
	if o.outcome != w.outcome {
		bad = append(bad, fmt.Sprintf("outcome %s (%s), want %s", o.outcome, o.detail, w.outcome))
	}
	bad = append(bad, c.checkAnswerer(o, w)...)
	bad = append(bad, c.checkAttempts(o, w)...)
	return append(bad, c.checkProviders(o, w)...)
}

// checkAnswerer checks who answered (by the attempt log), the response's
// model and x-llmux-deployment.
func (c faultCell) checkAnswerer(o faultObs, w faultWant) []string {
	var bad []string
	by := answeredBy(o.log)
	switch w.by {
	case byPrimary, byFallback:
		if want := c.route() + "/" + w.by; by != want {
			bad = append(bad, fmt.Sprintf("answered by %q, want %q", by, want))
		}
	case byEither:
		if by != c.primaryDeployment() && by != c.fallbackDeployment() {
			bad = append(bad, fmt.Sprintf("answered by %q, want the primary or the fallback", by))
		}
	}
	if by != "" && o.outcome == OutcomePass {
		opened := by
		if c.stream && c.client == faultsAnthropic {
			// An Anthropic stream names its model once, in message_start:
			// a continued answer keeps the envelope of the attempt that
			// opened the stream (x-llmux-deployment), as splice.go says.
			opened = o.deployment
		}
		if want := c.modelOf(opened); o.model != want {
			bad = append(bad, fmt.Sprintf("response model %q, but %s (model %q) answered", o.model, opened, want))
		}
	}
	if !c.stream && by != "" && o.deployment != by {
		bad = append(bad, fmt.Sprintf("x-llmux-deployment %q, but the attempt log says %s answered", o.deployment, by))
	}
	return bad
}

// checkAttempts checks x-llmux-attempts against what the providers saw,
// and the attempt log.
func (c faultCell) checkAttempts(o faultObs, w faultWant) []string {
	var bad []string
	if o.outcome == OutcomePass || o.outcome == OutcomePartial {
		want := int(o.primary + o.fallback)
		if w.knownGap != "" {
			want = w.attempts
		}
		if o.attempts != want {
			bad = append(bad, fmt.Sprintf("x-llmux-attempts %d, want %d (the providers saw %d requests)", o.attempts, want, o.primary+o.fallback))
		}
	}
	if got := byteOffset.ReplaceAllString(c.relativeLog(o.log), "@*"); w.log != "" && got != w.log {
		bad = append(bad, fmt.Sprintf("attempt log %q, want %q", got, w.log))
	}
	return bad
}

// checkProviders checks the requests each model saw and the gap before
// the primary's retry.
func (c faultCell) checkProviders(o faultObs, w faultWant) []string {
	var bad []string
	if o.primary < int64(w.primary[0]) || o.primary > int64(w.primary[1]) {
		bad = append(bad, fmt.Sprintf("the primary saw %d requests, want %s", o.primary, span(w.primary)))
	}
	if o.fallback < int64(w.fallback[0]) || o.fallback > int64(w.fallback[1]) {
		bad = append(bad, fmt.Sprintf("the fallback saw %d requests, want %s", o.fallback, span(w.fallback)))
	}
	if w.gap > 0 && o.gap < w.gap {
		bad = append(bad, fmt.Sprintf("the primary's retry came %v after its first request, want at least %v", o.gap, w.gap))
	}
	return bad
}

// modelOf is the simulator model of one of the cell's deployments.
func (c faultCell) modelOf(deployment string) string {
	if deployment == c.fallbackDeployment() {
		return c.fallbackModel()
	}
	return c.primaryModel()
}

func span(r [2]int) string {
	if r[0] == r[1] {
		return fmt.Sprint(r[0])
	}
	return fmt.Sprintf("%d to %d", r[0], r[1])
}
