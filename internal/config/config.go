package config

import "time"

// Config is one llmux configuration file.
type Config struct {
	// Listen is the gateway's listen address. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// AdminKey authorizes /admin endpoints. Empty disables them.
	AdminKey Secret `yaml:"admin_key"`
	// MaxBodyBytes bounds request bodies; larger ones get 413. Default 32 MiB
	// (Anthropic's own limit); must be > 0 when set.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`

	// RateLimit configures where bucket state lives and the queue.
	RateLimit RateLimit `yaml:"ratelimit"`
	// Tiers orders client-key tiers by priority, highest first: a queued
	// request of an earlier tier is served before a later one. Keys whose
	// tier is not listed (or empty) come last.
	Tiers []string `yaml:"tiers"`

	Accounts    []Account    `yaml:"accounts"`
	Deployments []Deployment `yaml:"deployments"`
	Routes      []Route      `yaml:"routes"`
	Keys        []Key        `yaml:"keys"`

	// Simulator, when present, starts the provider simulator in-process;
	// accounts with base_url "simulator" point at it.
	Simulator *Simulator `yaml:"simulator"`

	// Prompts points at the prompt repository; absent: requests cannot
	// name prompts.
	Prompts *Prompts `yaml:"prompts"`
	// Guardrails are named checks; routes, keys and prompts list the ones
	// they apply.
	Guardrails []Guardrail `yaml:"guardrails"`
	// Secrets configures the secret detector behind redaction.
	Secrets Secrets `yaml:"secrets"`

	// Path is the file the config was read from.
	Path string `yaml:"-"`
}

// Provider names.
const (
	ProviderOpenAI           = "openai"
	ProviderAzure            = "azure"
	ProviderAnthropic        = "anthropic"
	ProviderOpenAICompatible = "openai-compatible"
)

// SimulatorBaseURL is the base_url value that points an account at the
// in-process simulator.
const SimulatorBaseURL = "simulator"

// Route strategies: how a route orders the deployments that can serve a
// request. The router documents each one.
const (
	// StrategyRoundRobin takes deployments in turn. The default.
	StrategyRoundRobin = "round-robin"
	// StrategyPriority keeps the route's order, spilling to a later
	// deployment only when the earlier ones have no headroom.
	StrategyPriority = "priority"
	// StrategyWeighted picks at random in proportion to Deployment.Weight.
	StrategyWeighted = "weighted"
	// StrategyLeastUtilized puts the deployment with the most headroom
	// first.
	StrategyLeastUtilized = "least-utilized"
	// StrategyLatency prefers the lower time-to-first-token average
	// (power of two random choices).
	StrategyLatency = "latency"
	// StrategyCost puts the cheapest deployment for the request first.
	StrategyCost = "cost"
)

// Deployment capabilities: what a request may use.
const (
	CapabilityTools     = "tools"     // tool (function) calls
	CapabilityImages    = "images"    // image inputs
	CapabilityJSON      = "json"      // JSON mode or structured output
	CapabilityStreaming = "streaming" // streamed answers
	// CapabilityPrefill: the deployment continues a trailing assistant
	// message (Anthropic's prefill). It is not something a request needs:
	// the gateway uses it to continue a stream cut mid-answer on this
	// deployment. Default: on for anthropic accounts, off for the rest
	// (OpenAI treats a trailing assistant message as history).
	CapabilityPrefill = "prefill"
)

// Simulator fault kinds; internal/sim's Fault documents each one's wire
// behaviour.
const (
	FaultStatus             = "status"               // answer with SimFault.Status
	FaultReset              = "reset"                // drop the connection after AfterTokens
	FaultResetBeforeHeaders = "reset_before_headers" // drop the connection before any response byte
	FaultNoResponse         = "no_response"          // send nothing for Delay (0: until the client gives up), then drop
	FaultStall              = "stall"                // stop streaming after AfterTokens for Delay
	FaultSlowFirstToken     = "slow_first_token"     // add Delay before the first token
	FaultGarbage            = "garbage"              // answer with a body that does not parse
	FaultMalformedEvent     = "malformed_event"      // one stream event of broken JSON after AfterTokens
	FaultNoDone             = "no_done"              // end streams without [DONE] / message_stop
	FaultContextLength      = "context_length"       // 400 context length exceeded
	FaultContentFilter      = "content_filter"       // 400 content_filter (Anthropic: stop_reason refusal)
	FaultPrefillRejected    = "prefill_rejected"     // 400 for a conversation ending with an assistant message
	FaultFlapping           = "flapping"             // 503 and healthy in alternating periods of Delay
)

