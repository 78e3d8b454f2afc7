package sim_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/llmux/llmux/internal/sim"
)

// A simulator with one OpenAI key limited to 2 requests per minute: the
// third request in the same instant gets OpenAI's 429.
func Example() {
	s, err := sim.New(sim.Config{
		Seed: 1,
		Keys: []sim.Key{{Key: "sk-example-key-123", Provider: sim.ProviderOpenAI, RPM: 2}},
		Now:  func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	for range 3 {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`))
		req.Header.Set("Authorization", "Bearer sk-example-key-123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Printf("%d remaining=%s retry-after=%q\n", resp.StatusCode,
			resp.Header.Get("x-ratelimit-remaining-requests"), resp.Header.Get("retry-after"))
	}
	fmt.Printf("%+v\n", s.Stats().Totals)
	// Output:
	// 200 remaining=1 retry-after=""
	// 200 remaining=0 retry-after=""
	// 429 remaining=0 retry-after="30"
	// {Requests:3 OK:2 RateLimited:1 Errors:0 InputTokens:14 OutputTokens:10 AdmittedTokens:24}
}
