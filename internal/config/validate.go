package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Validate checks c as Parse does after applying defaults, and returns
// Problems listing everything wrong, or nil. It expects defaults already
// applied (a zero Strategy or Listen is a problem here) and locates
// problems by the items' Line fields, so it suits configs built in code;
// files go through Load or Parse, which locate each field exactly.
func (c *Config) Validate() error {
	if ps := validate(c, c.Path, newPositions()); len(ps) > 0 {
		ps.sort()
		return ps
	}
	return nil
}

// validate runs every check on c. pos says where fields were written;
// it may be empty.
func validate(c *Config, file string, pos *positions) Problems {
	v := &validator{c: c, file: file, pos: pos}
	v.itemLines()
	v.top()
	accounts := v.accounts()
	deployments := v.deployments(accounts)
	routes := v.routes(deployments)
	v.fallbacks(routes)
	v.keys(routes)
	v.guardrailRefs(v.guardrails())
	v.promptsAndSecrets()
	v.rateLimit()
	v.simulator()
	return v.probs
}

const (
	strategies   = "round-robin, priority, weighted, least-utilized, latency, cost"
	capabilities = "tools, images, json, streaming, prefill"
	providers    = "openai, azure, anthropic, openai-compatible"
	simProviders = "openai, azure, anthropic"
	faultKinds   = "status, reset, reset_before_headers, no_response, stall, slow_first_token, garbage, " +
		"malformed_event, no_done, context_length, content_filter, prefill_rejected, flapping"
)

// azureVersion is an Azure api-version: a date, optionally -preview.
var azureVersion = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

type validator struct {
	c     *Config
	file  string
	pos   *positions
	probs Problems
}

// add reports a problem with the field at path, unless decoding already
// reported one there.
func (v *validator) add(path, format string, args ...any) {
	v.addAt(path, path, format, args...)
}

// addAt is add with the line taken from another path, for a problem in a
// map key, which is not a field of its own.
func (v *validator) addAt(path, at, format string, args ...any) {
	if v.pos.isBad(path) {
		return
	}
	v.probs = append(v.probs, Problem{
		File:    v.file,
		Line:    v.pos.line(at),
		Field:   path,
		Message: fmt.Sprintf(format, args...),
	})
}

// str shows the string value of the field at path; a value that came from
// the environment is shown as written in the file.
func (v *validator) str(path, s string) string {
	if src, ok := v.pos.source[path]; ok {
		return quote(src)
	}
	return quote(s)
}

// num shows the number (or duration) at path like str.
func (v *validator) num(path string, n any) string {
	if src, ok := v.pos.source[path]; ok {
		return quote(src)
	}
	return fmt.Sprint(n)
}

// itemLines makes list items built in code (no file positions) locatable
// by their Line fields.
func (v *validator) itemLines() {
	set := func(path string, line int) {
		if _, ok := v.pos.lines[path]; !ok && line > 0 {
			v.pos.lines[path] = line
		}
	}
	c := v.c
	for i, a := range c.Accounts {
		set(fmt.Sprintf("accounts[%d]", i), a.Line)
	}
	for i, d := range c.Deployments {
		set(fmt.Sprintf("deployments[%d]", i), d.Line)
	}
	for i, r := range c.Routes {
		set(fmt.Sprintf("routes[%d]", i), r.Line)
	}
	for i, k := range c.Keys {
		set(fmt.Sprintf("keys[%d]", i), k.Line)
	}
	for i, g := range c.Guardrails {
		set(fmt.Sprintf("guardrails[%d]", i), g.Line)
	}
	if s := c.Simulator; s != nil {
		set("simulator", s.Line)
		for i, k := range s.Keys {
			set(fmt.Sprintf("simulator.keys[%d]", i), k.Line)
		}
		for i, f := range s.Faults {
			set(fmt.Sprintf("simulator.faults[%d]", i), f.Line)
		}
	}
}

func (v *validator) required(path, s string) bool {
	if s == "" {
		v.add(path, "required")
		return false
	}
	return true
}

// unique reports an empty or repeated value; seen maps values to where
// they were first written, and where names this item for later ones.
func (v *validator) unique(path, s string, seen map[string]string, where string) bool {
	if !v.required(path, s) {
		return false
	}
	if first, dup := seen[s]; dup {
		v.add(path, "duplicate %s (also %s)", v.str(path, s), first)
		return false
	}
	seen[s] = where
	return true
}

