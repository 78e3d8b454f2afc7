package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// minimal is a valid config that tests extend.
const minimal = `accounts: [{name: a, provider: openai, base_url: "https://api.openai.com/v1", api_key: k}]
deployments: [{name: d, account: a, model: m, context_window: 100, max_output: 10}]
routes: [{name: r, deployments: [d]}]
keys: [{name: c, key: ck}]
`

func mustParse(t *testing.T, yml string, env map[string]string) *Config {
	t.Helper()
	c, err := Parse([]byte(yml), "t.yml", envFrom(env))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func problemsOf(t *testing.T, yml string, env map[string]string) []string {
	t.Helper()
	c, err := Parse([]byte(yml), "t.yml", envFrom(env))
	if err == nil {
		t.Fatal("Parse succeeded, want problems")
	}
	if c != nil {
		t.Error("Parse returned a config along with problems")
	}
	return strings.Split(err.Error(), "\n")
}

func TestMergeKeys(t *testing.T) {
	c := mustParse(t, `x-limits: &limits {rpm: 100, tpm: 1000}
x-first: &first {account: a, context_window: 100, max_output: 10, limits: {rpm: 1}}
x-second: &second {model: m2, weight: 5, max_output: 20}
accounts: [{name: a, provider: openai, base_url: "https://api.openai.com/v1", api_key: k}]
deployments:
  - <<: [*first, *second]
    name: d
    model: m
    limits: *limits
routes: [{name: r, deployments: [d]}]
keys: [{name: c, key: ck}]
`, nil)
	got := c.Deployments[0]
	want := Deployment{Name: "d", Account: "a", Model: "m", Family: "m", ContextWindow: 100, MaxOutput: 10,
		Limits: Limits{RPM: 100, TPM: 1000}, Capabilities: allCapabilities(), Weight: 5, Line: 6}
	if !equalDeployment(got, want) {
		t.Errorf("deployment = %+v\nwant %+v", got, want)
	}
}

// TestCapabilitiesAndTiers checks the deployment fields the router
// filters by: capabilities default to all four only when absent.
func TestCapabilitiesAndTiers(t *testing.T) {
	c := mustParse(t, `tiers: [pro, free]
accounts: [{name: a, provider: openai, base_url: "https://api.openai.com/v1", api_key: k}]
deployments:
  - {name: absent, account: a, model: m, context_window: 100, max_output: 10}
  - {name: unset, account: a, model: m, context_window: 100, max_output: 10, capabilities: ~}
  - {name: empty, account: a, model: m, context_window: 100, max_output: 10, capabilities: []}
  - {name: some, account: a, model: m, context_window: 100, max_output: 10, capabilities: [json, tools], tiers: [pro]}
routes: [{name: r, deployments: [absent, unset, empty, some], strategy: weighted}]
keys: [{name: c, key: ck, tier: free}]
`, nil)
	tests := []struct {
		caps, tiers []string
	}{
		{allCapabilities(), nil},
		{allCapabilities(), nil},
		{[]string{}, nil},
		{[]string{"json", "tools"}, []string{"pro"}},
	}
	for i, tt := range tests {
		d := c.Deployments[i]
		if !slices.Equal(d.Capabilities, tt.caps) || (d.Capabilities == nil) != (tt.caps == nil) {
			t.Errorf("%s: capabilities = %#v, want %#v", d.Name, d.Capabilities, tt.caps)
		}
		if !slices.Equal(d.Tiers, tt.tiers) {
			t.Errorf("%s: tiers = %#v, want %#v", d.Name, d.Tiers, tt.tiers)
		}
	}
	if got := c.Routes[0].Strategy; got != StrategyWeighted {
		t.Errorf("strategy = %q, want weighted", got)
	}
}

func equalDeployment(a, b Deployment) bool {
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name, yml string
		want      []string
	}{
		{
			name: "merge of a mapping into itself",
			yml:  minimal + "simulator: &s {keys: [], <<: *s}\n",
			want: []string{"t.yml:5: simulator: merge (<<) of a mapping into itself"},
		},
		{
			name: "merge of a list holding a scalar",
			yml:  minimal + "simulator: {<<: [{seed: 1}, 5]}\n",
			want: []string{`t.yml:5: simulator: merge (<<) wants mappings, got "5"`},
		},
		{
			name: "an unset variable used through two aliases is reported once",
			yml: "x-key: &k ${NOPE}\n" + strings.Replace(minimal, "api_key: k}]",
				"api_key: *k}, {name: b, provider: openai, base_url: \"https://x\", api_key: *k}]", 1),
			want: []string{"t.yml:1: accounts[0].api_key: environment variable NOPE is not set (write ${NOPE:-default} for a default)"},
		},
		{
			name: "x- fields are only ignored at the top level",
			yml:  strings.Replace(minimal, "api_key: k}", "api_key: k, x-note: hi}", 1),
			want: []string{`t.yml:1: accounts[0]: unknown field "x-note"`},
		},
		{
			name: "repeated header",
			yml:  strings.Replace(minimal, "api_key: k}", "api_key: k, headers: {A: 1, A: 2}}", 1),
			want: []string{"t.yml:1: accounts[0].headers.A: repeated (first at line 1)"},
		},
		{
			name: "integer written as a float",
			yml:  strings.Replace(minimal, "context_window: 100", "context_window: 1e5", 1),
			want: []string{`t.yml:2: deployments[0].context_window: want an integer, got "1e5"`},
		},
		{
			name: "number from the environment that is not one",
			yml:  strings.Replace(minimal, "context_window: 100", `context_window: "${CW}"`, 1),
			want: []string{`t.yml:2: deployments[0].context_window: want an integer, got "${CW}"`},
		},
		{
			name: "syntax error in a second document",
			yml:  minimal + "---\na: [\n",
			want: []string{"t.yml:6: yaml: did not find expected node content"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemsOf(t, tt.yml, map[string]string{"CW": "lots"})
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestAliasExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-routes: &r [" + strings.Repeat("r, ", 20) + "r]\n")
	b.WriteString("x-key: &k {name: n, key: v, routes: *r}\n")
	b.WriteString("keys: [" + strings.Repeat("*k, ", 70) + "*k]\n")
	root, _ := parseYAML([]byte(b.String()), "t.yml")
	d := newDecoder("t.yml", envFrom(nil))
	d.limit, d.budget = 1000, 1000 // maxValues takes a while under -race
	d.decode(root, reflect.ValueOf(&Config{}).Elem(), "")
	want := Problems{{File: "t.yml", Line: 1, Message: "more than 1000 values after expanding aliases"}}
	if !d.exhausted() || !slices.Equal(d.probs, want) {
		t.Errorf("exhausted %v, problems %q; want true, %q", d.exhausted(), d.probs, want)
	}
}

func TestEnvironmentValues(t *testing.T) {
	yml := strings.Replace(minimal, "api_key: k}", `api_key: "${KEY}", timeout: "${TIMEOUT}"}`, 1)
	yml = strings.Replace(yml, "max_output: 10}", `max_output: 10, embeddings: "${EMB}", limits: {rpm: "${RPM}", tpm: 1000}, price: {input: "${PRICE}"}}`, 1)
	yml = strings.Replace(yml, "deployments: [d]", `deployments: [d], strategy: "${STRATEGY:-round-robin}", max_wait: "${WAIT}"`, 1)
	yml += "ratelimit: {backend: \"${BACKEND}\", redis: {addr: \"${REDIS}\", password: \"${REDIS_PW}\"}, replicas: \"${REPLICAS}\"}\n"
	c := mustParse(t, yml, map[string]string{
		"KEY": "sk-1", "TIMEOUT": "90s", "EMB": "false", "RPM": "0x10", "PRICE": "0.5", "WAIT": "1.5s",
		"BACKEND": "redis", "REDIS": "redis.internal:6379", "REDIS_PW": "pw", "REPLICAS": "4",
	})
	a, d, r, rl := c.Accounts[0], c.Deployments[0], c.Routes[0], c.RateLimit
	if a.APIKey.Reveal() != "sk-1" || a.Timeout != 90*time.Second || d.Embeddings ||
		d.Limits.RPM != 16 || d.Price.Input != 0.5 || r.Strategy != StrategyRoundRobin || r.MaxWait != 1500*time.Millisecond {
		t.Errorf("got key %q, timeout %v, embeddings %v, rpm %d, price %v, strategy %q, max_wait %v",
			a.APIKey.Reveal(), a.Timeout, d.Embeddings, d.Limits.RPM, d.Price.Input, r.Strategy, r.MaxWait)
	}
	if rl.Backend != BackendRedis || rl.Redis.Addr != "redis.internal:6379" || rl.Redis.Password.Reveal() != "pw" || rl.Replicas != 4 {
		t.Errorf("got ratelimit %+v (password %q)", rl, rl.Redis.Password.Reveal())
	}
}

func TestIntegers(t *testing.T) {
	tests := map[string]int64{"100": 100, "0100": 100, "-7": -7, "+7": 7, "30_000": 30000, "0x1F": 31, "0o17": 15, "0b101": 5}
	for in, want := range tests {
		if got, err := parseInt(in, 64); err != nil || got != want {
			t.Errorf("parseInt(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1e3", "1.0", "ten", "0x", "99999999999999999999"} {
		if got, err := parseInt(in, 64); err == nil {
			t.Errorf("parseInt(%q) = %d, want an error", in, got)
		}
	}
}

func TestNullMeansAbsent(t *testing.T) {
	yml := strings.Replace(minimal, "api_key: k}", "api_key: k, timeout: ~}", 1)
	yml = strings.Replace(yml, "max_output: 10}", "max_output: 10, weight: null}", 1)
	yml = strings.Replace(yml, "deployments: [d]}", "deployments: [d], max_wait: ~}", 1)
	c := mustParse(t, "max_body_bytes:\nsimulator: ~\nratelimit: {backend: ~, replicas: ~, queue_size: null, redis: {prefix: ~}}\n"+yml, nil)
	if c.MaxBodyBytes != 32<<20 || c.Accounts[0].Timeout != 10*time.Minute || c.Deployments[0].Weight != 1 || c.Simulator != nil {
		t.Errorf("got max_body_bytes %d, timeout %v, weight %d, simulator %v; want the defaults",
			c.MaxBodyBytes, c.Accounts[0].Timeout, c.Deployments[0].Weight, c.Simulator)
	}
	want := RateLimit{Backend: BackendMemory, Redis: Redis{Prefix: "llmux:"}, Replicas: 1, QueueSize: 10000}
	if c.RateLimit != want || c.Routes[0].MaxWait != 10*time.Second {
		t.Errorf("got ratelimit %+v, max_wait %v; want the defaults %+v, 10s", c.RateLimit, c.Routes[0].MaxWait, want)
	}
}

func TestLoad(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
		var ps Problems
		if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &ps) {
			t.Errorf("Load(missing) = %v, want a wrapped fs.ErrNotExist", err)
		}
	})
	t.Run("reads the environment", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "llmux.yml")
		yml := strings.Replace(minimal, "api_key: k}", `api_key: "${LLMUX_TEST_KEY}"}`, 1)
		if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("LLMUX_TEST_KEY", "sk-from-env")
		c, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if c.Path != path || c.Accounts[0].APIKey.Reveal() != "sk-from-env" {
			t.Errorf("Load = path %q, key %q", c.Path, c.Accounts[0].APIKey.Reveal())
		}
	})
	t.Run("problems name the path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bad.yml")
		if err := os.WriteFile(path, []byte("listen: [\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		var ps Problems
		if !errors.As(err, &ps) || ps[0].File != path {
			t.Errorf("Load(bad) = %v, want Problems in %s", err, path)
		}
	})
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{"a.yml", 3, "routes[0].name", "required"}, "a.yml:3: routes[0].name: required"},
		{Problem{"a.yml", 0, "keys", "at least one key is required"}, "a.yml: keys: at least one key is required"},
		{Problem{"a.yml", 7, "", `unknown field "x"`}, `a.yml:7: unknown field "x"`},
		{Problem{"", 0, "listen", "bad"}, "listen: bad"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
	ps := Problems{tests[0].p, tests[1].p}
	if got, want := ps.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("Problems.Error() = %q, want %q", got, want)
	}
}