// Account is one set of credentials at a provider.
type Account struct {
	Name     string `yaml:"name"`
	Provider string `yaml:"provider"`
	// BaseURL as the provider's SDK takes it: https://api.openai.com/v1,
	// https://api.anthropic.com, https://RESOURCE.openai.azure.com (classic
	// deployment URLs) or https://RESOURCE.openai.azure.com/openai/v1 (v1
	// form), or "simulator".
	BaseURL string `yaml:"base_url"`
	APIKey  Secret `yaml:"api_key"`
	// APIVersion is Azure's api-version for classic URLs. Default 2024-10-21.
	APIVersion string `yaml:"api_version"`
	// Headers are added to every upstream request (e.g. OpenAI-Organization).
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one upstream request. Default 10m; an explicit 0
	// means no timeout.
	Timeout time.Duration `yaml:"timeout"`

	Line int `yaml:"-"`
}

// Deployment is an account × model.
type Deployment struct {
	Name    string `yaml:"name"`
	Account string `yaml:"account"`
	// Model is the upstream model id; on Azure, the deployment name.
	Model string `yaml:"model"`
	// Family names the model family for tokenizers and prompt variants
	// (e.g. gpt-4o, claude). Defaults to Model.
	Family        string   `yaml:"family"`
	ContextWindow int      `yaml:"context_window"`
	MaxOutput     int      `yaml:"max_output"`
	Price         Price    `yaml:"price"`
	Limits        Limits   `yaml:"limits"`
	Tags          []string `yaml:"tags"`
	// Capabilities are what the deployment supports: tools, images, json,
	// streaming, prefill. A request needing one it lacks is not sent to it.
	// Absent from the file: the first four, and prefill on anthropic
	// accounts; an explicit empty list: none. In configs built in code,
	// nil means all four (and prefill by provider).
	Capabilities []string `yaml:"capabilities"`
	// Tiers are the key tiers the deployment serves; empty means every
	// tier (and keys without one). When Config.Tiers is set, each must be
	// listed there.
	Tiers []string `yaml:"tiers"`
	// Timeouts override the route's for this deployment (non-zero values).
	Timeouts Timeouts `yaml:"timeouts"`
	// Retries overrides the route's retries for this deployment.
	Retries *int `yaml:"retries"`
	// Weight is the deployment's relative share of its routes' traffic
	// under strategy weighted. Default 1; an explicit 0 takes it out of
	// rotation (it is tried only after every weighted deployment).
	Weight int `yaml:"weight"`
	// Embeddings marks an embeddings model.
	Embeddings bool `yaml:"embeddings"`

	Line int `yaml:"-"`
}

// Price is in US dollars per 1M tokens.
type Price struct {
	Input  float64 `yaml:"input"`
	Output float64 `yaml:"output"`
}

// Limits are per-minute rate limits. Zero means unlimited.
type Limits struct {
	RPM  int `yaml:"rpm"`
	TPM  int `yaml:"tpm"`
	ITPM int `yaml:"itpm"`
	OTPM int `yaml:"otpm"`
}

