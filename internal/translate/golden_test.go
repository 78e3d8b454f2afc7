package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/api/sse"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Fixed inputs of the golden runs.
const (
	upstreamModel    = "upstream-model"
	routeModel       = "chat"
	goldenMaxTokens  = 8192
	goldenInputGuess = 42
)

var goldenTime = time.Unix(1700000000, 0)

// inputs returns the input files in testdata/dir with extension ext, the
// golden outputs excluded.
func inputs(t testing.TB, dir, ext string) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range all {
		if !strings.Contains(filepath.Base(p), ".golden") {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no inputs in testdata/%s", dir)
	}
	return out
}

func goldenPath(input, suffix string) string {
	ext := filepath.Ext(input)
	return strings.TrimSuffix(input, ext) + suffix + ext
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update and review the diff)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// indent encodes v as indented JSON without HTML escaping.
func indent(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// resultJSON is the golden form of a translation: the body, or the *Error.
func resultJSON(t *testing.T, body any, err error) []byte {
	t.Helper()
	if err != nil {
		var te *Error
		if !errors.As(err, &te) {
			t.Fatalf("error %v is not a *Error", err)
		}
		return indent(t, map[string]any{"error": map[string]string{"param": te.Param, "message": te.Message}})
	}
	return indent(t, body)
}

func TestGoldenOpenAIToAnthropic(t *testing.T) {
	for _, in := range inputs(t, "openai_to_anthropic", ".json") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			var req openai.ChatRequest
			if err := json.Unmarshal(readFile(t, in), &req); err != nil {
				t.Fatal(err)
			}
			out, err := OpenAIToAnthropic(&req, upstreamModel, Options{DefaultMaxTokens: goldenMaxTokens})
			checkGolden(t, goldenPath(in, ".golden"), resultJSON(t, out, err))
		})
	}
}

func TestGoldenAnthropicToOpenAI(t *testing.T) {
	for _, in := range inputs(t, "anthropic_to_openai", ".json") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			var req anthropic.MessagesRequest
			if err := json.Unmarshal(readFile(t, in), &req); err != nil {
				t.Fatal(err)
			}
			out, err := AnthropicToOpenAI(&req, upstreamModel)
			checkGolden(t, goldenPath(in, ".golden"), resultJSON(t, out, err))
		})
	}
}

func TestGoldenResponseAnthropicToOpenAI(t *testing.T) {
	for _, in := range inputs(t, "response_anthropic_to_openai", ".json") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			var resp anthropic.Response
			if err := json.Unmarshal(readFile(t, in), &resp); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, goldenPath(in, ".golden"), indent(t, AnthropicResponseToOpenAIAt(&resp, routeModel, goldenTime)))
		})
	}
}

func TestGoldenResponseOpenAIToAnthropic(t *testing.T) {
	for _, in := range inputs(t, "response_openai_to_anthropic", ".json") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			var resp openai.ChatResponse
			if err := json.Unmarshal(readFile(t, in), &resp); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, goldenPath(in, ".golden"), indent(t, OpenAIResponseToAnthropic(&resp, routeModel)))
		})
	}
}

// streamConverter is what both stream converters offer the golden runner.
type streamConverter interface {
	Event(sse.Event) error
}

// runStream feeds the events of input to conv and returns what conv wrote,
// with any error appended as an SSE comment. finish, when set, runs at EOF.
func runStream(input []byte, out *bytes.Buffer, conv streamConverter, finish func() error) []byte {
	r := sse.NewReader(bytes.NewReader(input))
	var err error
	for {
		var ev sse.Event
		ev, err = r.Next()
		if err != nil {
			break
		}
		if err = conv.Event(ev); err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
		if finish != nil {
			err = finish()
		}
	}
	if err != nil {
		out.WriteString(": error: " + err.Error() + "\n\n")
	}
	return out.Bytes()
}

func TestGoldenStreamAnthropicToOpenAI(t *testing.T) {
	for _, in := range inputs(t, "stream_anthropic_to_openai", ".sse") {
		for _, includeUsage := range []bool{false, true} {
			suffix := ".golden"
			if includeUsage {
				suffix = ".usage.golden"
			}
			t.Run(filepath.Base(in)+suffix, func(t *testing.T) {
				var buf bytes.Buffer
				conv := NewAnthropicToOpenAIStream(sse.NewWriter(&buf), routeModel, includeUsage)
				conv.Now = func() time.Time { return goldenTime }
				got := runStream(readFile(t, in), &buf, conv, nil)
				checkGolden(t, goldenPath(in, suffix), got)
				assertStreamJSON(t, got)
			})
		}
	}
}

func TestGoldenStreamOpenAIToAnthropic(t *testing.T) {
	for _, in := range inputs(t, "stream_openai_to_anthropic", ".sse") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			var buf bytes.Buffer
			conv := NewOpenAIToAnthropicStream(sse.NewWriter(&buf), routeModel, goldenInputGuess)
			got := runStream(readFile(t, in), &buf, conv, conv.Finish)
			checkGolden(t, goldenPath(in, ".golden"), got)
			assertStreamJSON(t, got)
		})
	}
}

// assertStreamJSON checks that every event's data is JSON or [DONE].
func assertStreamJSON(t testing.TB, stream []byte) {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(stream))
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("converter output is not SSE: %v", err)
		}
		if !bytes.Equal(ev.Data, openai.Done) && !json.Valid(ev.Data) {
			t.Fatalf("event %q data is not JSON: %s", ev.Name, ev.Data)
		}
	}
}
