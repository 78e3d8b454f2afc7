package tokens

import "fmt"

// OpenAI chat overhead. Source: providers.md §3.2, the OpenAI cookbook
// "How to count tokens with tiktoken" (num_tokens_from_messages, exact
// against the API for gpt-3.5-turbo-0125, gpt-4-0613, gpt-4o, gpt-4o-mini):
//
//	tokens = 3                              // reply priming <|start|>assistant<|message|>
//	for each message: tokens += 3           // message framing
//	    for each field: tokens += len(encode(value))   // role, content, name
//	    if field == "name": tokens += 1
//
// Every role name (system, developer, user, assistant, tool, function) is
// one token in both encodings (TestRoleIsOneToken), so the role is a
// constant. Tools, providers.md §3.2 (num_tokens_for_tools): per function
// func_init (7 for the gpt-4o family, 10 for gpt-4/3.5) + tokens of
// "name:description" + the properties' names, types, descriptions and enum
// items with small constants, and func_end = 12 once per request (the
// cookbook adds it after its loop over functions). Here the parameters
// schema is charged as its raw JSON text, which costs more than the
// cookbook's "name:type:description" lines and so covers prop_init,
// prop_key and enum_item. Assistant tool calls and tool results have no
// published formula [inf]: their ids, names and arguments are charged as
// text plus toolCallOverhead each.
const (
	replyPriming     = 3
	perMessage       = 3
	perRole          = 1
	perName          = 1
	funcEnd          = 12
	toolCallOverhead = 3
)

// OpenAIChat estimates a raw OpenAI (or Azure OpenAI) chat completions
// body for a model family.
//
// Input is the cookbook count above with text estimated by the fast path,
// plus tool schemas, response_format schemas, images (see image.go), audio
// and files. Output is n × max_completion_tokens, else n × max_tokens,
// else n × defaultMaxOutput: OpenAI reserves the requested maximum when the
// request arrives (providers.md §1.8), and when it is absent Azure reserves
// the model's maximum output (§5.5), so pass the deployment's max output.
//
// The body is scanned, not decoded: an error wraps ErrInvalidBody when it
// is not valid JSON or a counted field has the wrong shape.
func (e *Estimator) OpenAIChat(body []byte, family string, defaultMaxOutput int) (Estimate, error) {
	w := chatWalk{p: profileFor(family)}
	w.s.b, w.m.tab = body, w.p.costs
	if err := w.s.object(w.top); err != nil {
		return Estimate{}, fmt.Errorf("tokens: openai chat: %w", err)
	}
	if err := w.s.end(); err != nil {
		return Estimate{}, fmt.Errorf("tokens: openai chat: %w", err)
	}
	if !w.sawMessages {
		return Estimate{}, fmt.Errorf("tokens: openai chat: %w: messages is required", ErrInvalidBody)
	}
	out := defaultMaxOutput
	switch {
	case w.maxCompletionSet:
		out = w.maxCompletion
	case w.maxTokensSet:
		out = w.maxTokens
	}
	n := 1
	if w.nSet && w.n > 1 {
		n = w.n
	}
	return Estimate{Input: w.input(), Prompt: w.prompt(), Output: n * max(out, 0)}, nil
}

// chatWalk accumulates one chat body.
type chatWalk struct {
	s     scanner
	p     profile
	m     meter
	fixed int // overheads, images, audio, files: tokens not from the tally
	tools int

	sawMessages      bool
	maxTokens        int
	maxCompletion    int
	n                int
	maxTokensSet     bool
	maxCompletionSet bool
	nSet             bool
}

// prompt is input without the admission floor (Estimate.Prompt).
func (w *chatWalk) prompt() int {
	return w.input() - w.p.textTokens(&w.m) + w.p.promptTokens(&w.m)
}

func (w *chatWalk) input() int {
	n := w.fixed + w.p.textTokens(&w.m) + replyPriming
	if w.tools > 0 {
		n += w.tools*w.p.funcInit + funcEnd
	}
	return n
}

// top visits a member of the request object.
func (w *chatWalk) top(key []byte) error {
	var err error
	switch string(key) {
	case "messages":
		w.sawMessages = true
		err = w.s.array(w.message)
	case "tools":
		err = w.s.array(w.tool)
	case "functions": // deprecated form of tools: bare function objects
		err = w.s.array(func() error { w.tools++; return w.s.object(w.function) })
	case "response_format":
		err = w.responseFormat()
	case "max_tokens":
		w.maxTokens, w.maxTokensSet, err = w.s.count("max_tokens")
	case "max_completion_tokens":
		w.maxCompletion, w.maxCompletionSet, err = w.s.count("max_completion_tokens")
	case "n":
		w.n, w.nSet, err = w.s.count("n")
	default:
		err = w.s.skip()
	}
	return err
}

