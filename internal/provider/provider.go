package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/llmux/llmux/internal/config"
)

// Format is a wire format: the body shape an adapter sends and receives.
type Format string

// Wire formats.
const (
	FormatOpenAI    Format = "openai"
	FormatAnthropic Format = "anthropic"
)

// Op is the operation a Request asks for.
type Op int

// Operations.
const (
	OpChat       Op = iota // chat completions / messages
	OpEmbeddings           // embeddings (OpenAI format only)
)

func (o Op) String() string {
	switch o {
	case OpChat:
		return "chat"
	case OpEmbeddings:
		return "embeddings"
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// Request is one upstream call.
type Request struct {
	Op Op
	// Model is the upstream model id, or the Azure deployment name.
	Model string
	// Body is the request body in the adapter's Format, model already set.
	Body []byte
	// Stream says the body asks for an event stream.
	Stream bool
	// Header holds client headers to forward (e.g. anthropic-beta).
	Header http.Header
}

// Response is a successful (2xx) upstream response. The caller must close
// Body; closing it also releases the request's timeout.
type Response struct {
	Status int
	Header http.Header
	Body   io.ReadCloser
	Limits Limits
}

// Adapter sends requests to one account.
type Adapter interface {
	// Send performs the request. A non-2xx answer or a transport failure is
	// returned as an *Error.
	Send(ctx context.Context, req *Request) (*Response, error)
	// Format is the wire format Send expects and returns.
	Format() Format
}

// New returns the adapter for an account. client is shared by all adapters.
func New(acc config.Account, client *http.Client) (Adapter, error) {
	base, err := url.Parse(strings.TrimSuffix(acc.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("provider: account %q: base_url is not an absolute URL", acc.Name)
	}
	c := conn{
		account: acc.Name,
		base:    base,
		key:     acc.APIKey,
		headers: acc.Headers,
		timeout: acc.Timeout,
		client:  client,
	}
	switch acc.Provider {
	case config.ProviderOpenAI, config.ProviderOpenAICompatible:
		return &OpenAI{conn: c}, nil
	case config.ProviderAzure:
		v1 := strings.HasSuffix(base.Path, "/openai/v1")
		return &Azure{conn: c, apiVersion: acc.APIVersion, v1: v1}, nil
	case config.ProviderAnthropic:
		return &Anthropic{conn: c}, nil
	}
	return nil, fmt.Errorf("provider: account %q: unknown provider %q", acc.Name, acc.Provider)
}

// conn is what every adapter shares: where, with which key, how.
type conn struct {
	account string
	base    *url.URL
	key     config.Secret
	headers map[string]string
	timeout time.Duration
	client  *http.Client
}

// endpoint returns base joined with path.
func (c *conn) endpoint(path string) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String()
}

// do sends an HTTP request and turns every failure into an *Error.
// setAuth adds the provider's auth headers; parse reads its limit headers.
func (c *conn) do(ctx context.Context, req *Request, target string, f Format,
	setAuth func(http.Header), parse func(http.Header, time.Time) Limits) (*Response, error) {
	ctx, cancel := c.withTimeout(ctx)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, target, newBodyReader(req.Body))
	if err != nil {
		cancel()
		return nil, &Error{Account: c.account, Class: ClassRetryable, Err: fmt.Errorf("build request: %w", err)}
	}
	hreq.ContentLength = int64(len(req.Body))
	hreq.GetBody = func() (io.ReadCloser, error) { return newBodyReader(req.Body), nil }
	h := hreq.Header
	for k, vs := range req.Header {
		h[k] = vs
	}
	for k, v := range c.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	if req.Stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	setAuth(h)
	resp, err := c.client.Do(hreq)
	if err != nil {
		cancel()
		return nil, transportError(c.account, err)
	}
	limits := parse(resp.Header, time.Now())
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer cancel()
		return nil, statusError(c.account, f, resp, limits)
	}
	return &Response{
		Status: resp.StatusCode,
		Header: resp.Header,
		Body:   &cancelBody{ReadCloser: resp.Body, cancel: cancel},
		Limits: limits,
	}, nil
}

func (c *conn) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout > 0 {
		return context.WithTimeout(ctx, c.timeout)
	}
	return context.WithCancel(ctx)
}

// cancelBody releases the request's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// bodyReader is a bytes reader that is also a ReadCloser, so the transport
// can replay the body.
type bodyReader struct {
	b []byte
	i int
}

func newBodyReader(b []byte) *bodyReader { return &bodyReader{b: b} }

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func (r *bodyReader) Close() error { return nil }
