package sim

import (
	"net/http"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// models serves GET /v1/models for both providers: a request that carries
// x-api-key or anthropic-version gets Anthropic's list, any other OpenAI's.
func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("x-api-key") != "" || r.Header.Get("anthropic-version") != "" {
		s.anthropicModels(w, r)
		return
	}
	s.openaiModels(w, r, surface{provider: ProviderOpenAI})
}

func (s *Server) openaiModels(w http.ResponseWriter, r *http.Request, sf surface) {
	x := s.begin(w, r, sf)
	if x == nil {
		return
	}
	defer x.record()
	list := openai.ModelList{Object: openai.ObjectList, Data: []openai.Model{}}
	for _, m := range []struct {
		id      string
		created int64
		owner   string
	}{
		{"gpt-4o", 1715367049, "system"},
		{"gpt-4o-mini", 1721172741, "system"},
		{"gpt-4.1", 1744316542, "system"},
		{"gpt-4.1-mini", 1744318173, "system"},
		{"gpt-5", 1754425777, "system"},
		{"gpt-5-mini", 1754425928, "system"},
		{"o3", 1744225308, "system"},
		{"o4-mini", 1744225351, "system"},
		{"text-embedding-3-small", 1705948997, "system"},
		{"text-embedding-3-large", 1705953180, "system"},
		{"text-embedding-ada-002", 1671217299, "openai-internal"},
	} {
		list.Data = append(list.Data, openai.Model{ID: m.id, Object: openai.ObjectModel, Created: m.created, OwnedBy: m.owner})
	}
	x.sendJSON(list)
}

func (s *Server) anthropicModels(w http.ResponseWriter, r *http.Request) {
	x := s.beginAnthropic(w, r)
	if x == nil {
		return
	}
	defer x.record()
	list := anthropic.ModelList{Data: []anthropic.ModelInfo{}}
	for _, m := range [][3]string{
		{"claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"},
		{"claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"},
		{"claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"},
		{"claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-14T00:00:00Z"},
		{"claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"},
	} {
		list.Data = append(list.Data, anthropic.ModelInfo{Type: "model", ID: m[0], DisplayName: m[1], CreatedAt: m[2]})
	}
	first, last := list.Data[0].ID, list.Data[len(list.Data)-1].ID
	list.FirstID, list.LastID = &first, &last
	x.sendJSON(list)
}
