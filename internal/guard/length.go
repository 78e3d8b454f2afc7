package guard

import (
	"context"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/llmux/llmux/internal/config"
)

// lengthCheck bounds the text's length in characters (runes) and in
// words (runs of non-space characters); 0 means no bound.
type lengthCheck struct {
	minChars, maxChars, minWords, maxWords int
}

func compileLength(g config.Guardrail) (checker, []string) {
	c := &lengthCheck{minChars: g.MinChars, maxChars: g.MaxChars, minWords: g.MinWords, maxWords: g.MaxWords}
	var ps []string
	for _, b := range []struct {
		name string
		v    int
	}{{"min_chars", g.MinChars}, {"max_chars", g.MaxChars}, {"min_words", g.MinWords}, {"max_words", g.MaxWords}} {
		if b.v < 0 {
			ps = append(ps, fmt.Sprintf("%s: must not be negative, got %d", b.name, b.v))
		}
	}
	if g.MaxChars > 0 && g.MinChars > g.MaxChars {
		ps = append(ps, fmt.Sprintf("min_chars %d is above max_chars %d", g.MinChars, g.MaxChars))
	}
	if g.MaxWords > 0 && g.MinWords > g.MaxWords {
		ps = append(ps, fmt.Sprintf("min_words %d is above max_words %d", g.MinWords, g.MaxWords))
	}
	if g.MinChars == 0 && g.MaxChars == 0 && g.MinWords == 0 && g.MaxWords == 0 {
		ps = append(ps, "length needs min_chars, max_chars, min_words or max_words")
	}
	return c, ps
}

func (c *lengthCheck) check(_ context.Context, text string) string {
	var fails []string
	if c.minChars > 0 || c.maxChars > 0 {
		n := utf8.RuneCountInString(text)
		fails = append(fails, bound(n, c.minChars, c.maxChars, "characters")...)
	}
	if c.minWords > 0 || c.maxWords > 0 {
		fails = append(fails, bound(countWords(text), c.minWords, c.maxWords, "words")...)
	}
	return firstOf(fails)
}

func bound(n, lo, hi int, unit string) []string {
	switch {
	case lo > 0 && n < lo:
		return []string{fmt.Sprintf("too short: %d %s, min %d", n, unit, lo)}
	case hi > 0 && n > hi:
		return []string{fmt.Sprintf("too long: %d %s, max %d", n, unit, hi)}
	}
	return nil
}

// countWords counts what strings.Fields would return, without allocating.
func countWords(s string) int {
	n, in := 0, false
	for _, r := range s {
		space := unicode.IsSpace(r)
		if !space && !in {
			n++
		}
		in = !space
	}
	return n
}
