package config

import (
	"fmt"
	"os"
	"reflect"
	"time"
)

// Defaults, as documented on the fields.
const (
	defaultListen          = "127.0.0.1:8080"
	defaultMaxBodyBytes    = 32 << 20
	defaultTimeout         = 10 * time.Minute
	defaultAzureAPIVersion = "2024-10-21"
	defaultSimulatorListen = "127.0.0.1:9090"
	defaultMaxWait         = 10 * time.Second
	defaultQueueTarget     = 2 * time.Second
	defaultContinuations   = 2
	defaultQueueSize       = 10000
	defaultGuardTimeout    = 5 * time.Second
	defaultRedisPrefix     = "llmux:"
)

// allCapabilities returns a new list of every capability, the default.
func allCapabilities() []string {
	return []string{CapabilityTools, CapabilityImages, CapabilityJSON, CapabilityStreaming}
}

// Load reads the file at path, interpolates the environment, decodes
// strictly, applies defaults and validates. If the file cannot be read it
// returns the wrapped os error; if the file has problems, it returns them
// all as Problems.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path, os.LookupEnv)
}

// Parse is Load on bytes; path is used in messages only. lookupEnv
// resolves ${VAR} (os.LookupEnv in production; nil means an empty
// environment). On problems Parse returns a nil Config and Problems.
func Parse(data []byte, path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	root, probs := parseYAML(data, path)
	if len(probs) > 0 {
		return nil, probs
	}
	d := newDecoder(path, lookupEnv)
	c := &Config{Path: path}
	if root != nil {
		d.decode(root, reflect.ValueOf(c).Elem(), "")
	}
	if d.exhausted() {
		d.probs.sort()
		return nil, d.probs
	}
	applyDefaults(c, d.pos)
	probs = append(d.probs, validate(c, path, d.pos)...)
	if len(probs) > 0 {
		probs.sort()
		return nil, probs
	}
	return c, nil
}

// applyDefaults fills what the file left out. Numbers whose zero could be
// meant (weight, timeout, max_body_bytes) get their default only when
// absent, so an explicit 0 stays and is validated.
func applyDefaults(c *Config, pos *positions) {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if !pos.given["max_body_bytes"] {
		c.MaxBodyBytes = defaultMaxBodyBytes
	}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if !pos.given[fmt.Sprintf("accounts[%d].timeout", i)] {
			a.Timeout = defaultTimeout
		}
		if a.Provider == ProviderAzure && a.APIVersion == "" && azureClassic(a.BaseURL) {
			a.APIVersion = defaultAzureAPIVersion
		}
	}
	for i := range c.Deployments {
		d := &c.Deployments[i]
		if d.Family == "" {
			d.Family = d.Model
		}
		if !pos.given[fmt.Sprintf("deployments[%d].weight", i)] {
			d.Weight = 1
		}
		if !pos.given[fmt.Sprintf("deployments[%d].capabilities", i)] {
			d.Capabilities = allCapabilities()
			if a, ok := c.Account(d.Account); ok && a.Provider == ProviderAnthropic {
				d.Capabilities = append(d.Capabilities, CapabilityPrefill)
			}
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Strategy == "" {
			r.Strategy = StrategyRoundRobin
		}
		if r.MaxAttempts == 0 {
			r.MaxAttempts = len(r.Deployments)
		}
		if !pos.given[fmt.Sprintf("routes[%d].max_wait", i)] {
			r.MaxWait = defaultMaxWait
		}
		if !pos.given[fmt.Sprintf("routes[%d].queue_target", i)] {
			r.QueueTarget = defaultQueueTarget
		}
		if r.Continuation.Mode == "" {
			r.Continuation.Mode = ContinuationContinue
		}
		if r.Continuation.Max == 0 {
			r.Continuation.Max = defaultContinuations
		}
	}
	for i := range c.Guardrails {
		g := &c.Guardrails[i]
		if g.Hook == "" {
			g.Hook = HookPostCall
		}
		if g.Action == "" {
			g.Action = ActionDeny
		}
		if g.Type == GuardCommand && !pos.given[fmt.Sprintf("guardrails[%d].timeout", i)] {
			g.Timeout = defaultGuardTimeout
		}
	}
	rl := &c.RateLimit
	if rl.Backend == "" {
		rl.Backend = BackendMemory
	}
	if !pos.given["ratelimit.replicas"] {
		rl.Replicas = 1
	}
	if !pos.given["ratelimit.queue_size"] {
		rl.QueueSize = defaultQueueSize
	}
	if rl.Redis.Prefix == "" {
		rl.Redis.Prefix = defaultRedisPrefix
	}
	if s := c.Simulator; s != nil {
		if s.Listen == "" {
			s.Listen = defaultSimulatorListen
		}
		if s.TimeScale == nil {
			one := 1.0
			s.TimeScale = &one
		}
	}
}