// atLeast0 reports a negative number or duration.
func atLeast0[T int | int64 | float64 | time.Duration](v *validator, path string, n T) {
	if n < 0 {
		v.add(path, "must be >= 0, got %s", v.num(path, n))
	}
}

func above0[T int | int64](v *validator, path string, n T) {
	if n <= 0 {
		v.add(path, "must be > 0, got %s", v.num(path, n))
	}
}

func (v *validator) listen(path, addr string) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		v.add(path, "%s is not a host:port address", v.str(path, addr))
	}
}

func (v *validator) top() {
	v.listen("listen", v.c.Listen)
	above0(v, "max_body_bytes", v.c.MaxBodyBytes)
	for i, k := range v.c.Keys {
		if v.c.AdminKey != "" && k.Key == v.c.AdminKey {
			v.add("admin_key", "same value as keys[%d].key; the admin key must be a key of its own", i)
			break
		}
	}
	for _, s := range []struct {
		path, what string
		n          int
	}{
		{"accounts", "account", len(v.c.Accounts)},
		{"deployments", "deployment", len(v.c.Deployments)},
		{"routes", "route", len(v.c.Routes)},
		{"keys", "key", len(v.c.Keys)},
	} {
		if s.n == 0 {
			v.add(s.path, "at least one %s is required", s.what)
		}
	}
}

// accounts checks every account and returns them by name.
func (v *validator) accounts() map[string]*Account {
	byName := map[string]*Account{}
	seen := map[string]string{}
	for i := range v.c.Accounts {
		a := &v.c.Accounts[i]
		p := fmt.Sprintf("accounts[%d]", i)
		if v.unique(p+".name", a.Name, seen, p) {
			byName[a.Name] = a
		}
		v.account(p, a)
	}
	return byName
}

func (v *validator) account(p string, a *Account) {
	switch a.Provider {
	case ProviderOpenAI, ProviderAzure, ProviderAnthropic, ProviderOpenAICompatible:
	case "":
		v.add(p+".provider", "required; allowed: %s", providers)
	default:
		v.add(p+".provider", "%s is not a provider; allowed: %s", v.str(p+".provider", a.Provider), providers)
	}
	sim := a.BaseURL == SimulatorBaseURL
	switch {
	case a.BaseURL == "":
		v.add(p+".base_url", "required")
	case sim && v.c.Simulator == nil:
		v.add(p+".base_url", `"simulator" needs a simulator section`)
	case !sim && !httpURL(a.BaseURL):
		v.add(p+".base_url", `%s is not an absolute http(s) URL or "simulator"`, v.url(p+".base_url", a.BaseURL))
	}
	if a.APIKey == "" && (a.Provider != ProviderOpenAICompatible || sim) {
		v.add(p+".api_key", "required")
	}
	v.apiVersion(p, a)
	atLeast0(v, p+".timeout", a.Timeout)
	v.headers(p+".headers", a.Headers)
	if sim && v.c.Simulator != nil && a.APIKey != "" {
		v.simAccount(p, a)
	}
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// url shows a URL like str, with any password redacted.
func (v *validator) url(path, s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		s = u.Redacted()
	}
	return v.str(path, s)
}

// azureClassic reports whether an Azure base URL is the classic
// (deployment-path, api-version) form rather than /openai/v1.
func azureClassic(baseURL string) bool {
	return !strings.HasSuffix(strings.TrimRight(baseURL, "/"), "/openai/v1")
}

func (v *validator) apiVersion(p string, a *Account) {
	path := p + ".api_version"
	if a.Provider != ProviderAzure || !azureClassic(a.BaseURL) {
		if a.APIVersion != "" && validProvider(a.Provider) {
			v.add(path, "only used by azure accounts with a classic base_url (not .../openai/v1)")
		}
		return
	}
	if !v.required(path, a.APIVersion) {
		return
	}
	_, err := time.Parse(time.DateOnly, a.APIVersion[:min(10, len(a.APIVersion))])
	if !azureVersion.MatchString(a.APIVersion) || err != nil {
		v.add(path, `%s is not a date like "2024-10-21" or "2025-04-01-preview"`, v.str(path, a.APIVersion))
	}
}