// Route is what a client writes in model.
type Route struct {
	Name        string   `yaml:"name"`
	Deployments []string `yaml:"deployments"`
	// Strategy orders the deployments that can serve a request:
	// round-robin (default), priority, weighted, least-utilized, latency
	// or cost. Parse fills in the default; the router also takes an empty
	// Strategy (a config built in code) as round-robin.
	Strategy string `yaml:"strategy"`
	// MaxAttempts bounds tries across deployments. Default (and 0): one
	// per deployment, i.e. len(Deployments).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxWait bounds how long a request waits in the queue for a
	// deployment with headroom before it degrades to Fallbacks (or gets
	// 429). Default 10s; 0 means no waiting.
	MaxWait time.Duration `yaml:"max_wait"`
	// QueueTarget is the standing delay the route's queue is held near
	// under sustained overload (CoDel's idea). Once the time requests
	// spend in the queue has stayed above it for an interval (half of it,
	// within 100 ms and 1 s), a new request whose predicted wait exceeds
	// it is not queued: it goes to Fallbacks, or gets 429 at once with the
	// predicted wait as Retry-After. Requests predicted within it still
	// queue, so capacity stays fully used; shorter bursts are absorbed up
	// to MaxWait. Independently of it, a request whose predicted start
	// lies beyond MaxWait (or its own deadline) is never queued. Default
	// 2s; 0 turns the standing-delay control off.
	QueueTarget time.Duration `yaml:"queue_target"`
	// Fallbacks are routes tried in order when none of this route's
	// deployments had headroom within MaxWait.
	Fallbacks []string `yaml:"fallbacks"`
	// ContextFallbacks are tried first when the prompt is too long for
	// every deployment of this route (typically a larger-context route).
	ContextFallbacks []string `yaml:"context_fallbacks"`
	// ContentFilterFallbacks are tried when a provider's content filter
	// refused the request (Azure's content_filter), instead of returning
	// that refusal.
	ContentFilterFallbacks []string `yaml:"content_filter_fallbacks"`
	// Timeouts bound each attempt on this route's deployments.
	Timeouts Timeouts `yaml:"timeouts"`
	// Deadline bounds the whole degradation chain of a request on this
	// route: every attempt, wait and fallback. 0: no bound beyond the
	// attempts' own timeouts and max_wait.
	Deadline time.Duration `yaml:"deadline"`
	// RetryBackoff is the base of the jittered exponential backoff before
	// the second and later attempts (base, 2×base, ... capped at 2 s, each
	// times a random 0.5–1). 0 (default): retry another deployment at once.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// Hedge, when set, sends a request whose first token is late to a
	// second deployment too; the first to answer wins.
	Hedge *Hedge `yaml:"hedge"`
	// Retries is how many times one deployment is tried again, after
	// RetryBackoff, when it failed with a 5xx or a transport error before
	// the client saw a byte, or with a 429 whose Retry-After is at most
	// RetryAfterMax. Default 1; 0: never the same deployment twice in a
	// row. A first-token timeout moves on at once; other 4xx are never
	// retried unchanged.
	Retries *int `yaml:"retries"`
	// RetryAfterMax is the longest upstream Retry-After a request waits
	// out to retry the same deployment; a longer one moves on at once.
	// Default 5s; 0 turns waiting off.
	RetryAfterMax *time.Duration `yaml:"retry_after_max"`
	// Continuation says what happens when a stream fails after its first
	// byte reached the client.
	Continuation Continuation `yaml:"continuation"`
	// HoldBack buffers a streamed answer and sends it only when it is
	// complete, for callers that prefer integrity to time to first
	// token: a failure mid-answer then retries invisibly, as before the
	// first byte.
	HoldBack bool `yaml:"hold_back"`
	// Guardrails names the guardrails applied to every request of the
	// route (besides the key's and the prompt's).
	Guardrails []string `yaml:"guardrails"`
	// RedactSecrets replaces secrets in chat requests by placeholders
	// before they leave, and puts them back into the response. Default
	// true for chat routes.
	RedactSecrets *bool `yaml:"redact_secrets"`

	Line int `yaml:"-"`
}

// Continuation modes.
const (
	// ContinuationContinue: the next candidate continues the answer, from
	// the partial answer as an assistant prefill where the deployment
	// takes one, else by regenerating it and sending only what extends
	// what the client already has. The default.
	ContinuationContinue = "continue"
	// ContinuationOff: the stream ends with an error event.
	ContinuationOff = "off"
)

// Continuation configures how a stream cut, stalled or broken after its
// first byte is completed on another candidate.
type Continuation struct {
	// Mode is continue (default) or off.
	Mode string `yaml:"mode"`
	// Max bounds continuations per request. Default 2.
	Max int `yaml:"max"`
	// Instruction, when set, is a system message added to a prefilled
	// continuation (after the caller's own system prompt, never instead
	// of it). Default none: a prefill needs no instruction.
	Instruction string `yaml:"instruction"`
}