func TestValidate(t *testing.T) {
	c := &Config{
		Path:         "code.yml",
		Listen:       "127.0.0.1:8080",
		MaxBodyBytes: 1 << 20,
		Accounts:     []Account{{Name: "a", Provider: ProviderOpenAI, BaseURL: "https://api.openai.com/v1", APIKey: "k", Line: 3}},
		Deployments:  []Deployment{{Name: "d", Account: "a", Model: "m", ContextWindow: 100, MaxOutput: 10, Line: 7}},
		Routes:       []Route{{Name: "r", Deployments: []string{"d"}, Strategy: StrategyRoundRobin}},
		Keys:         []Key{{Name: "c", Key: "ck"}},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	// The new sections, built in code.
	c.RateLimit = RateLimit{Backend: BackendRedis, Redis: Redis{Addr: "localhost:6379"}, Replicas: 2, QueueSize: 100}
	c.Tiers = []string{"pro", "free"}
	c.Routes = append(c.Routes, Route{Name: "r2", Deployments: []string{"d"}, Strategy: StrategyRoundRobin, Line: 12})
	c.Routes[0].Fallbacks = []string{"r2"}
	c.Keys[0].Tier = "pro"
	c.Keys[0].Limits = Limits{RPM: 10, TPM: 1000}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate(valid, with ratelimit) = %v", err)
	}
	c.Deployments[0].ContextWindow = 0
	c.Routes[0].Strategy = ""
	c.Routes[1].Fallbacks = []string{"r"}
	c.Routes[1].MaxWait = -time.Second
	c.Keys[0].Tier = "gold"
	c.RateLimit.Redis.Addr = ""
	want := "code.yml:7: deployments[0].context_window: must be > 0, got 0\n" +
		`code.yml:12: routes[1].max_wait: must be >= 0, got -1s` + "\n" +
		`code.yml:12: routes[1].fallbacks[0]: fallback "r" leads back to "r2" (a cycle)` + "\n" +
		`code.yml: routes[0].strategy: required; allowed: round-robin, priority, weighted, least-utilized, latency, cost` + "\n" +
		`code.yml: routes[0].fallbacks[0]: fallback "r2" leads back to "r" (a cycle)` + "\n" +
		`code.yml: keys[0].tier: "gold" is not listed in tiers` + "\n" +
		`code.yml: ratelimit.redis.addr: required when backend is redis`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate =\n%v\nwant\n%s", err, want)
	}
}

