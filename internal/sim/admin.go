package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// The admin endpoints under /sim/ are unauthenticated: the simulator is a
// test double, and its keys are not secrets.

func (s *Server) adminStats(w http.ResponseWriter, _ *http.Request) {
	writeAdmin(w, http.StatusOK, s.Stats())
}

func (s *Server) adminGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeAdmin(w, http.StatusOK, s.currentFaults())
}

// adminPutFaults replaces the fault set with the JSON array in the body,
// or changes nothing and answers 400 naming every problem.
func (s *Server) adminPutFaults(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	var faults []Fault
	if err == nil {
		err = strictUnmarshal(b, &faults)
	}
	if err == nil {
		err = s.checkFaults(faults)
	}
	if err != nil {
		writeAdmin(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("sim: faults: %v", err)})
		return
	}
	s.setFaults(normalizeFaults(faults))
	writeAdmin(w, http.StatusOK, s.currentFaults())
}

func (s *Server) adminDeleteFaults(w http.ResponseWriter, _ *http.Request) {
	s.setFaults(nil)
	w.WriteHeader(http.StatusNoContent)
}

func writeAdmin(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// notFound answers an unknown route in the shape of the provider the
// request was likely meant for.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/openai/"):
		s.reject(w, r, surface{provider: ProviderAzure}, &apiError{status: http.StatusNotFound, front: true, msg: "Resource not found"})
	case r.Header.Get("x-api-key") != "" || r.Header.Get("anthropic-version") != "" || strings.HasPrefix(r.URL.Path, "/v1/messages"):
		s.reject(w, r, surface{provider: ProviderAnthropic}, &apiError{status: http.StatusNotFound, typ: anthropic.TypeNotFound, msg: "Not Found"})
	default:
		s.reject(w, r, surface{provider: ProviderOpenAI}, &apiError{status: http.StatusNotFound, typ: openai.TypeInvalidRequest,
			msg: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)})
	}
}