// Key is a client (virtual) key.
type Key struct {
	Name string `yaml:"name"`
	Key  Secret `yaml:"key"`
	Tier string `yaml:"tier"`
	// Routes the key may use; empty means all.
	Routes []string `yaml:"routes"`
	// Limits are the key's own per-minute limits (rpm, tpm), so one tenant
	// cannot starve the rest. Zero means unlimited.
	Limits Limits `yaml:"limits"`
	// Guardrails names the guardrails applied to every request of the key.
	Guardrails []string `yaml:"guardrails"`

	Line int `yaml:"-"`
}

// Prompts configures the prompt repository.
type Prompts struct {
	// Dir holds one folder per prompt; relative to the config file.
	Dir string `yaml:"dir"`
	// Watch reloads prompts when their files change. Default true.
	Watch *bool `yaml:"watch"`

	Line int `yaml:"-"`
}

// Guardrail types.
const (
	GuardRegex          = "regex"
	GuardContains       = "contains"
	GuardLength         = "length"
	GuardJSON           = "json"
	GuardRequiredFields = "required_fields"
	GuardCommand        = "command"
)

// Guardrail hooks.
const (
	HookPreCall    = "pre_call"
	HookDuringCall = "during_call"
	HookPostCall   = "post_call"
)

// Guardrail actions.
const (
	ActionDeny     = "deny"
	ActionFlag     = "flag"
	ActionFallback = "fallback"
	ActionReask    = "reask"
)

// Guardrail is one named, deterministic check. pre_call and during_call
// checks read the request's message text; post_call checks read the
// model's answer.
type Guardrail struct {
	Name string `yaml:"name"`
	// Type is regex, contains, length, json, required_fields or command.
	Type string `yaml:"type"`
	// Hook is pre_call, during_call (in parallel with the upstream call;
	// the response is held until it passes) or post_call (the answer).
	// Default post_call.
	Hook string `yaml:"hook"`
	// Action on failure: deny (default), flag, fallback or reask
	// (post_call only).
	Action string `yaml:"action"`

	// regex: every Match pattern must match; no Deny pattern may.
	Match []string `yaml:"match"`
	Deny  []string `yaml:"deny"`
	// contains: at least one of Any, all of All, none of None.
	Any        []string `yaml:"any"`
	All        []string `yaml:"all"`
	None       []string `yaml:"none"`
	IgnoreCase bool     `yaml:"ignore_case"`
	// length: bounds in characters (runes) and words; 0 = no bound.
	MinChars int `yaml:"min_chars"`
	MaxChars int `yaml:"max_chars"`
	MinWords int `yaml:"min_words"`
	MaxWords int `yaml:"max_words"`
	// json: the text must be JSON (a fenced ```json block is accepted)
	// and, if set, valid against Schema (inline) or SchemaFile.
	Schema     any    `yaml:"schema"`
	SchemaFile string `yaml:"schema_file"`
	// required_fields: dotted paths that must be present and not null in
	// the JSON text.
	Fields []string `yaml:"fields"`
	// command: run with the text on stdin; exit 0 passes. Bounded by
	// Timeout (default 5s).
	Command []string      `yaml:"command"`
	Timeout time.Duration `yaml:"timeout"`

	Line int `yaml:"-"`
}

// Secrets configures the secret detector (gitleaks rules).
type Secrets struct {
	// Rules is a gitleaks TOML file with custom rules; with
	// [extend] useDefault = true it adds to the built-in rules.
	Rules string `yaml:"rules"`
	// Allow lists regular expressions for values never redacted.
	Allow []string `yaml:"allow"`
	// Stopwords: a finding containing one of these is not redacted.
	Stopwords []string `yaml:"stopwords"`

	Line int `yaml:"-"`
}

// RateLimit says where limiter state lives.
type RateLimit struct {
	// Backend is memory (default: one process) or redis (shared by
	// replicas).
	Backend string `yaml:"backend"`
	Redis   Redis  `yaml:"redis"`
	// Replicas is how many gateway processes share the limits; when Redis
	// is unreachable each one limits locally at 1/Replicas of each limit.
	// Default 1.
	Replicas int `yaml:"replicas"`
	// QueueSize bounds the requests waiting for capacity in one process.
	// Default 10000.
	QueueSize int `yaml:"queue_size"`
}