// headers checks names and values; values are never shown, since headers
// may carry credentials.
func (v *validator) headers(path string, h map[string]string) {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		p := join(path, name)
		if !headerName(name) {
			v.addAt(path, p, "%s is not a valid header name", quote(name))
		}
		if strings.ContainsAny(h[name], "\r\n\x00") {
			v.add(p, "value contains a line break or NUL")
		}
	}
}

// headerName reports whether s is an HTTP token (RFC 9110).
func headerName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// simAccount checks an account served by the in-process simulator: its
// key must be a simulator key of the same provider.
func (v *validator) simAccount(p string, a *Account) {
	i := v.simKey(a.APIKey.Reveal())
	if i < 0 {
		v.add(p+".api_key", "not one of simulator.keys")
		return
	}
	k := v.c.Simulator.Keys[i]
	if k.Provider == a.Provider || a.Provider == ProviderOpenAICompatible && k.Provider == ProviderOpenAI {
		return
	}
	if !validSimProvider(k.Provider) || !validProvider(a.Provider) {
		return // reported elsewhere
	}
	v.add(p+".provider", "%s does not match simulator.keys[%d].provider %s",
		v.str(p+".provider", a.Provider), i, quote(k.Provider))
}

// simKey returns the index of the simulator key with value key, or -1.
func (v *validator) simKey(key string) int {
	for i, k := range v.c.Simulator.Keys {
		if k.Key.Reveal() == key {
			return i
		}
	}
	return -1
}

func validProvider(p string) bool {
	return validSimProvider(p) || p == ProviderOpenAICompatible
}

func validSimProvider(p string) bool {
	return p == ProviderOpenAI || p == ProviderAzure || p == ProviderAnthropic
}

// deployments checks every deployment and returns them by name.
func (v *validator) deployments(accounts map[string]*Account) map[string]*Deployment {
	byName := map[string]*Deployment{}
	seen := map[string]string{}
	for i := range v.c.Deployments {
		d := &v.c.Deployments[i]
		p := fmt.Sprintf("deployments[%d]", i)
		if v.unique(p+".name", d.Name, seen, p) {
			byName[d.Name] = d
		}
		v.deployment(p, d, accounts)
	}
	return byName
}

func (v *validator) deployment(p string, d *Deployment, accounts map[string]*Account) {
	var a *Account
	if v.required(p+".account", d.Account) {
		if a = accounts[d.Account]; a == nil {
			v.add(p+".account", "%s is not defined in accounts", v.str(p+".account", d.Account))
		}
	}
	v.required(p+".model", d.Model)
	above0(v, p+".context_window", d.ContextWindow)
	if d.Embeddings {
		atLeast0(v, p+".max_output", d.MaxOutput)
	} else {
		above0(v, p+".max_output", d.MaxOutput)
	}
	if d.ContextWindow > 0 && d.MaxOutput > d.ContextWindow {
		v.add(p+".max_output", "%s exceeds context_window %s",
			v.num(p+".max_output", d.MaxOutput), v.num(p+".context_window", d.ContextWindow))
	}
	atLeast0(v, p+".price.input", d.Price.Input)
	atLeast0(v, p+".price.output", d.Price.Output)
	l := d.Limits
	v.limits(p+".limits", l.RPM, l.TPM, l.ITPM, l.OTPM)
	if a != nil {
		v.providerLimits(p+".limits", a.Provider, l.RPM, l.TPM, l.ITPM, l.OTPM)
	}
	atLeast0(v, p+".weight", d.Weight)
	v.timeouts(p+".timeouts", d.Timeouts)
	v.capabilities(p+".capabilities", d.Capabilities)
	v.deploymentTiers(p+".tiers", d.Tiers)
	if d.Retries != nil {
		atLeast0(v, p+".retries", *d.Retries)
	}
}

// capabilities reports unknown and repeated capabilities.
func (v *validator) capabilities(p string, caps []string) {
	seen := map[string]string{}
	for i, c := range caps {
		cp := fmt.Sprintf("%s[%d]", p, i)
		switch c {
		case CapabilityTools, CapabilityImages, CapabilityJSON, CapabilityStreaming, CapabilityPrefill:
			v.unique(cp, c, seen, cp)
		default:
			v.add(cp, "%s is not a capability; allowed: %s", v.str(cp, c), capabilities)
		}
	}
}

