package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// envFrom returns a lookupEnv over m.
func envFrom(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// TestBadConfigs checks every message against a file that has that
// problem; every testdata/*.bad.yml needs a case here.

// defaultContinuation is a route's continuation when the file says none.
var defaultContinuation = Continuation{Mode: ContinuationContinue, Max: defaultContinuations}

func TestBadConfigs(t *testing.T) {
	tests := map[string][]string{
		"guardrails.bad.yml": {
			`guardrails.bad.yml:9: routes[0].guardrails[1]: "nope" is not defined in guardrails`,
			"guardrails.bad.yml:13: keys[0].guardrails[0]: required",
			"guardrails.bad.yml:17: guardrails[0].schema: must be a JSON Schema object",
			"guardrails.bad.yml:18: guardrails[0].schema_file: set schema or schema_file, not both",
			`guardrails.bad.yml:19: guardrails[1].name: duplicate "json-out" (also guardrails[0])`,
			"guardrails.bad.yml:19: guardrails[1]: a regex guardrail needs match or deny patterns",
			`guardrails.bad.yml:21: guardrails[1].hook: "before" is not a hook; use one of pre_call, during_call, post_call`,
			`guardrails.bad.yml:22: guardrails[1].action: "block" is not an action; use one of deny, flag, fallback, reask`,
			"guardrails.bad.yml:25: guardrails[2].match[0]: not a valid regular expression: error parsing regexp: missing closing ): `(unclosed`",
			"guardrails.bad.yml:29: guardrails[3].action: reask retries with the answer's failure appended, so it applies to post_call only",
			"guardrails.bad.yml:34: guardrails[4].action: fallback needs an upstream answer or a parallel check: use it on during_call or post_call",
			"guardrails.bad.yml:35: guardrails[4].max_chars: must be >= 0, got -1",
			"guardrails.bad.yml:36: guardrails[5].command: required: the program and its arguments",
			"guardrails.bad.yml:38: guardrails[5].timeout: must be >= 0, got -1s",
			"guardrails.bad.yml:39: guardrails[6].fields: required: the dotted paths that must be present",
			"guardrails.bad.yml:41: guardrails[7]: a contains guardrail needs any, all or none",
			`guardrails.bad.yml:44: guardrails[8].type: "sql" is not a guardrail type; use one of regex, contains, length, json, required_fields, command`,
			"guardrails.bad.yml:45: prompts.dir: required",
			"guardrails.bad.yml:48: secrets.allow[0]: not a valid regular expression: error parsing regexp: invalid character class range: `z-a`",
		},
		"extra_fallbacks.bad.yml": {
			`extra_fallbacks.bad.yml:16: routes[0].context_fallbacks[0]: "big" is not defined in routes`,
			"extra_fallbacks.bad.yml:17: routes[0].content_filter_fallbacks[0]: a route cannot fall back to itself",
		},
		"hedge.bad.yml": {
			"hedge.bad.yml:13: deployments[0].timeouts.total: must be >= 0, got -1s",
			"hedge.bad.yml:18: routes[0].timeouts.first_token: must be >= 0, got -5s",
			"hedge.bad.yml:19: routes[0].hedge.after: required: how long to wait for the first token before hedging (with p95, until a deployment has samples)",
			"hedge.bad.yml:21: routes[0].hedge.budget: 1.5 must be in (0, 1]: the fraction of the route's requests that may be hedged",
		},
		"account_name_duplicate.bad.yml": {
			`account_name_duplicate.bad.yml:7: accounts[1].name: duplicate "oai" (also accounts[0])`,
		},
		"account_name_required.bad.yml": {
			"account_name_required.bad.yml:3: accounts[0].name: required",
			`account_name_required.bad.yml:8: deployments[0].account: "x" is not defined in accounts`,
		},
		"admin_key.bad.yml": {
			"admin_key.bad.yml:2: admin_key: same value as keys[0].key; the admin key must be a key of its own",
		},
		"api_key_required.bad.yml": {
			"api_key_required.bad.yml:3: accounts[0].api_key: required",
		},
		"api_version.bad.yml": {
			`api_version.bad.yml:7: accounts[0].api_version: "2024-13-01" is not a date like "2024-10-21" or "2025-04-01-preview"`,
		},
		"api_version_unused.bad.yml": {
			"api_version_unused.bad.yml:7: accounts[0].api_version: only used by azure accounts with a classic base_url (not .../openai/v1)",
		},
		"base_url_invalid.bad.yml": {
			`base_url_invalid.bad.yml:5: accounts[0].base_url: "api.openai.com/v1" is not an absolute http(s) URL or "simulator"`,
		},
		"base_url_password.bad.yml": {
			`base_url_password.bad.yml:5: accounts[0].base_url: "ftp://user:xxxxx@example.com" is not an absolute http(s) URL or "simulator"`,
		},
		"base_url_required.bad.yml": {
			"base_url_required.bad.yml:3: accounts[0].base_url: required",
		},
		"base_url_simulator.bad.yml": {
			`base_url_simulator.bad.yml:5: accounts[0].base_url: "simulator" needs a simulator section`,
		},
		"capability.bad.yml": {
			`capability.bad.yml:15: deployments[0].capabilities[1]: "vision" is not a capability; allowed: tools, images, json, streaming, prefill`,
			`capability.bad.yml:16: deployments[0].capabilities[2]: duplicate "tools" (also deployments[0].capabilities[0])`,
		},
		"context_window.bad.yml": {
			"context_window.bad.yml:8: deployments[0].context_window: must be > 0, got 0",
		},
		"deployment_account_required.bad.yml": {
			"deployment_account_required.bad.yml:8: deployments[0].account: required",
		},
		"deployment_account_undefined.bad.yml": {
			`deployment_account_undefined.bad.yml:9: deployments[0].account: "openai" is not defined in accounts`,
		},
		"deployment_tier.bad.yml": {
			`deployment_tier.bad.yml:14: deployments[0].tiers[1]: "free" is not listed in tiers`,
			`deployment_tier.bad.yml:14: deployments[0].tiers[2]: duplicate "pro" (also deployments[0].tiers[0])`,
			"deployment_tier.bad.yml:14: deployments[0].tiers[3]: required",
		},
		"deployment_name_duplicate.bad.yml": {
			`deployment_name_duplicate.bad.yml:13: deployments[1].name: duplicate "gpt" (also deployments[0])`,
		},
		"deployment_name_required.bad.yml": {
			"deployment_name_required.bad.yml:8: deployments[0].name: required",
			`deployment_name_required.bad.yml:14: routes[0].deployments[0]: "x" is not defined in deployments`,
		},
		"empty.bad.yml": {
			"empty.bad.yml: accounts: at least one account is required",
			"empty.bad.yml: deployments: at least one deployment is required",
			"empty.bad.yml: routes: at least one route is required",
			"empty.bad.yml: keys: at least one key is required",
		},
		"env_name.bad.yml": {
			`env_name.bad.yml:10: deployments[0].model: invalid environment variable name "1MODEL"`,
		},
		"env_unset.bad.yml": {
			"env_unset.bad.yml:6: accounts[0].api_key: environment variable OPENAI_API_KEY is not set (write ${OPENAI_API_KEY:-default} for a default)",
		},
		"env_unterminated.bad.yml": {
			`env_unterminated.bad.yml:10: deployments[0].model: unterminated "${" (write "$${" for a literal "${")`,
		},
		"fallback_cycle.bad.yml": {
			`fallback_cycle.bad.yml:21: routes[0].fallbacks[0]: fallback "b" leads back to "a" (a cycle)`,
			`fallback_cycle.bad.yml:24: routes[1].fallbacks[0]: fallback "c" leads back to "b" (a cycle)`,
			`fallback_cycle.bad.yml:27: routes[2].fallbacks[0]: fallback "a" leads back to "c" (a cycle)`,
		},
		"fallback_kind.bad.yml": {
			`fallback_kind.bad.yml:21: routes[0].fallbacks[0]: "embed" serves a different kind of request than "chat"`,
			`fallback_kind.bad.yml:24: routes[1].fallbacks[0]: "chat" serves a different kind of request than "embed"`,
		},
		"fallback_self.bad.yml": {
			"fallback_self.bad.yml:16: routes[0].fallbacks[0]: a route cannot fall back to itself",
		},
		"fallback_undefined.bad.yml": {
			`fallback_undefined.bad.yml:17: routes[0].fallbacks[0]: "chat-mini" is not defined in routes`,
			"fallback_undefined.bad.yml:18: routes[0].fallbacks[1]: required",
		},
		"fault_flapping_delay.bad.yml": {
			"fault_flapping_delay.bad.yml:26: simulator.faults[0].delay: required for kind flapping: the length of each failing and healthy period",
		},
		"fault_key.bad.yml": {
			"fault_key.bad.yml:28: simulator.faults[0].key: not one of simulator.keys",
		},
		"fault_kind_required.bad.yml": {
			"fault_kind_required.bad.yml:26: simulator.faults[0].kind: required; allowed: status, reset, reset_before_headers, no_response, stall, slow_first_token, garbage, malformed_event, no_done, context_length, content_filter, prefill_rejected, flapping",
		},
		"fault_kind_unknown.bad.yml": {
			`fault_kind_unknown.bad.yml:26: simulator.faults[0].kind: "timeout" is not a fault kind; allowed: status, reset, reset_before_headers, no_response, stall, slow_first_token, garbage, malformed_event, no_done, context_length, content_filter, prefill_rejected, flapping`,
		},
		"fault_negative.bad.yml": {
			"fault_negative.bad.yml:28: simulator.faults[0].after_tokens: must be >= 0, got -1",
			"fault_negative.bad.yml:29: simulator.faults[0].delay: must be >= 0, got -1s",
		},
		"fault_rate.bad.yml": {
			"fault_rate.bad.yml:26: simulator.faults[0].rate: must be in (0, 1], got 0",
		},
		"fault_retry_after.bad.yml": {
			"fault_retry_after.bad.yml:29: simulator.faults[0].retry_after: must be >= 0, got -2s",
		},
		"fault_retry_after_unused.bad.yml": {
			"fault_retry_after_unused.bad.yml:29: simulator.faults[0].retry_after: only used by kind status",
		},
		"fault_status_range.bad.yml": {
			"fault_status_range.bad.yml:27: simulator.faults[0].status: 200 is not in 400..599",
		},
		"fault_status_required.bad.yml": {
			"fault_status_required.bad.yml:26: simulator.faults[0].status: required for kind status",
		},
		"fault_status_unused.bad.yml": {
			"fault_status_unused.bad.yml:27: simulator.faults[0].status: only used by kind status",
		},
		"fault_times.bad.yml": {
			"fault_times.bad.yml:29: simulator.faults[0].times: must be >= 0, got -1",
		},
		"field_name.bad.yml": {
			"field_name.bad.yml:19: want a field name, got a list",
		},
		"header_name.bad.yml": {
			`header_name.bad.yml:8: accounts[0].headers: "OpenAI Organization" is not a valid header name`,
		},
		"header_value.bad.yml": {
			"header_value.bad.yml:8: accounts[0].headers.OpenAI-Organization: value contains a line break or NUL",
		},
		"key_duplicate.bad.yml": {
			"key_duplicate.bad.yml:20: keys[1].key: duplicate key value (also keys[0])",
		},
		"key_limits.bad.yml": {
			"key_limits.bad.yml:19: keys[0].limits.rpm: must be >= 0, got -1",
			"key_limits.bad.yml:20: keys[0].limits.tpm: must be >= 0, got -100",
		},
		"key_limits_itpm.bad.yml": {
			"key_limits_itpm.bad.yml:19: keys[0].limits: key limits are rpm/tpm; itpm/otpm are anthropic deployment limits",
			"key_limits_itpm.bad.yml:22: keys[1].limits: key limits are rpm/tpm; itpm/otpm are anthropic deployment limits",
		},
		"key_name_duplicate.bad.yml": {
			`key_name_duplicate.bad.yml:19: keys[1].name: duplicate "dev" (also keys[0])`,
		},
		"key_name_required.bad.yml": {
			"key_name_required.bad.yml:17: keys[0].name: required",
		},
		"key_required.bad.yml": {
			"key_required.bad.yml:17: keys[0].key: required",
		},
		"key_route_undefined.bad.yml": {
			`key_route_undefined.bad.yml:19: keys[0].routes[1]: "fast" is not defined in routes`,
		},
		"key_tier.bad.yml": {
			`key_tier.bad.yml:19: keys[0].tier: "free" is not listed in tiers`,
		},
		"limits.bad.yml": {
			"limits.bad.yml:13: deployments[0].limits.rpm: must be >= 0, got -1",
		},
		"limits_anthropic_rpm_only.bad.yml": {
			"limits_anthropic_rpm_only.bad.yml:13: deployments[0].limits.itpm: rpm is limited but itpm is 0 (unlimited); set itpm (and otpm) too, or neither",
		},
		"limits_anthropic_tpm.bad.yml": {
			"limits_anthropic_tpm.bad.yml:15: deployments[0].limits.tpm: anthropic limits are itpm/otpm",
		},
		"limits_openai_itpm.bad.yml": {
			"limits_openai_itpm.bad.yml:15: deployments[0].limits.itpm: openai limits are rpm/tpm; itpm/otpm are anthropic's",
			"limits_openai_itpm.bad.yml:16: deployments[0].limits.otpm: openai limits are rpm/tpm; itpm/otpm are anthropic's",
		},
		"limits_rpm_only.bad.yml": {
			"limits_rpm_only.bad.yml:13: deployments[0].limits.tpm: rpm is limited but tpm is 0 (unlimited); set tpm too, or neither",
		},
		"listen.bad.yml": {
			`listen.bad.yml:2: listen: "8080" is not a host:port address`,
		},
		"max_attempts.bad.yml": {
			"max_attempts.bad.yml:16: routes[0].max_attempts: must be >= 0, got -1",
		},
		"max_body_bytes.bad.yml": {
			"max_body_bytes.bad.yml:2: max_body_bytes: must be > 0, got 0",
		},
		"max_output.bad.yml": {
			"max_output.bad.yml:12: deployments[0].max_output: must be > 0, got 0",
		},
		"max_output_embeddings.bad.yml": {
			"max_output_embeddings.bad.yml:12: deployments[0].max_output: must be >= 0, got -1",
		},
		"max_output_exceeds.bad.yml": {
			"max_output_exceeds.bad.yml:12: deployments[0].max_output: 16384 exceeds context_window 8192",
		},
		"retries.bad.yml": {
			"retries.bad.yml:12: deployments[0].retries: must be >= 0, got -2",
			`retries.bad.yml:13: deployments[0].capabilities[2]: "rewind" is not a capability; allowed: tools, images, json, streaming, prefill`,
			"retries.bad.yml:17: routes[0].retries: must be >= 0, got -1",
			"retries.bad.yml:18: routes[0].retry_after_max: must be >= 0, got -1s",
			`retries.bad.yml:20: routes[0].continuation.mode: "resume" is not a continuation mode; allowed: continue, off`,
			"retries.bad.yml:21: routes[0].continuation.max: must be >= 0, got -3",
		},
		"max_wait.bad.yml": {
			"max_wait.bad.yml:15: routes[0].max_wait: must be >= 0, got -500ms",
		},
		"queue_target.bad.yml": {
			"queue_target.bad.yml:15: routes[0].queue_target: must be >= 0, got -2s",
		},
		"merge.bad.yml": {
			`merge.bad.yml:10: deployments[0]: merge (<<) wants a mapping or a list of mappings, got "5"`,
		},
		"model_required.bad.yml": {
			"model_required.bad.yml:8: deployments[0].model: required",
		},
		"not_mapping.bad.yml": {
			"not_mapping.bad.yml:2: want a mapping, got a list",
		},
		"price.bad.yml": {
			"price.bad.yml:15: deployments[0].price.output: must be >= 0, got -10",
		},
		"provider_required.bad.yml": {
			"provider_required.bad.yml:3: accounts[0].provider: required; allowed: openai, azure, anthropic, openai-compatible",
		},
		"provider_unknown.bad.yml": {
			`provider_unknown.bad.yml:4: accounts[0].provider: "gemini" is not a provider; allowed: openai, azure, anthropic, openai-compatible`,
		},
		"queue_size.bad.yml": {
			"queue_size.bad.yml:2: ratelimit.queue_size: -1 must be 0 or more",
		},
		"ratelimit_backend.bad.yml": {
			`ratelimit_backend.bad.yml:2: ratelimit.backend: "etcd" is not a backend; allowed: memory, redis`,
		},
		"redis_addr.bad.yml": {
			`redis_addr.bad.yml:4: ratelimit.redis.addr: "redis://:xxxxx@localhost:6379/0" is not a host:port address`,
		},
		"redis_addr_required.bad.yml": {
			"redis_addr_required.bad.yml:4: ratelimit.redis.addr: required when backend is redis",
		},
		"redis_db.bad.yml": {
			"redis_db.bad.yml:5: ratelimit.redis.db: must be >= 0, got -1",
		},
		"repeated_field.bad.yml": {
			"repeated_field.bad.yml:11: deployments[0].model: repeated (first at line 10)",
		},
		"replicas.bad.yml": {
			"replicas.bad.yml:3: ratelimit.replicas: 0 must be at least 1",
		},
		"route_deployment_duplicate.bad.yml": {
			`route_deployment_duplicate.bad.yml:15: routes[0].deployments[1]: duplicate "gpt" (also routes[0].deployments[0])`,
		},
		"route_deployment_undefined.bad.yml": {
			`route_deployment_undefined.bad.yml:15: routes[0].deployments[1]: "gpt-5" is not defined in deployments`,
		},
		"route_deployments_required.bad.yml": {
			"route_deployments_required.bad.yml:14: routes[0].deployments: at least one deployment is required",
		},
		"route_mixed.bad.yml": {
			`route_mixed.bad.yml:20: routes[0].deployments: mixes embeddings ("embed") and chat ("gpt") deployments`,
		},
		"route_name_duplicate.bad.yml": {
			`route_name_duplicate.bad.yml:16: routes[1].name: duplicate "chat" (also routes[0])`,
		},
		"route_name_required.bad.yml": {
			"route_name_required.bad.yml:14: routes[0].name: required",
		},
		"route_name_space.bad.yml": {
			`route_name_space.bad.yml:14: routes[0].name: "my chat" contains whitespace`,
		},
		"sim_account_key.bad.yml": {
			"sim_account_key.bad.yml:6: accounts[0].api_key: not one of simulator.keys",
		},
		"sim_account_provider.bad.yml": {
			`sim_account_provider.bad.yml:4: accounts[0].provider: "anthropic" does not match simulator.keys[0].provider "openai"`,
		},
		"sim_anthropic_tpm.bad.yml": {
			"sim_anthropic_tpm.bad.yml:27: simulator.keys[1].tpm: anthropic limits are itpm/otpm",
		},
		"sim_key_duplicate.bad.yml": {
			"sim_key_duplicate.bad.yml:25: simulator.keys[1].key: duplicate key value (also simulator.keys[0])",
		},
		"sim_key_required.bad.yml": {
			"sim_key_required.bad.yml:25: simulator.keys[1].key: required",
		},
		"sim_latency.bad.yml": {
			"sim_latency.bad.yml:21: simulator.latency.ttft_max: must be >= 0, got -1s",
		},
		"sim_latency_p99.bad.yml": {
			"sim_latency_p99.bad.yml:22: simulator.latency.ttft_p99: 1s is less than ttft_median 2s",
		},
		"sim_limits.bad.yml": {
			"sim_limits.bad.yml:23: simulator.keys[0].rpm: must be >= 0, got -500",
		},
		"sim_listen.bad.yml": {
			`sim_listen.bad.yml:20: simulator.listen: "localhost" is not a host:port address`,
		},
		"sim_openai_itpm.bad.yml": {
			"sim_openai_itpm.bad.yml:24: simulator.keys[0].itpm: openai limits are rpm/tpm; itpm/otpm are anthropic's",
		},
		"sim_provider_required.bad.yml": {
			"sim_provider_required.bad.yml:25: simulator.keys[1].provider: required; allowed: openai, azure, anthropic",
		},
		"sim_provider_unknown.bad.yml": {
			`sim_provider_unknown.bad.yml:26: simulator.keys[1].provider: "openai-compatible" is not a simulator provider; allowed: openai, azure, anthropic`,
		},
		"sim_time_scale.bad.yml": {
			"sim_time_scale.bad.yml:20: simulator.time_scale: must be >= 0, got -0.5",
		},
		"strategy.bad.yml": {
			`strategy.bad.yml:16: routes[0].strategy: "least-busy" is not a strategy; allowed: round-robin, priority, weighted, least-utilized, latency, cost`,
		},
		"strategy_weighted.bad.yml": {
			"strategy_weighted.bad.yml:23: routes[0].strategy: weighted, but the weights of its deployments sum to 0",
		},
		"syntax.bad.yml": {
			"syntax.bad.yml:10: yaml: could not find expected ':'",
		},
		"tier_duplicate.bad.yml": {
			`tier_duplicate.bad.yml:4: tiers[2]: duplicate "pro" (also tiers[0])`,
			"tier_duplicate.bad.yml:5: tiers[3]: required",
		},
		"timeout.bad.yml": {
			"timeout.bad.yml:7: accounts[0].timeout: must be >= 0, got -1s",
		},
		"two_documents.bad.yml": {
			"two_documents.bad.yml:19: a second YAML document; want one per file",
		},
		"type_bool.bad.yml": {
			`type_bool.bad.yml:13: deployments[0].embeddings: want true or false, got "yes"`,
		},
		"type_duration.bad.yml": {
			`type_duration.bad.yml:7: accounts[0].timeout: want a duration such as "30s", got "30"`,
		},
		"type_float.bad.yml": {
			`type_float.bad.yml:13: deployments[0].price.input: want a number, got "cheap"`,
		},
		"type_int.bad.yml": {
			`type_int.bad.yml:11: deployments[0].context_window: want an integer, got "large"`,
		},
		"type_list.bad.yml": {
			`type_list.bad.yml:15: routes[0].deployments: want a list, got "gpt"`,
		},
		"type_mapping.bad.yml": {
			`type_mapping.bad.yml:13: deployments[0].price: want a mapping, got "5"`,
		},
		"type_quoted_int.bad.yml": {
			`type_quoted_int.bad.yml:11: deployments[0].context_window: want an integer, got "128000" in quotes`,
		},
		"type_string.bad.yml": {
			"type_string.bad.yml:10: deployments[0].model: want a string, got a list",
		},
		"unknown_field.bad.yml": {
			`unknown_field.bad.yml:6: accounts[0]: unknown field "api_kye" (did you mean "api_key"?)`,
		},
		"unknown_top_field.bad.yml": {
			`unknown_top_field.bad.yml:19: unknown field "plugins"`,
		},
		"weight.bad.yml": {
			"weight.bad.yml:13: deployments[0].weight: must be >= 0, got -2",
		},
	}
	files, err := filepath.Glob("testdata/*.bad.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := tests[filepath.Base(f)]; !ok {
			t.Errorf("%s has no case in TestBadConfigs", f)
		}
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(data, name, nil)
			if c != nil {
				t.Errorf("Parse returned a config along with problems")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse error = %v (%T), want Problems", err, err)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

var goodEnv = map[string]string{
	"LLMUX_ADMIN_KEY": "admin-secret",
	"OPENAI_API_KEY":  "sk-openai",
	"AZURE_API_KEY":   "azure-key",
	"GPT_RPM":         "500",
	"DEV_KEY":         "llmux-dev",
	"REDIS_PASSWORD":  "redis-secret",
	// OPENAI_BASE_URL and REDIS_ADDR are unset: their defaults apply.
}

// TestGoodConfig checks defaults, interpolation, anchors and merge keys,
// and item lines on testdata/good.yml.
func TestGoodConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data, "testdata/good.yml", envFrom(goodEnv))
	if err != nil {
		t.Fatal(err)
	}
	one := 1.0
	want := &Config{
		Listen:       "127.0.0.1:8080",
		AdminKey:     "admin-secret",
		MaxBodyBytes: 32 << 20,
		RateLimit: RateLimit{
			Backend: "redis",
			// prefix is left out: its default applies.
			Redis:    Redis{Addr: "localhost:6379", Password: "redis-secret", DB: 2, Prefix: "llmux:"},
			Replicas: 3,
			// An explicit queue_size 0 stays.
			QueueSize: 0,
		},
		Tiers: []string{"enterprise", "pro", "free"},
		Accounts: []Account{
			{Name: "openai", Provider: "openai", BaseURL: "https://api.openai.com/v1", APIKey: "sk-openai", Timeout: 10 * time.Minute, Line: 14},
			{Name: "azure-east", Provider: "azure", BaseURL: "https://east.openai.azure.com", APIKey: "azure-key", APIVersion: "2024-10-21", Timeout: 10 * time.Minute, Line: 18},
			{Name: "azure-v1", Provider: "azure", BaseURL: "https://west.openai.azure.com/openai/v1", APIKey: "azure-key", Timeout: 0, Line: 22},
			{Name: "local", Provider: "openai-compatible", BaseURL: "http://localhost:11434/v1", Timeout: 10 * time.Minute, Line: 27},
			{Name: "sim-claude", Provider: "anthropic", BaseURL: "simulator", APIKey: "sim-anthropic", Timeout: 10 * time.Minute, Line: 30},
		},
		Deployments: []Deployment{
			{Name: "gpt-4o", Account: "openai", Model: "gpt-4o", Family: "gpt-4o", ContextWindow: 128000, MaxOutput: 16384,
				Limits: Limits{RPM: 500, TPM: 30000}, Weight: 1, Line: 35},
			{Name: "azure-gpt-4o", Account: "azure-east", Model: "prod-gpt4o", Family: "gpt-4o", ContextWindow: 128000, MaxOutput: 16384,
				Weight: 0, Line: 43},
			{Name: "azure-v1-gpt-4o", Account: "azure-v1", Model: "prod-gpt4o", Family: "gpt-4o", ContextWindow: 128000, MaxOutput: 16384,
				Weight: 0, Line: 51},
			{Name: "claude", Account: "sim-claude", Model: "claude-sonnet-4-5", Family: "claude-sonnet-4-5", ContextWindow: 200000, MaxOutput: 64000,
				Limits: Limits{RPM: 50, ITPM: 30000, OTPM: 8000}, Weight: 1, Line: 54,
				Capabilities: append(allCapabilities(), CapabilityPrefill)},
			{Name: "embed", Account: "local", Model: "nomic-embed-text", Family: "nomic-embed-text", ContextWindow: 8192,
				Embeddings: true, Weight: 1, Line: 60},
		},
		Routes: []Route{
			{Name: "chat", Deployments: []string{"gpt-4o", "azure-gpt-4o", "azure-v1-gpt-4o", "claude"}, Strategy: "round-robin", MaxAttempts: 4,
				MaxWait: 2500 * time.Millisecond, QueueTarget: 2 * time.Second, Fallbacks: []string{"claude"}, Continuation: defaultContinuation, Line: 66},
			// An explicit max_wait 0 (no waiting) stays.
			{Name: "claude", Deployments: []string{"claude"}, Strategy: "round-robin", MaxAttempts: 1, MaxWait: 0, QueueTarget: 2 * time.Second, Continuation: defaultContinuation, Line: 70},
			// max_wait is left out: its default applies.
			{Name: "embed", Deployments: []string{"embed"}, Strategy: "round-robin", MaxAttempts: 3, MaxWait: 10 * time.Second, QueueTarget: 2 * time.Second, Continuation: defaultContinuation, Line: 73},
		},
		Keys: []Key{
			{Name: "dev", Key: "llmux-dev", Tier: "pro", Limits: Limits{RPM: 60, TPM: 100000}, Line: 77},
			{Name: "literal", Key: "${not-a-variable}", Routes: []string{"chat"}, Line: 81},
		},
		Simulator: &Simulator{
			Listen:    "127.0.0.1:9090",
			TimeScale: &one,
			Keys:      []SimKey{{Key: "sim-anthropic", Provider: "anthropic", ITPM: 30000, Line: 86}},
			Line:      84,
		},
		Path: "testdata/good.yml",
	}
	// capabilities are left out everywhere: the default, all four (and
	// prefill on the anthropic account).
	for i := range want.Deployments {
		if want.Deployments[i].Capabilities == nil {
			want.Deployments[i].Capabilities = allCapabilities()
		}
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse(good.yml) =\n%#v\nwant\n%#v", c, want)
		if !reflect.DeepEqual(c.Simulator, want.Simulator) {
			t.Errorf("simulator = %#v, want %#v", *c.Simulator, *want.Simulator)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after Parse: %v", err)
	}
}

// TestFullConfig loads the reference file and checks that it shows every
// field of the schema, so the documentation cannot fall behind.
func TestFullConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	env := envFrom(map[string]string{
		"LLMUX_ADMIN_KEY":   "admin",
		"OPENAI_API_KEY":    "sk-openai",
		"AZURE_API_KEY":     "azure",
		"ANTHROPIC_API_KEY": "sk-ant",
		"WEB_APP_KEY":       "llmux-web",
		"PLAYGROUND_KEY":    "llmux-play",
		"REDIS_PASSWORD":    "redis-pw",
	})
	c, err := Parse(data, "full.yml", env)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := c.Deployment("azure-gpt-4o"); d.Limits.RPM != 300 {
		t.Errorf("azure-gpt-4o rpm = %d, want the default 300 from ${AZURE_RPM:-300}", d.Limits.RPM)
	}

	root, _ := parseYAML(data, "full.yml")
	dec := newDecoder("full.yml", env)
	dec.decode(root, reflect.ValueOf(&Config{}).Elem(), "")
	index := regexp.MustCompile(`\[\d+\]`)
	written := map[string]bool{}
	for p := range dec.pos.given {
		written[index.ReplaceAllString(p, "[]")] = true
	}
	for _, p := range schemaPaths(reflect.TypeFor[Config](), "") {
		if !written[p] {
			t.Errorf("full.yml does not show %s", p)
		}
	}
}

// schemaPaths lists the field paths of t, with [] for list items.
func schemaPaths(t reflect.Type, prefix string) []string {
	var paths []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := join(prefix, name)
		paths = append(paths, p)
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft, p = ft.Elem(), p+"[]"
		}
		if ft.Kind() == reflect.Struct && ft != durationType {
			paths = append(paths, schemaPaths(ft, p)...)
		}
	}
	return paths
}

