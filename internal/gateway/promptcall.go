package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/prompts"
)

// headerPrompt names the prompt, version and variant that served a call:
// explain-code@7#claude.
const headerPrompt = "x-llmux-prompt"

// PromptSource gives the current prompt repository; *prompts.Store is
// one (it reloads on file changes, so each call asks for the current one).
type PromptSource interface {
	Repo() *prompts.Repo
}

// promptCall is a call that names a prompt. Its payload depends on the
// deployment: the variant selected for the deployment's model, rendered
// once per variant and model and reused across accounts and providers.
type promptCall struct {
	ref     string
	vars    map[string]any
	version *prompts.Version

	mu       sync.Mutex
	payloads map[string]*payload // by variant name and model
}

// resolvePrompt looks c's prompt up and checks its variables, before
// anything is sent.
func (g *Gateway) resolvePrompt(c *call) *apiError {
	if g.prompts == nil {
		return errBadRequest("llmux.prompt", "This gateway has no prompt repository configured (prompts.dir), so requests cannot name prompts.")
	}
	repo := g.prompts.Repo()
	if repo == nil {
		return &apiError{status: http.StatusServiceUnavailable, code: "prompts_unavailable", message: "The prompt repository is not loaded."}
	}
	v, err := repo.Resolve(c.prompt.ref)
	if err != nil {
		return &apiError{status: http.StatusNotFound, code: "prompt_not_found", param: "llmux.prompt", message: err.Error()}
	}
	if err := v.Validate(c.prompt.vars); err != nil {
		param := "llmux.variables"
		var ve *prompts.VarError
		if errors.As(err, &ve) && ve.Variable != "" {
			param += "." + ve.Variable
		}
		return errBadRequest(param, fmt.Sprintf("Prompt %s: %v", v.Ref(), err))
	}
	c.prompt.version = v
	return nil
}

// promptRequestBody turns a POST /v1/prompts/{name}/completions body (an
// OpenAI chat body whose messages are optional, with the prompt's
// variables in "variables") into a chat body naming the prompt.
func promptRequestBody(name string, body []byte) ([]byte, *apiError) {
	if !gjson.ValidBytes(body) || !gjson.ParseBytes(body).IsObject() {
		return nil, errBadRequest("", "The body must be a JSON object: {\"model\": \"ROUTE\", \"variables\": {...}}.")
	}
	if gjson.GetBytes(body, "llmux").Exists() {
		return nil, errBadRequest("llmux", "llmux: not allowed here; the prompt is named by the path and its variables by \"variables\".")
	}
	ext := map[string]any{"prompt": name}
	if v := gjson.GetBytes(body, "variables"); v.Exists() {
		ext["variables"] = json.RawMessage(v.Raw)
	}
	raw, err := marshal(ext)
	if err == nil {
		body, err = sjson.DeleteBytes(body, "variables")
	}
	if err == nil {
		body, err = sjson.SetRawBytes(body, "llmux", raw)
	}
	if err != nil {
		return nil, errBadRequest("", "Could not read the request: "+err.Error())
	}
	return body, nil
}

// providerFamily is the prompt family of d's provider: openai for OpenAI,
// Azure and OpenAI-compatible servers, anthropic for Anthropic.
func (g *Gateway) providerFamily(d *config.Deployment) string {
	if up := g.upstreams[d.Name]; up != nil {
		return string(up.adapter.Format())
	}
	return ""
}

// admits reports whether the prompt has a variant for d: any variant
// (a default one included), or with require_variant one written for d's
// model or provider family.
func (pc *promptCall) admits(d *config.Deployment, family string) bool {
	v, _ := pc.version.Select(d.Family, family)
	return v != nil && (!pc.version.RequireVariant || v.WrittenFor(d.Family, family))
}

// payloadFor is the payload c sends to dep: the base payload, with the
// partial answer as an assistant prefill when c continues a broken stream
// on a deployment that takes prefills.
func (g *Gateway) payloadFor(ctx context.Context, c *call, dep *config.Deployment) (*payload, *apiError) {
	p, aerr := g.basePayload(ctx, c, dep)
	if aerr != nil || !g.prefills(c, dep) {
		return p, aerr
	}
	return c.cont.Load().prefillPayload(c.f, p, g.cfgRoute(c.serving).Continuation.Instruction)
}

// basePayload is the client's body, or the rendering of the prompt's
// variant for dep's model (rendered once per variant and model, then
// reused, so a fallback to the same model on another account or provider
// keeps it).
func (g *Gateway) basePayload(ctx context.Context, c *call, dep *config.Deployment) (*payload, *apiError) {
	if c.reask != nil && c.reask.deployment == dep.Name {
		return c.reask.p, nil
	}
	pc := c.prompt
	if pc == nil {
		return c.base, nil
	}
	family := g.providerFamily(dep)
	v, _ := pc.version.Select(dep.Family, family)
	if v == nil {
		return nil, errBadRequest("llmux.prompt", fmt.Sprintf("Prompt %s has no variant for model %s (%s).", pc.version.Ref(), dep.Family, family))
	}
	key := v.Name + "\x00" + dep.Family
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if p := pc.payloads[key]; p != nil {
		return p, nil
	}
	msgs, err := v.Render(pc.vars, dep.Family, family)
	if err != nil {
		return nil, errBadRequest("llmux.variables", fmt.Sprintf("Prompt %s variant %s: %v", pc.version.Ref(), v.Name, err))
	}
	body, err := promptBody(c.f, c.body, msgs, v.Params, dep.MaxOutput)
	if err != nil {
		return nil, errBadRequest("messages", fmt.Sprintf("Prompt %s: could not build the request: %v", pc.version.Ref(), err))
	}
	p := &payload{body: body, variant: v.Name}
	if aerr := g.protect(ctx, c, p); aerr != nil {
		return nil, aerr
	}
	if pc.payloads == nil {
		pc.payloads = map[string]*payload{}
	}
	pc.payloads[key] = p
	return p, nil
}