// deploymentTiers reports empty and repeated tiers, and, when the config
// lists tiers, tiers it does not list.
func (v *validator) deploymentTiers(p string, tiers []string) {
	seen := map[string]string{}
	for i, t := range tiers {
		tp := fmt.Sprintf("%s[%d]", p, i)
		if v.unique(tp, t, seen, tp) && len(v.c.Tiers) > 0 && !slices.Contains(v.c.Tiers, t) {
			v.add(tp, "%s is not listed in tiers", v.str(tp, t))
		}
	}
}

func (v *validator) limits(p string, rpm, tpm, itpm, otpm int) {
	atLeast0(v, p+".rpm", rpm)
	atLeast0(v, p+".tpm", tpm)
	atLeast0(v, p+".itpm", itpm)
	atLeast0(v, p+".otpm", otpm)
}

// providerLimits checks that limits are the kind the provider enforces:
// Anthropic counts input and output tokens apart, the others together.
func (v *validator) providerLimits(p, provider string, rpm, tpm, itpm, otpm int) {
	switch {
	case provider == ProviderAnthropic:
		if tpm > 0 {
			v.add(p+".tpm", "anthropic limits are itpm/otpm")
		}
		if rpm > 0 && tpm == 0 && itpm == 0 {
			v.add(p+".itpm", "rpm is limited but itpm is 0 (unlimited); set itpm (and otpm) too, or neither")
		}
	case validProvider(provider):
		if itpm > 0 {
			v.add(p+".itpm", "%s limits are rpm/tpm; itpm/otpm are anthropic's", provider)
		}
		if otpm > 0 {
			v.add(p+".otpm", "%s limits are rpm/tpm; itpm/otpm are anthropic's", provider)
		}
		if rpm > 0 && tpm == 0 && itpm == 0 && otpm == 0 {
			v.add(p+".tpm", "rpm is limited but tpm is 0 (unlimited); set tpm too, or neither")
		}
	}
}

// routes checks every route and returns the names.
func (v *validator) routes(deployments map[string]*Deployment) map[string]bool {
	names := map[string]bool{}
	seen := map[string]string{}
	for i := range v.c.Routes {
		r := &v.c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		if v.unique(p+".name", r.Name, seen, p) {
			names[r.Name] = true
			if strings.ContainsFunc(r.Name, unicode.IsSpace) {
				v.add(p+".name", "%s contains whitespace", v.str(p+".name", r.Name))
			}
		}
		v.routeDeployments(p, r, deployments)
		v.strategy(p, r, deployments)
		atLeast0(v, p+".max_attempts", r.MaxAttempts)
		atLeast0(v, p+".max_wait", r.MaxWait)
		atLeast0(v, p+".queue_target", r.QueueTarget)
		v.timeouts(p+".timeouts", r.Timeouts)
		atLeast0(v, p+".deadline", r.Deadline)
		atLeast0(v, p+".retry_backoff", r.RetryBackoff)
		v.hedge(p+".hedge", r.Hedge)
		v.retries(p, r)
	}
	return names
}

// retries checks the same-deployment retry and continuation settings.
func (v *validator) retries(p string, r *Route) {
	if r.Retries != nil {
		atLeast0(v, p+".retries", *r.Retries)
	}
	if r.RetryAfterMax != nil {
		atLeast0(v, p+".retry_after_max", *r.RetryAfterMax)
	}
	switch r.Continuation.Mode {
	case "", ContinuationContinue, ContinuationOff: // "": a config built in code
	default:
		v.add(p+".continuation.mode", "%s is not a continuation mode; allowed: continue, off",
			v.str(p+".continuation.mode", r.Continuation.Mode))
	}
	atLeast0(v, p+".continuation.max", r.Continuation.Max)
}

// strategy reports an unknown strategy, and a weighted route where no
// deployment has weight.
func (v *validator) strategy(p string, r *Route, deployments map[string]*Deployment) {
	switch r.Strategy {
	case StrategyRoundRobin, StrategyPriority, StrategyLeastUtilized, StrategyLatency, StrategyCost:
	case StrategyWeighted:
		sum := 0
		for _, name := range r.Deployments {
			d := deployments[name]
			if d == nil {
				return // reported by routeDeployments
			}
			sum += max(d.Weight, 0)
		}
		if len(r.Deployments) > 0 && sum == 0 {
			v.add(p+".strategy", "weighted, but the weights of its deployments sum to 0")
		}
	case "":
		v.add(p+".strategy", "required; allowed: %s", strategies)
	default:
		v.add(p+".strategy", "%s is not a strategy; allowed: %s", v.str(p+".strategy", r.Strategy), strategies)
	}
}

