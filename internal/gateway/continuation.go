package gateway

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/llmux/llmux/internal/config"
)

// continuation is a call whose stream broke after the client got part of
// the answer: what the client has, and the prefilled payloads built from
// it (one per base payload, since prompt variants differ by model).
type continuation struct {
	t *transcript
	// prefill is the client's text without trailing whitespace; trim is
	// the whitespace cut.
	prefill, trim string
	// n counts continuations of the call.
	n int

	mu       sync.Mutex // hedged attempts build payloads concurrently
	payloads map[*payload]*payload
}

func newContinuation(t *transcript, n int) *continuation {
	text := t.text()
	prefill := strings.TrimRightFunc(text, isSpace)
	return &continuation{t: t, prefill: prefill, trim: text[len(prefill):], n: n, payloads: map[*payload]*payload{}}
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// prefills reports whether c's next attempt on dep continues from a
// prefill (else it regenerates the answer).
func (g *Gateway) prefills(c *call, dep *config.Deployment) bool {
	k := c.cont.Load()
	if k == nil || k.prefill == "" || !k.t.textOnly() {
		return false
	}
	if _, learned := g.noPrefill.Load(dep.Name); learned {
		return false
	}
	if dep.Capabilities == nil { // a config built in code: by provider
		up := g.upstreams[dep.Name]
		return up != nil && up.adapter.Format() == "anthropic"
	}
	return slices.Contains(dep.Capabilities, config.CapabilityPrefill)
}

// prefillPayload returns base with the partial answer appended as an
// assistant message (and the route's continuation instruction, if any,
// as a system message after the caller's own).
func (k *continuation) prefillPayload(f format, base *payload, instruction string) (*payload, *apiError) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if p := k.payloads[base]; p != nil {
		return p, nil
	}
	body := base.body
	var err error
	if instruction != "" {
		if body, err = addInstruction(f, body, instruction); err != nil {
			return nil, errBadRequest("messages", "Could not build the continuation: "+err.Error())
		}
	}
	msg, _ := json.Marshal(map[string]string{"role": "assistant", "content": k.prefill})
	if body, err = sjson.SetRawBytes(body, "messages.-1", msg); err != nil {
		return nil, errBadRequest("messages", "Could not build the continuation: "+err.Error())
	}
	p := &payload{body: body, vault: base.vault, variant: base.variant, notes: base.notes}
	k.payloads[base] = p
	return p, nil
}

// addInstruction adds a system instruction after the caller's own system
// prompt: a system message (OpenAI), or a text appended to system
// (Anthropic).
func addInstruction(f format, body []byte, text string) ([]byte, error) {
	if f == formatOpenAI {
		msg, _ := json.Marshal(map[string]string{"role": "system", "content": text})
		return sjson.SetRawBytes(body, "messages.-1", msg)
	}
	sys := gjson.GetBytes(body, "system")
	switch {
	case !sys.Exists() || sys.Type == gjson.Null:
		return sjson.SetBytes(body, "system", text)
	case sys.Type == gjson.String:
		return sjson.SetBytes(body, "system", sys.Str+"\n\n"+text)
	}
	block, _ := json.Marshal(map[string]string{"type": "text", "text": text})
	return sjson.SetRawBytes(body, "system.-1", block)
}
