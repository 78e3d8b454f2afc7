package sim

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/llmux/llmux/internal/api/openai"
)

// Azure content-filter annotations for content that passed every filter
// (providers.md §5.7).
const (
	azureFilterPassed = `{"hate":{"filtered":false,"severity":"safe"},` +
		`"jailbreak":{"filtered":false,"detected":false},` +
		`"self_harm":{"filtered":false,"severity":"safe"},` +
		`"sexual":{"filtered":false,"severity":"safe"},` +
		`"violence":{"filtered":false,"severity":"safe"}}`
	azureOutputFilterPassed = `{"hate":{"filtered":false,"severity":"safe"},` +
		`"protected_material_code":{"filtered":false,"detected":false},` +
		`"protected_material_text":{"filtered":false,"detected":false},` +
		`"self_harm":{"filtered":false,"severity":"safe"},` +
		`"sexual":{"filtered":false,"severity":"safe"},` +
		`"violence":{"filtered":false,"severity":"safe"}}`
)

func azurePromptFilter() json.RawMessage {
	return json.RawMessage(`[{"prompt_index":0,"content_filter_results":` + azureFilterPassed + `}]`)
}

func azureOutputFilter() json.RawMessage { return json.RawMessage(azureOutputFilterPassed) }

// azureDecorate adds Azure's filter annotations to a chat response.
func azureDecorate(resp *openai.ChatResponse) {
	resp.ServiceTier = ""
	resp.PromptFilterResults = azurePromptFilter()
	for i := range resp.Choices {
		resp.Choices[i].ContentFilterResults = azureOutputFilter()
	}
}

// azureFirstChunk is the first chunk of every Azure stream: no id, model
// or choices, only the prompt's filter results.
func azureFirstChunk() openai.ChatChunk {
	return openai.ChatChunk{Choices: []openai.ChunkChoice{}, PromptFilterResults: azurePromptFilter()}
}

// azureSurface reads the route: classic /openai/deployments/{d}/... needs
// api-version (without it Azure answers 404 Resource not found); the v1
// routes take the deployment from the body's model.
func (s *Server) azureSurface(w http.ResponseWriter, r *http.Request, op string) (surface, bool) {
	sf := surface{provider: ProviderAzure, deployment: r.PathValue("deployment"), operation: op, apiVersion: "v1"}
	if sf.deployment == "" {
		return sf, true
	}
	sf.apiVersion = r.URL.Query().Get("api-version")
	if sf.apiVersion == "" {
		s.reject(w, r, sf, &apiError{status: http.StatusNotFound, front: true, msg: "Resource not found"})
		return sf, false
	}
	return sf, true
}

func (s *Server) azureChat(w http.ResponseWriter, r *http.Request) {
	if sf, ok := s.azureSurface(w, r, "ChatCompletions_Create"); ok {
		s.chat(w, r, sf)
	}
}

func (s *Server) azureEmbeddings(w http.ResponseWriter, r *http.Request) {
	if sf, ok := s.azureSurface(w, r, "Embeddings_Create"); ok {
		s.embeddings(w, r, sf)
	}
}

func (s *Server) azureModels(w http.ResponseWriter, r *http.Request) {
	s.openaiModels(w, r, surface{provider: ProviderAzure, apiVersion: "v1"})
}

// azureRateLimit is Azure's 429 for a rejection (providers.md §5.6).
func azureRateLimit(rej *rejection, sf surface) *apiError {
	kind := "token rate limit"
	if rej.dim == dimRequests {
		kind = "call rate limit"
	}
	wait := max(rej.wait, 1)
	return &apiError{
		status: http.StatusTooManyRequests,
		front:  true,
		msg: fmt.Sprintf("Requests to the %s Operation under Azure OpenAI API version %s have exceeded %s of your current OpenAI S0 pricing tier. "+
			"Please retry after %d seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
			sf.operation, sf.apiVersion, kind, ceilSeconds(wait)),
		retryAfter: wait,
	}
}

// reject answers an unauthenticated request with e.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, sf surface, e *apiError) {
	x := &exchange{s: s, w: w, r: r, sf: sf, start: s.now(), reqID: s.requestID(sf.provider)}
	x.idHeaders()
	x.fail(e)
}