// promptHeader is the x-llmux-prompt value for a payload, or "".
func (c *call) promptHeader(p *payload) string {
	if c.prompt == nil || c.prompt.version == nil || p.variant == "" {
		return ""
	}
	return c.prompt.version.Ref() + "#" + p.variant
}

// wireMessage is a rendered message as both formats write it.
type wireMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// promptBody builds the client-format body for a rendered prompt: the
// client's body (without the llmux object) with the rendered messages
// before the client's own, and the variant's parameters where the client
// set none. An Anthropic body gets the prompt's system messages as its
// system field, and max_tokens (required there) from the deployment if
// neither the client nor the variant set it.
func promptBody(f format, base []byte, msgs []prompts.Message, params map[string]any, maxOutput int) ([]byte, error) {
	var system []string
	var rendered []wireMessage
	for _, m := range msgs {
		if f == formatAnthropic && m.Role == "system" {
			system = append(system, m.Content)
			continue
		}
		rendered = append(rendered, wireMessage{Role: m.Role, Content: m.Content})
	}
	body, err := prependMessages(base, rendered)
	if err != nil {
		return nil, err
	}
	if len(system) > 0 {
		if body, err = prependSystem(body, system); err != nil {
			return nil, err
		}
	}
	if body, err = applyParams(f, body, params); err != nil {
		return nil, err
	}
	if f == formatAnthropic && !gjson.GetBytes(body, "max_tokens").Exists() {
		if maxOutput <= 0 {
			maxOutput = 4096
		}
		return sjson.SetBytes(body, "max_tokens", maxOutput)
	}
	return body, nil
}

// marshal encodes v without HTML escaping: prompts hold code.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func prependMessages(body []byte, rendered []wireMessage) ([]byte, error) {
	own := gjson.GetBytes(body, "messages")
	size := 2 + len(own.Raw)
	for _, m := range rendered {
		size += len(m.Role) + len(m.Content) + 32
	}
	buf := make([]byte, 0, size)
	buf = append(buf, '[')
	for i, m := range rendered {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"role":`...)
		buf = appendJSONString(buf, m.Role)
		buf = append(buf, `,"content":`...)
		buf = appendJSONString(buf, m.Content)
		buf = append(buf, '}')
	}
	if own.IsArray() {
		// The client's own messages, as sent (already validated JSON).
		inner := strings.TrimSpace(own.Raw)
		inner = strings.TrimSpace(inner[1 : len(inner)-1])
		if inner != "" {
			if len(rendered) > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, inner...)
		}
	}
	buf = append(buf, ']')
	return sjson.SetRawBytes(body, "messages", buf)
}

// prependSystem puts the prompt's system text before the client's own
// system field (a string or a list of text blocks).
func prependSystem(body []byte, system []string) ([]byte, error) {
	text := system[0]
	for _, s := range system[1:] {
		text += "\n\n" + s
	}
	own := gjson.GetBytes(body, "system")
	switch {
	case own.Type == gjson.String && own.Str != "":
		text += "\n\n" + own.Str
	case own.IsArray():
		blocks := []json.RawMessage{}
		first, err := marshal(map[string]string{"type": "text", "text": text})
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, first)
		for _, b := range own.Array() {
			blocks = append(blocks, json.RawMessage(b.Raw))
		}
		raw, err := marshal(blocks)
		if err != nil {
			return nil, err
		}
		return sjson.SetRawBytes(body, "system", raw)
	}
	raw, err := marshal(text)
	if err != nil {
		return nil, err
	}
	return sjson.SetRawBytes(body, "system", raw)
}

// applyParams sets the variant's parameters the client did not set. stop
// and stop_sequences are one parameter under each format's name.
func applyParams(f format, body []byte, params map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := k
		switch {
		case f == formatAnthropic && k == "stop":
			name = "stop_sequences"
		case f == formatOpenAI && k == "stop_sequences":
			name = "stop"
		}
		if gjson.GetBytes(body, name).Exists() ||
			(f == formatOpenAI && name == "max_tokens" && gjson.GetBytes(body, "max_completion_tokens").Exists()) {
			continue
		}
		raw, err := marshal(params[k])
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", k, err)
		}
		var err2 error
		if body, err2 = sjson.SetRawBytes(body, name, raw); err2 != nil {
			return nil, fmt.Errorf("parameter %s: %w", k, err2)
		}
	}
	return body, nil
}