// fallbacks checks that fallback routes exist, serve the same kind of
// request, and never lead back to where they started. It takes time linear
// in the routes and fallbacks: aliases can make a small file hold many.
func (v *validator) fallbacks(routes map[string]bool) {
	embeddingsDeployment := map[string]bool{} // the first deployment of a name counts
	for _, d := range v.c.Deployments {
		if _, dup := embeddingsDeployment[d.Name]; !dup {
			embeddingsDeployment[d.Name] = d.Embeddings
		}
	}
	// embeddings reports whether r's first deployment serves embeddings.
	embeddings := func(r *Route) bool {
		return len(r.Deployments) > 0 && embeddingsDeployment[r.Deployments[0]]
	}
	byName := map[string]*Route{}
	graph := map[string][]string{} // route name → the routes it falls back to
	edges := map[[2]string]bool{}
	for i := range v.c.Routes {
		r := &v.c.Routes[i]
		byName[r.Name] = r
		for _, f := range r.Fallbacks {
			if e := [2]string{r.Name, f}; !edges[e] {
				edges[e] = true
				graph[r.Name] = append(graph[r.Name], f)
			}
		}
	}
	component := components(graph)
	for i := range v.c.Routes {
		r := &v.c.Routes[i]
		v.extraFallbacks(fmt.Sprintf("routes[%d].context_fallbacks", i), r, r.ContextFallbacks, routes, byName, embeddings)
		v.extraFallbacks(fmt.Sprintf("routes[%d].content_filter_fallbacks", i), r, r.ContentFilterFallbacks, routes, byName, embeddings)
		for j, f := range r.Fallbacks {
			fp := fmt.Sprintf("routes[%d].fallbacks[%d]", i, j)
			// With the edge r → f in the graph, f leads back to r exactly
			// when both are in one strongly connected component.
			if v.fallbackTarget(fp, f, r, routes, byName, embeddings) && component[f] == component[r.Name] {
				v.add(fp, "fallback %s leads back to %s (a cycle)", v.str(fp, f), quote(r.Name))
			}
		}
	}
}

// components numbers the strongly connected components of graph (Tarjan's
// algorithm): two nodes get the same number when each reaches the other.
func components(graph map[string][]string) map[string]int {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	component := map[string]int{}
	var visit func(n string)
	visit = func(n string) {
		index[n] = len(index)
		low[n] = index[n]
		stack = append(stack, n)
		onStack[n] = true
		for _, m := range graph[n] {
			if _, seen := index[m]; !seen {
				visit(m)
				low[n] = min(low[n], low[m])
			} else if onStack[m] {
				low[n] = min(low[n], index[m])
			}
		}
		if low[n] == index[n] {
			for {
				m := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[m] = false
				component[m] = index[n]
				if m == n {
					break
				}
			}
		}
	}
	for n := range graph {
		if _, seen := index[n]; !seen {
			visit(n)
		}
	}
	return component
}

func (v *validator) rateLimit() {
	rl := v.c.RateLimit
	switch rl.Backend {
	case BackendMemory, "":
	case BackendRedis:
		if rl.Redis.Addr == "" {
			v.add("ratelimit.redis.addr", "required when backend is redis")
		} else if _, _, err := net.SplitHostPort(rl.Redis.Addr); err != nil {
			// A redis:// URL may carry the password: redact it.
			v.add("ratelimit.redis.addr", "%s is not a host:port address", v.url("ratelimit.redis.addr", rl.Redis.Addr))
		}
	default:
		v.add("ratelimit.backend", "%s is not a backend; allowed: memory, redis", v.str("ratelimit.backend", rl.Backend))
	}
	if rl.Replicas < 0 || rl.Replicas == 0 && v.pos.given["ratelimit.replicas"] {
		v.add("ratelimit.replicas", "%s must be at least 1", v.num("ratelimit.replicas", rl.Replicas))
	}
	if rl.QueueSize < 0 {
		v.add("ratelimit.queue_size", "%s must be 0 or more", v.num("ratelimit.queue_size", rl.QueueSize))
	}
	atLeast0(v, "ratelimit.redis.db", rl.Redis.DB)
	seen := map[string]string{}
	for i, t := range v.c.Tiers {
		v.unique(fmt.Sprintf("tiers[%d]", i), t, seen, fmt.Sprintf("tiers[%d]", i))
	}
}