func TestLookups(t *testing.T) {
	c := mustParse(t, minimal, nil)
	if a, ok := c.Account("a"); !ok || a != &c.Accounts[0] {
		t.Errorf("Account(a) = %v, %v", a, ok)
	}
	if d, ok := c.Deployment("d"); !ok || d != &c.Deployments[0] {
		t.Errorf("Deployment(d) = %v, %v", d, ok)
	}
	if r, ok := c.Route("r"); !ok || r != &c.Routes[0] {
		t.Errorf("Route(r) = %v, %v", r, ok)
	}
	if _, ok := c.Account("nope"); ok {
		t.Error("Account(nope) found")
	}
	if _, ok := c.Deployment("nope"); ok {
		t.Error("Deployment(nope) found")
	}
	if _, ok := c.Route("nope"); ok {
		t.Error("Route(nope) found")
	}
}

// TestConfigPrintsNoSecret formats a loaded config every usual way.
func TestConfigPrintsNoSecret(t *testing.T) {
	yml := "admin_key: sk-SECRET-1\n" + strings.Replace(minimal, "api_key: k}", "api_key: sk-SECRET-2}", 1) +
		"simulator: {keys: [{key: sk-SECRET-3, provider: openai}]}\n"
	c := mustParse(t, strings.Replace(yml, "key: ck}", "key: sk-SECRET-4}", 1), nil)
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v", c, c, c), fmt.Sprintf("%+v", *c.Simulator), string(j)} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("a secret shows in %s", s)
		}
	}
}

