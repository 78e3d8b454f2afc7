package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/codeindex"
	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/guard"
)

// askOptions are the flags of llmux ask.
type askOptions struct {
	root, indexDir string
	k              int
	url, keyEnv    string
	route          string
	prompt         string
	maxSnippet     int
}

func askCmd(stdout, stderr io.Writer) *cobra.Command {
	var o askOptions
	cmd := &cobra.Command{
		Use:   "ask QUESTION",
		Short: "Answer a question about the indexed code: retrieve locally, redact secrets, ask through the gateway, cite path:line",
		Long: `ask searches the local code index (llmux index) for the question, takes
the best snippets (re-read from the files, with their paths and lines),
redacts secrets from them on this machine, and sends them with the question
through an llmux route — as the code-question prompt of the gateway's prompt
repository (--prompt), or a built-in prompt with --prompt "". The answer is
printed with the sources it was given. When nothing in the index matches the
question, ask says so and does not ask the model to guess.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAsk(cmd.Context(), strings.Join(args, " "), &o, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.root, "root", ".", "the indexed repository")
	fl.StringVar(&o.indexDir, "index-dir", "", "the index directory (default ROOT/.llmux)")
	fl.IntVar(&o.k, "k", 6, "snippets to send")
	fl.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the llmux gateway")
	fl.StringVar(&o.keyEnv, "key-env", "LLMUX_API_KEY", "environment variable holding the gateway key")
	fl.StringVar(&o.route, "route", "chat", "the route (model) to ask")
	fl.StringVar(&o.prompt, "prompt", "code-question", `the gateway's prompt for code questions; "" for the built-in one`)
	fl.IntVar(&o.maxSnippet, "max-snippet-lines", 80, "lines sent per snippet")
	return cmd
}

// snippet is one retrieved piece of code as the prompt gets it.
type snippet struct {
	Path   string `json:"path"`
	Start  int    `json:"start"`
	End    int    `json:"end"`
	Symbol string `json:"symbol,omitempty"`
	Text   string `json:"text"`
}

func runAsk(ctx context.Context, question string, o *askOptions, stdout, stderr io.Writer) error {
	ix, err := codeindex.Open(ctx, o.root, codeindex.Options{IndexDir: o.indexDir})
	if err != nil {
		return fmt.Errorf("open the index (run llmux index first): %w", err)
	}
	defer ix.Close()
	hits, err := ix.Search(ctx, question, codeindex.SearchOptions{K: o.k})
	if err != nil {
		return err
	}
	snippets := relevant(o.root, question, hits, o.maxSnippet)
	if len(snippets) == 0 {
		fmt.Fprintf(stdout, "Nothing in the index (%d chunks) matches this question, so the model was not asked to guess.\n", ix.Stats().Chunks)
		return nil
	}
	body, err := askBody(question, snippets, o)
	if err != nil {
		return err
	}
	// Secrets are replaced here, before the snippets leave this machine;
	// the answer gets them back.
	det, err := guard.NewGitleaks(config.Secrets{}, ".")
	if err != nil {
		return err
	}
	body, vault, err := guard.NewRedactor(det).Redact(body)
	if err != nil {
		return fmt.Errorf("redact secrets: %w", err)
	}
	if vault != nil {
		fmt.Fprintf(stderr, "ask: redacted %d secrets (%s) from the snippets\n", vault.Len(), strings.Join(vault.Rules(), ", "))
	}
	answer, _, err := postChat(ctx, gatewayTarget{o.url, o.keyEnv}, "/v1/chat/completions", body)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, vault.Restore(answer))
	fmt.Fprintln(stdout, "\nSources:")
	for _, s := range snippets {
		fmt.Fprintf(stdout, "  %s:%d-%d  %s\n", s.Path, s.Start, s.End, s.Symbol)
	}
	return nil
}

// relevant re-reads the hits' code and keeps those that share a word with
// the question: rank fusion always returns something, so ask checks
// that retrieval found the question's words at all.
func relevant(root, question string, hits []codeindex.Hit, maxLines int) []snippet {
	words := contentWords(question)
	var out []snippet
	for _, h := range hits {
		text, err := readLines(filepath.Join(root, filepath.FromSlash(h.Path)), h.StartLine, min(h.EndLine, h.StartLine+maxLines-1))
		if err != nil {
			continue
		}
		lower := strings.ToLower(text)
		for _, w := range words {
			if strings.Contains(lower, w) {
				out = append(out, snippet{Path: h.Path, Start: h.StartLine, End: h.EndLine, Symbol: h.Symbol, Text: text})
				break
			}
		}
	}
	return out
}

// askStopwords are question words that say nothing about code.
var askStopwords = map[string]bool{"the": true, "and": true, "for": true, "how": true, "what": true, "does": true,
	"where": true, "which": true, "why": true, "when": true, "this": true, "that": true, "with": true, "from": true,
	"are": true, "is": true, "can": true, "code": true, "function": true, "there": true, "into": true, "our": true}

func contentWords(q string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' }) {
		if len(w) >= 3 && !askStopwords[w] {
			out = append(out, w)
		}
	}
	return out
}

// readLines returns lines start..end (1-based, inclusive) of a file.
func readLines(path string, start, end int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var b strings.Builder
	for n := 1; sc.Scan() && n <= end; n++ {
		if n >= start {
			b.WriteString(sc.Text())
			b.WriteByte('\n')
		}
	}
	return b.String(), sc.Err()
}

// askBody is the chat request: the named prompt with the question and
// snippets as variables, or the built-in prompt as messages.
func askBody(question string, snippets []snippet, o *askOptions) ([]byte, error) {
	if o.prompt != "" {
		return json.Marshal(map[string]any{"model": o.route,
			"llmux": map[string]any{"prompt": o.prompt, "variables": map[string]any{"question": question, "snippets": snippets}}})
	}
	var b strings.Builder
	for _, s := range snippets {
		fmt.Fprintf(&b, "--- %s:%d-%d %s\n%s\n", s.Path, s.Start, s.End, s.Symbol, s.Text)
	}
	fmt.Fprintf(&b, "Question: %s", question)
	return json.Marshal(map[string]any{"model": o.route, "messages": []any{
		map[string]string{"role": "system", "content": "Answer questions about the developer's code using only the snippets given. " +
			"Cite every claim as path:line. If the snippets do not contain the answer, reply exactly: I don't know"},
		map[string]string{"role": "user", "content": b.String()},
	}})
}

// gatewayTarget is where the client commands (ask, verify) send requests.
type gatewayTarget struct {
	url, keyEnv string
}

// postChat sends an OpenAI chat body to the gateway at path and returns
// the answer's text and the response headers.
func postChat(ctx context.Context, t gatewayTarget, path string, body []byte) (string, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.url, "/")+path, bytes.NewReader(body))
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key := os.Getenv(t.keyEnv); key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("send to %s: %w", t.url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return "", nil, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("gateway answered %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(data, &out); err != nil || len(out.Choices) == 0 {
		return "", nil, fmt.Errorf("unexpected answer: %.300s", data)
	}
	return out.Choices[0].Message.Content, resp.Header, nil
}