func (v *validator) routeDeployments(p string, r *Route, deployments map[string]*Deployment) {
	if len(r.Deployments) == 0 {
		v.add(p+".deployments", "at least one deployment is required")
		return
	}
	seen := map[string]string{}
	var embeddings, chat string
	for j, name := range r.Deployments {
		dp := fmt.Sprintf("%s.deployments[%d]", p, j)
		if !v.unique(dp, name, seen, dp) {
			continue
		}
		switch d := deployments[name]; {
		case d == nil:
			v.add(dp, "%s is not defined in deployments", v.str(dp, name))
		case d.Embeddings && embeddings == "":
			embeddings = name
		case !d.Embeddings && chat == "":
			chat = name
		}
	}
	if embeddings != "" && chat != "" {
		v.add(p+".deployments", "mixes embeddings (%s) and chat (%s) deployments", quote(embeddings), quote(chat))
	}
}

func (v *validator) keys(routes map[string]bool) {
	names := map[string]string{}
	values := map[string]string{}
	tiers := map[string]bool{}
	for _, t := range v.c.Tiers {
		tiers[t] = true
	}
	for i, k := range v.c.Keys {
		p := fmt.Sprintf("keys[%d]", i)
		v.unique(p+".name", k.Name, names, p)
		v.secret(p+".key", k.Key, values, p)
		v.limits(p+".limits", k.Limits.RPM, k.Limits.TPM, k.Limits.ITPM, k.Limits.OTPM)
		if k.Limits.ITPM > 0 || k.Limits.OTPM > 0 {
			v.add(p+".limits", "key limits are rpm/tpm; itpm/otpm are anthropic deployment limits")
		}
		if len(v.c.Tiers) > 0 && k.Tier != "" && !tiers[k.Tier] {
			v.add(p+".tier", "%s is not listed in tiers", v.str(p+".tier", k.Tier))
		}
		for j, r := range k.Routes {
			rp := fmt.Sprintf("%s.routes[%d]", p, j)
			if v.required(rp, r) && !routes[r] {
				v.add(rp, "%s is not defined in routes", v.str(rp, r))
			}
		}
	}
}

// secret reports an empty or repeated key, without showing it.
func (v *validator) secret(path string, s Secret, seen map[string]string, where string) {
	if !v.required(path, s.Reveal()) {
		return
	}
	if first, dup := seen[s.Reveal()]; dup {
		v.add(path, "duplicate key value (also %s)", first)
		return
	}
	seen[s.Reveal()] = where
}

func (v *validator) simulator() {
	s := v.c.Simulator
	if s == nil {
		return
	}
	v.listen("simulator.listen", s.Listen)
	if s.TimeScale != nil {
		atLeast0(v, "simulator.time_scale", *s.TimeScale)
	}
	v.latency("simulator.latency", s.Latency)
	values := map[string]string{}
	for i, k := range s.Keys {
		p := fmt.Sprintf("simulator.keys[%d]", i)
		v.secret(p+".key", k.Key, values, p)
		switch {
		case k.Provider == "":
			v.add(p+".provider", "required; allowed: %s", simProviders)
		case !validSimProvider(k.Provider):
			v.add(p+".provider", "%s is not a simulator provider; allowed: %s", v.str(p+".provider", k.Provider), simProviders)
		}
		v.limits(p, k.RPM, k.TPM, k.ITPM, k.OTPM)
		v.providerLimits(p, k.Provider, 0, k.TPM, k.ITPM, k.OTPM)
	}
	for i, f := range s.Faults {
		v.fault(fmt.Sprintf("simulator.faults[%d]", i), f)
	}
}

func (v *validator) latency(p string, l SimLatency) {
	atLeast0(v, p+".ttft_median", l.TTFTMedian)
	atLeast0(v, p+".ttft_p99", l.TTFTP99)
	atLeast0(v, p+".ttft_max", l.TTFTMax)
	atLeast0(v, p+".tokens_per_second", l.TokensPerSecond)
	if l.TTFTMedian > 0 && l.TTFTP99 > 0 && l.TTFTP99 < l.TTFTMedian {
		v.add(p+".ttft_p99", "%s is less than ttft_median %s",
			v.num(p+".ttft_p99", l.TTFTP99), v.num(p+".ttft_median", l.TTFTMedian))
	}
}

