package gateway

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/llmux/llmux/internal/api/openai"
)

// handleModels lists the routes the key may use, in OpenAI's list shape,
// or Anthropic's when the client sent anthropic-version.
func (g *Gateway) handleModels(w http.ResponseWriter, r *http.Request) {
	f := formatFor(r)
	key, aerr := g.authenticate(r)
	if aerr != nil {
		writeError(w, f, aerr)
		return
	}
	var names []string
	for _, rc := range g.cfg.Routes {
		if allowed(key, rc.Name) {
			names = append(names, rc.Name)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if f == formatAnthropic {
		json.NewEncoder(w).Encode(anthropicModelList(names, g.started))
		return
	}
	list := openai.ModelList{Object: openai.ObjectList, Data: []openai.Model{}}
	for _, n := range names {
		list.Data = append(list.Data, openai.Model{ID: n, Object: openai.ObjectModel, Created: g.started.Unix(), OwnedBy: "llmux"})
	}
	json.NewEncoder(w).Encode(list)
}

type anthropicModel struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

type anthropicModels struct {
	Data    []anthropicModel `json:"data"`
	HasMore bool             `json:"has_more"`
	FirstID *string          `json:"first_id"`
	LastID  *string          `json:"last_id"`
}

func anthropicModelList(names []string, created time.Time) anthropicModels {
	out := anthropicModels{Data: []anthropicModel{}}
	for _, n := range names {
		out.Data = append(out.Data, anthropicModel{Type: "model", ID: n, DisplayName: n, CreatedAt: created.UTC().Format(time.RFC3339)})
	}
	if len(names) > 0 {
		out.FirstID, out.LastID = &names[0], &names[len(names)-1]
	}
	return out
}
