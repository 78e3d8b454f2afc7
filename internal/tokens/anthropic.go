package tokens

import "fmt"

// Anthropic overhead. Anthropic publishes no message-framing formula
// (providers.md §3.4): the OpenAI cookbook's constants are reused [inf]:
// perMessage + perRole per message, the system prompt framed like one more
// message, and replyPriming. Tools: Anthropic's tool-use guide ("Pricing")
// lists the hidden tool-use system prompt added whenever tools are given:
// 346 tokens for Claude 4.x models with tool_choice auto/none (313 with
// any/tool) [doc, not in providers.md; verify when the table changes]; each
// definition is charged by name, description and raw input_schema plus
// funcInitO200k. Anthropic-defined tools (bash, text editor, computer,
// web search: a "type" other than "custom") add their own hidden prompts,
// listed in the same guide at 245–735 tokens: charged anthropicServerTool
// each. tool_use and tool_result blocks: ids, names, input and content as
// text plus toolCallOverhead [inf]. Text is scaled by claudeFactor; images
// use Anthropic's own formula (image.go) and are not scaled.
const (
	anthropicToolSystem = 346
	anthropicServerTool = 735
	redactedBytesPerTok = 4 // redacted_thinking data is opaque: ~base64 of the thinking text [inf]
)

// AnthropicMessages estimates a raw Anthropic Messages API body for a
// Claude family.
//
// Input is the system prompt, messages (text, images, documents, tool_use,
// tool_result and thinking blocks) and tool definitions, with the overhead
// above. It is the whole prompt: ITPM counts only uncached input plus cache
// writes (providers.md §4.6), so a cached prefix is over-charged until the
// reservation is settled to the reported usage. Output is max_tokens, which the Messages API requires: OTPM was
// charged from max_tokens at admission in Anthropic's older rate-limit doc
// and is counted from actual output in the newer one (providers.md §4.6);
// reserving it is the safe reading, and Settle refunds the difference. A
// body without max_tokens returns the Estimate with Input set and an error
// wrapping ErrNoMaxTokens, so a count_tokens-like caller can still use it.
//
// The body is scanned, not decoded: an error wraps ErrInvalidBody when it
// is not valid JSON or a counted field has the wrong shape.
func (e *Estimator) AnthropicMessages(body []byte, family string) (Estimate, error) {
	w := messagesWalk{p: profileFor(family)}
	w.s.b, w.m.tab = body, w.p.costs
	err := w.s.object(w.top)
	if err == nil {
		err = w.s.end()
	}
	if err == nil && !w.sawMessages {
		err = fmt.Errorf("%w: messages is required", ErrInvalidBody)
	}
	if err != nil {
		return Estimate{}, fmt.Errorf("tokens: anthropic messages: %w", err)
	}
	est := Estimate{Input: w.input(), Prompt: w.input() - w.p.textTokens(&w.m) + w.p.promptTokens(&w.m), Output: w.maxTokens}
	if !w.maxTokensSet {
		return est, fmt.Errorf("tokens: anthropic messages: %w", ErrNoMaxTokens)
	}
	return est, nil
}

// messagesWalk accumulates one Messages body.
type messagesWalk struct {
	s           scanner
	p           profile
	m           meter
	fixed       int
	tools       int
	serverTools int

	sawMessages  bool
	maxTokens    int
	maxTokensSet bool
}

func (w *messagesWalk) input() int {
	n := w.fixed + w.p.textTokens(&w.m) + replyPriming
	if w.tools > 0 {
		n += anthropicToolSystem + w.tools*funcInitO200k + w.serverTools*anthropicServerTool
	}
	return n
}

// top visits a member of the request object.
func (w *messagesWalk) top(key []byte) error {
	var err error
	switch string(key) {
	case "system":
		if w.s.null() {
			return nil
		}
		w.fixed += perMessage + perRole
		err = w.content()
	case "messages":
		w.sawMessages = true
		err = w.s.array(w.message)
	case "tools":
		err = w.s.array(w.tool)
	case "max_tokens":
		w.maxTokens, w.maxTokensSet, err = w.s.count("max_tokens")
	default:
		err = w.s.skip()
	}
	return err
}

// text tallies a string value.
func (w *messagesWalk) text() error {
	return w.s.text(&w.m)
}

// rawText tallies the JSON text of any value.
func (w *messagesWalk) rawText() error {
	raw, err := w.s.raw()
	w.m.addJSON(raw)
	return err
}

// message visits one turn.
func (w *messagesWalk) message() error {
	w.fixed += perMessage + perRole
	return w.s.object(func(key []byte) error {
		if string(key) == "content" {
			return w.content()
		}
		return w.s.skip()
	})
}

// content visits a string or an array of blocks (message content, system,
// tool_result content, document content sources).
func (w *messagesWalk) content() error {
	switch w.s.peek() {
	case '"':
		return w.text()
	case '[':
		return w.s.array(w.block)
	}
	return w.s.errorf("content must be a string or an array of content blocks")
}

// block visits one content block. Payload fields are charged as they come;
// a source is kept until the block's type is known.
func (w *messagesWalk) block() error {
	var typ, source []byte
	toolBlock := false
	err := w.s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "type":
			typ, err = w.s.str()
		case "text", "thinking", "id", "name", "tool_use_id", "title":
			err = w.text()
		case "input":
			toolBlock = true
			err = w.rawText()
		case "content":
			toolBlock = true
			if c := w.s.peek(); c == '"' || c == '[' {
				err = w.content()
			} else {
				err = w.rawText()
			}
		case "source":
			source, err = w.s.raw()
		case "data": // redacted_thinking
			var data []byte
			data, err = w.s.str()
			w.fixed += len(data) / redactedBytesPerTok
		case "cache_control", "citations", "signature", "is_error":
			err = w.s.skip()
		default: // unknown fields of new block types: charge as text
			err = w.rawText()
		}
		return err
	})
	if err != nil {
		return err
	}
	if toolBlock && (string(typ) == "tool_use" || string(typ) == "tool_result") {
		w.fixed += toolCallOverhead
	}
	if source != nil {
		return w.source(string(typ) == "document", source)
	}
	return nil
}

// source charges an image or document source, already validated JSON.
func (w *messagesWalk) source(document bool, raw []byte) error {
	outer := w.s
	defer func() { w.s = outer }()
	w.s = scanner{b: raw}
	var typ, data []byte
	err := w.s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "type":
			typ, err = w.s.str()
		case "data":
			data, err = w.s.str()
		case "content": // document source of type "content"
			err = w.content()
		default:
			err = w.s.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	switch {
	case !document:
		w.fixed += anthropicImageMax
		if string(typ) == "base64" {
			if wd, ht, ok := imageSize(b64(data)); ok {
				w.fixed += anthropicImageTokens(wd, ht) - anthropicImageMax
			}
		}
	case string(typ) == "text":
		w.m.addJSON(data)
	case string(typ) == "base64":
		w.fixed += documentTokens(len(data))
	case string(typ) != "content": // url, file: size unknown
		w.fixed += documentBase
	}
	return nil
}

// tool visits one tool definition.
func (w *messagesWalk) tool() error {
	w.tools++
	return w.s.object(func(key []byte) error {
		switch string(key) {
		case "name", "description":
			return w.text()
		case "input_schema":
			return w.rawText()
		case "type":
			typ, err := w.s.str()
			if err == nil && string(typ) != "custom" {
				w.serverTools++
			}
			return err
		default: // cache_control, display sizes of computer use, ...
			return w.s.skip()
		}
	})
}