// text tallies a string value.
func (w *chatWalk) text() error {
	return w.s.text(&w.m)
}

// textOrNull tallies a string value, or accepts null.
func (w *chatWalk) textOrNull() error {
	if w.s.null() {
		return nil
	}
	return w.text()
}

// rawText tallies the JSON text of any value (schemas, arguments objects).
func (w *chatWalk) rawText() error {
	raw, err := w.s.raw()
	w.m.addJSON(raw)
	return err
}

// message visits one message: content, name, tool calls, tool_call_id.
func (w *chatWalk) message() error {
	w.fixed += perMessage + perRole
	return w.s.object(func(key []byte) error {
		switch string(key) {
		case "content":
			return w.content()
		case "name":
			w.fixed += perName
			return w.text()
		case "refusal", "tool_call_id":
			return w.textOrNull()
		case "tool_calls":
			if w.s.null() {
				return nil
			}
			return w.s.array(w.toolCall)
		case "function_call": // deprecated single call
			if w.s.null() {
				return nil
			}
			return w.toolCall()
		default: // role (a constant), audio, unknown fields
			return w.s.skip()
		}
	})
}

// content visits a message's content: null, a string or an array of parts.
func (w *chatWalk) content() error {
	switch w.s.peek() {
	case '"':
		return w.text()
	case '[':
		return w.s.array(w.part)
	}
	if w.s.null() {
		return nil
	}
	return w.s.errorf("content must be a string, an array or null")
}

// part visits one content part. Parts are recognised by their payload
// fields, not by type, so the order of keys does not matter.
func (w *chatWalk) part() error {
	if w.s.peek() == '"' { // tolerated by some clients: a bare string part
		return w.text()
	}
	return w.s.object(func(key []byte) error {
		switch string(key) {
		case "text", "refusal":
			return w.textOrNull()
		case "image_url":
			return w.imageURL()
		case "input_audio":
			return w.inputAudio()
		case "file":
			return w.file()
		default:
			return w.s.skip()
		}
	})
}

// imageURL visits an image_url payload: {"url", "detail"} or a bare URL.
func (w *chatWalk) imageURL() error {
	if w.s.peek() == '"' {
		url, err := w.s.str()
		w.fixed += openAIImageTokens(url, nil)
		return err
	}
	var url, detail []byte
	err := w.s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "url":
			url, err = w.s.str()
		case "detail":
			detail, err = w.s.str()
		default:
			err = w.s.skip()
		}
		return err
	})
	w.fixed += openAIImageTokens(url, detail)
	return err
}

// inputAudio visits an input_audio payload {"data", "format"}.
func (w *chatWalk) inputAudio() error {
	var data, format []byte
	err := w.s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "data":
			data, err = w.s.str()
		case "format":
			format, err = w.s.str()
		default:
			err = w.s.skip()
		}
		return err
	})
	w.fixed += audioTokens(len(data), format)
	return err
}

// file visits a file payload {"file_data" | "file_id", "filename"}.
func (w *chatWalk) file() error {
	size := 0
	err := w.s.object(func(key []byte) error {
		if string(key) == "file_data" {
			data, err := w.s.str()
			size = len(data)
			return err
		}
		return w.s.skip()
	})
	w.fixed += documentTokens(size)
	return err
}

// toolCall visits one assistant tool call: id, and function name and
// arguments (a JSON string, possibly invalid JSON).
func (w *chatWalk) toolCall() error {
	w.fixed += toolCallOverhead
	return w.s.object(func(key []byte) error {
		switch string(key) {
		case "id", "name", "arguments":
			return w.textOrNull()
		case "function":
			return w.s.object(func(key []byte) error {
				if string(key) == "name" || string(key) == "arguments" {
					return w.textOrNull()
				}
				return w.s.skip()
			})
		default:
			return w.s.skip()
		}
	})
}

// tool visits one entry of tools. A function tool is charged by name,
// description and raw parameters schema; any other tool type (custom
// tools, future types) by the raw JSON of its definition.
func (w *chatWalk) tool() error {
	w.tools++
	return w.s.object(func(key []byte) error {
		switch string(key) {
		case "type":
			return w.s.skip()
		case "function":
			return w.s.object(w.function)
		default:
			return w.rawText()
		}
	})
}

// function visits a function definition.
func (w *chatWalk) function(key []byte) error {
	switch string(key) {
	case "name", "description":
		return w.textOrNull()
	case "parameters":
		return w.rawText()
	default: // strict
		return w.s.skip()
	}
}

// responseFormat charges a json_schema response format by its raw JSON.
func (w *chatWalk) responseFormat() error {
	if w.s.null() {
		return nil
	}
	return w.s.object(func(key []byte) error {
		if string(key) == "json_schema" {
			return w.rawText()
		}
		return w.s.skip()
	})
}
