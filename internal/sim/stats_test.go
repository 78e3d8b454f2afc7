package sim

import "testing"

// TestAdmittedTokens checks that AdmittedTokens counts what each provider
// charges at arrival against its token limit (TPM: prompt + max output;
// ITPM: the prompt), and nothing for a request the limits refused.
func TestAdmittedTokens(t *testing.T) {
	s, _ := limitServer(t, Key{Key: "sk-tpm-200-000000", Provider: ProviderOpenAI, TPM: 200})
	oa := call{path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer sk-tpm-200-000000"}, body: limitedChat}
	if w := serve(s, oa); w.Code != 200 {
		t.Fatalf("first openai request: %d %s", w.Code, w.Body)
	}
	if w := serve(s, oa); w.Code != 429 {
		t.Fatalf("second openai request: %d, want 429 (109 + 109 > 200)", w.Code)
	}
	serve(s, call{path: "/openai/deployments/gpt/chat/completions?api-version=2024-10-21", header: azureAuth(), body: limitedChat})
	serve(s, anthropicCall(anthropicKey, limitedMessages))

	st := s.Stats()
	for _, c := range []struct {
		name string
		key  string
		want int64
	}{
		{"openai: prompt 9 + max_tokens 100, the 429 not counted", "sk-tpm-200-000000", 109},
		{"azure: prompt 9 + max_tokens 100", azureKey, 109},
		{"anthropic: the prompt only", anthropicKey, 9},
	} {
		if got := st.Keys[c.key].AdmittedTokens; got != c.want {
			t.Errorf("%s: admitted %d, want %d", c.name, got, c.want)
		}
	}
	if st.Totals.AdmittedTokens != 109+109+9 {
		t.Errorf("totals: admitted %d, want %d", st.Totals.AdmittedTokens, 109+109+9)
	}
}
