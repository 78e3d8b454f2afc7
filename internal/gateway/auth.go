package gateway

import (
	"net/http"
	"slices"
	"strings"

	"github.com/llmux/llmux/internal/config"
)

// authenticate finds the client key in Authorization: Bearer or x-api-key.
func (g *Gateway) authenticate(r *http.Request) (*config.Key, *apiError) {
	raw := r.Header.Get("x-api-key")
	if raw == "" {
		if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			raw = strings.TrimSpace(v)
		}
	}
	if raw == "" {
		return nil, &apiError{status: http.StatusUnauthorized, code: "missing_api_key",
			message: "Missing API key: send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'."}
	}
	k, ok := g.keys[raw]
	if !ok {
		return nil, &apiError{status: http.StatusUnauthorized, code: "invalid_api_key",
			message: "Incorrect API key provided: " + maskKey(raw) + "."}
	}
	return k, nil
}

// allowed reports whether key may use route.
func allowed(k *config.Key, route string) bool {
	return len(k.Routes) == 0 || slices.Contains(k.Routes, route)
}

// maskKey shows the first and last few characters of a key, as OpenAI does
// in its 401 message, so the caller can tell which key was wrong.
func maskKey(k string) string {
	if len(k) <= 8 {
		return "***"
	}
	return k[:3] + "***" + k[len(k)-4:]
}
