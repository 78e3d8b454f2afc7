package sim

import (
	"testing"
)

// BenchmarkChat measures the simulator's own cost per request, without
// latency: what it adds to a gateway benchmark that runs against it.
func BenchmarkChat(b *testing.B) {
	for _, bc := range []struct {
		name string
		call call
	}{
		{"openai", chatReq(chatBody)},
		{"openai_stream", chatReq(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello there"}]}`)},
		{"anthropic_stream", messagesCallOf(`{"model":"c","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Hello there"}]}`)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newTestServer(b, func(c *Config) {
				c.Keys = []Key{{Key: openaiKey, Provider: ProviderOpenAI}, {Key: anthropicKey, Provider: ProviderAnthropic}}
			})
			b.ReportAllocs()
			for b.Loop() {
				if w := serve(s, bc.call); w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