func (v *validator) fault(p string, f SimFault) {
	switch f.Kind {
	case FaultStatus, FaultReset, FaultResetBeforeHeaders, FaultNoResponse, FaultStall, FaultSlowFirstToken, FaultGarbage,
		FaultMalformedEvent, FaultNoDone, FaultContextLength, FaultContentFilter, FaultPrefillRejected, FaultFlapping:
	case "":
		v.add(p+".kind", "required; allowed: %s", faultKinds)
	default:
		v.add(p+".kind", "%s is not a fault kind; allowed: %s", v.str(p+".kind", f.Kind), faultKinds)
	}
	switch {
	case f.Kind == FaultStatus && f.Status == 0:
		v.add(p+".status", "required for kind status")
	case f.Kind == FaultStatus && (f.Status < 400 || f.Status > 599):
		v.add(p+".status", "%s is not in 400..599", v.num(p+".status", f.Status))
	case f.Kind != FaultStatus && f.Status != 0:
		v.add(p+".status", "only used by kind status")
	}
	if !(f.Rate > 0 && f.Rate <= 1) {
		v.add(p+".rate", "must be in (0, 1], got %s", v.num(p+".rate", f.Rate))
	}
	// The key is a simulator key's value: never shown.
	if f.Key != "" && v.simKey(f.Key) < 0 {
		v.add(p+".key", "not one of simulator.keys")
	}
	atLeast0(v, p+".times", f.Times)
	atLeast0(v, p+".after_tokens", f.AfterTokens)
	switch {
	case f.Delay < 0:
		atLeast0(v, p+".delay", f.Delay)
	case f.Kind == FaultFlapping && f.Delay == 0:
		v.add(p+".delay", "required for kind flapping: the length of each failing and healthy period")
	}
	switch {
	case f.RetryAfter < 0:
		atLeast0(v, p+".retry_after", f.RetryAfter)
	case f.RetryAfter > 0 && f.Kind != FaultStatus:
		v.add(p+".retry_after", "only used by kind status")
	}
}

func (v *validator) timeouts(p string, t Timeouts) {
	atLeast0(v, p+".connect", t.Connect)
	atLeast0(v, p+".first_token", t.FirstToken)
	atLeast0(v, p+".chunk_gap", t.ChunkGap)
	atLeast0(v, p+".total", t.Total)
}

// hedge checks a route's hedging: it needs a wait and a budget.
func (v *validator) hedge(p string, h *Hedge) {
	if h == nil {
		return
	}
	switch {
	case h.After < 0:
		atLeast0(v, p+".after", h.After)
	case h.After == 0:
		v.add(p+".after", "required: how long to wait for the first token before hedging (with p95, until a deployment has samples)")
	}
	if h.Budget <= 0 || h.Budget > 1 {
		v.add(p+".budget", "%s must be in (0, 1]: the fraction of the route's requests that may be hedged", v.num(p+".budget", h.Budget))
	}
}

// extraFallbacks checks context and content-filter fallbacks: defined
// routes of the same kind, not the route itself. They are tried once, not
// followed further, so they cannot loop.
func (v *validator) extraFallbacks(p string, r *Route, list []string, routes map[string]bool, byName map[string]*Route, embeddings func(*Route) bool) {
	for j, f := range list {
		v.fallbackTarget(fmt.Sprintf("%s[%d]", p, j), f, r, routes, byName, embeddings)
	}
}

// fallbackTarget checks that f, a fallback of r at path fp, is a defined
// route of the same kind other than r; it reports whether it is.
func (v *validator) fallbackTarget(fp, f string, r *Route, routes map[string]bool, byName map[string]*Route, embeddings func(*Route) bool) bool {
	switch {
	case !v.required(fp, f):
	case !routes[f]:
		v.add(fp, "%s is not defined in routes", v.str(fp, f))
	case f == r.Name:
		v.add(fp, "a route cannot fall back to itself")
	case embeddings(byName[f]) != embeddings(r):
		v.add(fp, "%s serves a different kind of request than %s", v.str(fp, f), quote(r.Name))
	default:
		return true
	}
	return false
}