// TestFallbackCycles checks the cycle check against a plain search on
// random fallback graphs.
func TestFallbackCycles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		n := 1 + rng.IntN(6)
		fallbacks := make([][]int, n)
		var b strings.Builder
		b.WriteString(strings.Replace(minimal, "routes: [{name: r, deployments: [d]}]\n", "", 1))
		b.WriteString("routes:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - {name: r%d, deployments: [d], fallbacks: [", i)
			for j := range rng.IntN(4) {
				f := rng.IntN(n)
				fallbacks[i] = append(fallbacks[i], f)
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "r%d", f)
			}
			b.WriteString("]}\n")
		}
		// reaches reports whether from leads to to.
		var reaches func(from, to int, seen map[int]bool) bool
		reaches = func(from, to int, seen map[int]bool) bool {
			if from == to {
				return true
			}
			if seen[from] {
				return false
			}
			seen[from] = true
			for _, f := range fallbacks[from] {
				if reaches(f, to, seen) {
					return true
				}
			}
			return false
		}
		var want []string
		for i := range n {
			for j, f := range fallbacks[i] {
				switch {
				case f == i:
					want = append(want, fmt.Sprintf("routes[%d].fallbacks[%d]: a route cannot fall back to itself", i, j))
				case reaches(f, i, map[int]bool{}):
					want = append(want, fmt.Sprintf(`routes[%d].fallbacks[%d]: fallback "r%d" leads back to "r%d" (a cycle)`, i, j, f, i))
				}
			}
		}
		var got []string
		c, err := Parse([]byte(b.String()), "t.yml", nil)
		if err != nil {
			for _, p := range err.(Problems) {
				got = append(got, p.Field+": "+p.Message)
			}
		} else if c.Validate() != nil {
			t.Errorf("Validate rejects what Parse accepts:\n%s", b.String())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("config:\n%s\nproblems:\n%s\nwant:\n%s", b.String(), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestFallbacksScale checks that a small file whose aliases make many
// routes with many fallbacks validates quickly (the check once searched
// the routes again for every fallback: over a minute here).
func TestFallbacksScale(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-fallbacks: &f [")
	for i := range 200 {
		fmt.Fprintf(&b, "r%d, ", i)
	}
	b.WriteString("r0]\n")
	b.WriteString(strings.Replace(minimal, "routes: [{name: r, deployments: [d]}]\n", "", 1))
	b.WriteString("routes:\n")
	for i := range 600 {
		fmt.Fprintf(&b, "  - {name: r%d, deployments: [d], fallbacks: *f}\n", i)
	}
	start := time.Now()
	_, err := Parse([]byte(b.String()), "t.yml", nil)
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Parse took %v for %d bytes", elapsed, b.Len())
	}
	// r0..r199 fall back to one another (and each to itself); r200.. are
	// never fallen back to.
	if ps, ok := err.(Problems); !ok || len(ps) != 200*201 {
		t.Errorf("got %d problems, want %d: %.300v", len(ps), 200*201, err)
	}
}