// TestSecretsNeverShown puts one secret value in every secret field, and
// in environment variables used where they do not belong, and checks that
// no message shows it.
func TestSecretsNeverShown(t *testing.T) {
	const secret = "sk-SECRET-123"
	env := envFrom(map[string]string{"SECRET": secret, "SECRET_URL": "https://u:" + secret + "@x"})
	tests := map[string]string{
		"duplicates everywhere": `
admin_key: sk-SECRET-123
accounts:
  - {name: a, provider: openai, base_url: simulator, api_key: sk-SECRET-123}
  - {name: b, provider: anthropic, base_url: simulator, api_key: sk-SECRET-123x}
deployments: [{name: d, account: a, model: m, context_window: 10, max_output: 1}]
routes: [{name: r, deployments: [d]}]
keys:
  - {name: k1, key: sk-SECRET-123}
  - {name: k2, key: sk-SECRET-123}
simulator:
  keys:
    - {key: sk-SECRET-123, provider: azure}
    - {key: sk-SECRET-123, provider: azure}
  faults:
    - {kind: reset, rate: 0.5, key: sk-SECRET-1234}
`,
		"wrong types in secret fields": `
admin_key: [sk-SECRET-123]
accounts:
  - {name: a, provider: openai, base_url: "https://x", api_key: {sk-SECRET-123: 1}}
  - {name: b, provider: openai, base_url: "https://x", api_key: "${sk-SECRET-123}"}
  - {name: c, provider: openai, base_url: "https://x", api_key: "sk-SECRET-123", api_key: "sk-SECRET-123"}
  - {name: e, provider: openai, base_url: "https://x", api_kye: sk-SECRET-123}
keys: [{name: k, key: [sk-SECRET-123]}]
simulator: {keys: [{key: {k: sk-SECRET-123}, provider: openai}]}
ratelimit: {redis: {password: [sk-SECRET-123]}}
`,
		"redis password": `
ratelimit:
  backend: redis
  redis:
    addr: "redis://:sk-SECRET-123@localhost:6379"
    password: "${sk-SECRET-123}"
    password: sk-SECRET-123
    pasword: sk-SECRET-123
  replicas: 0
accounts: [{name: a, provider: openai, base_url: "https://x", api_key: sk-SECRET-123}]
`,
		"redis password of the wrong type": `
ratelimit: {backend: redis, redis: {addr: "localhost:6379", password: {sk-SECRET-123: 1}}}
accounts: []
`,
		"secret from the environment in the wrong field": `
listen: ${SECRET}
max_body_bytes: ${SECRET}
accounts:
  - name: ${SECRET}
    provider: ${SECRET}
    base_url: ${SECRET}
    api_key: k
    api_version: ${SECRET}
    timeout: ${SECRET}
    headers: {"X-A": "${SECRET}\r\n"}
  - {name: "${SECRET}", provider: azure, base_url: "${SECRET_URL}", api_key: k, api_version: "${SECRET}"}
  - {name: u, provider: openai, base_url: "ftp://u:sk-SECRET-123@x", api_key: k}
deployments:
  - {name: "${SECRET}", account: "${SECRET}", model: m, context_window: "${SECRET}", max_output: 1}
  - {name: "${SECRET}", account: a, model: m, context_window: 1, max_output: 2, capabilities: ["${SECRET}"], tiers: ["${SECRET}"]}
routes:
  - {name: "${SECRET} x", deployments: ["${SECRET}", "${SECRET}"], strategy: "${SECRET}", max_wait: "${SECRET}", fallbacks: ["${SECRET}"]}
keys: [{name: "${SECRET}", key: k, routes: ["${SECRET}"], tier: "${SECRET}", limits: {rpm: "${SECRET}"}}]
tiers: ["${SECRET}", "${SECRET}", x]
ratelimit:
  backend: ${SECRET}
  redis: {addr: "${SECRET}", db: "${SECRET}", prefix: "${SECRET}"}
  replicas: ${SECRET}
  queue_size: ${SECRET}
simulator:
  listen: ${SECRET}
  time_scale: ${SECRET}
  keys: [{key: s, provider: "${SECRET}", rpm: "${SECRET}"}]
  faults: [{kind: "${SECRET}", rate: "${SECRET}", status: "${SECRET}"}]
`,
	}
	for name, yml := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(yml), "secret.yml", env)
			if err == nil {
				t.Fatal("Parse succeeded, want problems")
			}
			if strings.Contains(err.Error(), "SECRET-123") {
				t.Errorf("a secret shows in:\n%v", err)
			}
			if n := len(err.(Problems)); n < 5 {
				t.Errorf("only %d problems, want the config to exercise many messages:\n%v", n, err)
			}
		})
	}
}

// FuzzParse checks that no input makes Parse panic, and that what Parse
// accepts Validate accepts too.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	env := func(name string) (string, bool) {
		if strings.HasPrefix(name, "UNSET") {
			return "", false
		}
		return "1", true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yml", env)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with problems")
			}
			ps, ok := err.(Problems)
			if !ok || len(ps) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty Problems", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate rejects: %v", err)
		}
	})
}
