package tokens

import "fmt"

// Embeddings estimates a raw OpenAI (or Azure OpenAI) embeddings body.
// Embeddings are charged input tokens only, with no per-input overhead
// (providers.md §1.8 and §2.1: usage has prompt_tokens only; the cookbook
// throttler charges embeddings by input tokens). input may be a string, an
// array of strings (text estimated by the fast path), or an array of token
// ids or of token-id arrays (each id is exactly one token). Output is 0.
func (e *Estimator) Embeddings(body []byte, family string) (Estimate, error) {
	w := embedWalk{p: profileFor(family)}
	w.s.b, w.m.tab = body, w.p.costs
	err := w.s.object(func(key []byte) error {
		if string(key) != "input" {
			return w.s.skip()
		}
		w.sawInput = true
		return w.input()
	})
	if err == nil {
		err = w.s.end()
	}
	if err == nil && !w.sawInput {
		err = fmt.Errorf("%w: input is required", ErrInvalidBody)
	}
	if err != nil {
		return Estimate{}, fmt.Errorf("tokens: embeddings: %w", err)
	}
	return Estimate{Input: w.p.textTokens(&w.m) + w.ids, Prompt: w.p.promptTokens(&w.m) + w.ids}, nil
}

// embedWalk accumulates one embeddings body.
type embedWalk struct {
	s        scanner
	p        profile
	m        meter
	ids      int  // token ids given directly
	shape    byte // first array element's kind: '"' text, '0' id, '[' id array
	sawInput bool
}

// input visits the input field in any of its four shapes.
func (w *embedWalk) input() error {
	switch w.s.peek() {
	case '"':
		return w.s.text(&w.m)
	case '[':
		return w.s.array(w.element)
	}
	return w.s.errorf("input must be a string, an array of strings, an array of tokens, or an array of token arrays")
}

// element visits one element of an input array; all must be of one kind.
func (w *embedWalk) element() error {
	kind := w.s.peek()
	if kind == '-' || kind >= '0' && kind <= '9' {
		kind = '0'
	}
	if w.shape == 0 {
		w.shape = kind
	}
	if kind != w.shape {
		return w.s.errorf("input array elements must all be strings, all tokens, or all token arrays")
	}
	switch kind {
	case '"':
		return w.s.text(&w.m)
	case '0':
		return w.id()
	case '[':
		return w.s.array(w.id)
	}
	return w.s.errorf("input array elements must be strings, tokens, or token arrays")
}

// id reads one token id.
func (w *embedWalk) id() error {
	if _, set, err := w.s.count("input token"); err != nil || !set {
		if err == nil {
			err = w.s.errorf("input token must be an integer")
		}
		return err
	}
	w.ids++
	return nil
}
