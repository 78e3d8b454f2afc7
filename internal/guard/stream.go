package guard

import (
	"slices"
	"strings"
)

// StreamRestorer restores placeholders in text that arrives in pieces
// (streamed answer deltas), where a placeholder may be cut anywhere. Push
// returns the restored text that is safe to send now and holds back a
// trailing piece that could still grow into a placeholder ("<", "<<SEC",
// "<<SECRET_1:aws-acc"); the held piece is always shorter than the longest
// placeholder, and is released as it is once it can no longer become one.
// Flush returns what is still held at the end of the stream. The
// concatenation of all returned text equals Vault.Restore of the whole
// text.
//
// A StreamRestorer is not safe for concurrent use; use one per stream.
type StreamRestorer struct {
	vault *Vault
	held  string
}

// NewStream returns a StreamRestorer for one stream.
func (v *Vault) NewStream() *StreamRestorer {
	return &StreamRestorer{vault: v}
}

// Push takes the next delta and returns the text ready to be sent.
func (s *StreamRestorer) Push(delta string) string {
	if s.vault.Len() == 0 {
		return delta
	}
	text := s.held + delta
	cut := s.partial(text)
	s.held = text[cut:]
	return s.vault.Restore(text[:cut])
}

// Flush returns the held text; the stream has ended.
func (s *StreamRestorer) Flush() string {
	out := s.held
	s.held = ""
	return out
}

// partial returns where the longest suffix of text that is a proper
// prefix of some placeholder starts, or len(text) if there is none.
// Placeholders contain '<' only in their first two bytes, so such a suffix
// never starts inside a complete placeholder.
func (s *StreamRestorer) partial(text string) int {
	sorted := s.vault.s.sorted
	for i := max(0, len(text)-s.vault.s.longest+1); i < len(text); i++ {
		if text[i] != '<' {
			continue
		}
		// The smallest placeholder not below tail is the one that has
		// tail as a prefix, if any does.
		tail := text[i:]
		k, _ := slices.BinarySearch(sorted, tail)
		if k < len(sorted) && len(tail) < len(sorted[k]) && strings.HasPrefix(sorted[k], tail) {
			return i
		}
	}
	return len(text)
}