// Redis is a Redis server for shared limiter state.
type Redis struct {
	Addr     string `yaml:"addr"`
	Password Secret `yaml:"password"`
	DB       int    `yaml:"db"`
	// Prefix namespaces llmux's keys. Default "llmux:".
	Prefix string `yaml:"prefix"`
}

// Rate-limit backends.
const (
	BackendMemory = "memory"
	BackendRedis  = "redis"
)

// Simulator configures the built-in provider simulator.
type Simulator struct {
	// Listen is used by `llmux sim`; inside `llmux serve` the simulator
	// listens on a free loopback port. Default 127.0.0.1:9090.
	Listen string `yaml:"listen"`
	// Seed makes latencies and faults reproducible.
	Seed int64 `yaml:"seed"`
	// TimeScale multiplies every simulated delay; 0 means no delay.
	// Default 1.
	TimeScale *float64   `yaml:"time_scale"`
	Latency   SimLatency `yaml:"latency"`
	Keys      []SimKey   `yaml:"keys"`
	Faults    []SimFault `yaml:"faults"`

	Line int `yaml:"-"`
}

// SimLatency is the simulator's latency model: time to first token drawn
// from a log-normal with the given median and p99, capped at Max; then
// tokens at TokensPerSecond.
type SimLatency struct {
	TTFTMedian      time.Duration `yaml:"ttft_median"`
	TTFTP99         time.Duration `yaml:"ttft_p99"`
	TTFTMax         time.Duration `yaml:"ttft_max"`
	TokensPerSecond float64       `yaml:"tokens_per_second"`
}

// SimKey is one simulated account key with its provider's limits.
type SimKey struct {
	Key      Secret `yaml:"key"`
	Provider string `yaml:"provider"` // openai | azure | anthropic
	RPM      int    `yaml:"rpm"`
	TPM      int    `yaml:"tpm"`
	ITPM     int    `yaml:"itpm"`
	OTPM     int    `yaml:"otpm"`

	Line int `yaml:"-"`
}

// SimFault injects failures.
type SimFault struct {
	// Kind is one of the Fault* constants.
	Kind string `yaml:"kind"`
	// Status for kind status (e.g. 500, 503, 529).
	Status int `yaml:"status"`
	// Rate is the probability a request gets the fault (0..1].
	Rate float64 `yaml:"rate"`
	// Key limits the fault to one simulated key (its value, so treat it as
	// a secret); empty means all.
	Key string `yaml:"key"`
	// Model limits the fault to requests for one model (on Azure, one
	// deployment name); empty means all.
	Model string `yaml:"model"`
	// Times applies the fault to the first Times matching requests only;
	// 0 means no limit.
	Times int `yaml:"times"`
	// AfterTokens is where a stream stalls, is reset or gets the
	// malformed event.
	AfterTokens int `yaml:"after_tokens"`
	// Delay is the stall, slow-first-token or no_response duration, or
	// the length of each flapping period.
	Delay time.Duration `yaml:"delay"`
	// RetryAfter, for kind status, is sent as retry-after (and
	// retry-after-ms on OpenAI and Azure); 0 sends no such header.
	RetryAfter time.Duration `yaml:"retry_after"`

	Line int `yaml:"-"`
}

// Account returns the account named name. The pointer aliases c.
func (c *Config) Account(name string) (*Account, bool) {
	for i := range c.Accounts {
		if c.Accounts[i].Name == name {
			return &c.Accounts[i], true
		}
	}
	return nil, false
}

// Deployment returns the deployment named name. The pointer aliases c.
func (c *Config) Deployment(name string) (*Deployment, bool) {
	for i := range c.Deployments {
		if c.Deployments[i].Name == name {
			return &c.Deployments[i], true
		}
	}
	return nil, false
}

// Route returns the route named name. The pointer aliases c.
func (c *Config) Route(name string) (*Route, bool) {
	for i := range c.Routes {
		if c.Routes[i].Name == name {
			return &c.Routes[i], true
		}
	}
	return nil, false
}
