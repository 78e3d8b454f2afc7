package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/llmux/llmux/internal/gateway"
	"github.com/llmux/llmux/internal/sim"
)

// TestProxyBodyOutlivesResponseStart forces the interleaving behind a
// rare "stream proxy: unexpected EOF" in TestOverheadReport: the upstream
// answers before the proxy's transport has made its last read of the
// request body (the one past Content-Length that checks the body is not
// longer), and the proxy starts relaying the answer first. That read must
// still see the body's end: if the proxy's server closed the body when
// the response started, the read fails and the transport closes the
// upstream connection under the stream it is relaying.
func TestProxyBodyOutlivesResponseStart(t *testing.T) {
	s, err := sim.New(sim.Config{Keys: []sim.Key{{Key: simKey, Provider: sim.ProviderOpenAI}}}) // TimeScale 0: no latency
	if err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewServer(s)
	defer upstream.Close()
	u, err := url.Parse(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr := gateway.NewHTTPClient().Transport.(*http.Transport)
	defer tr.CloseIdleConnections()
	gt := &gatedTransport{next: tr, ctx: t.Context()}
	proxy := httptest.NewServer(newProxy(u, gt, log.New(t.Output(), "proxy: ", 0)))
	defer proxy.Close()

	bodies, err := chatBodies(model)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, proxy.URL+"/v1/chat/completions", bytes.NewReader(bodies[modeStream]))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+simKey)
	resp, err := proxy.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Errorf("read the stream through the proxy: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !complete(modeStream, got) {
		t.Errorf("status %d, body %s; want 200 and a stream ending in [DONE]", resp.StatusCode, snippet(got))
	}
	gt.mu.Lock()
	defer gt.mu.Unlock()
	if !gt.settled {
		t.Fatal("the held read never ran while the answer was relayed: the test did not force the interleaving")
	}
	if gt.lastRead != nil {
		t.Errorf("the transport's read past the request body's end got %v, want io.EOF: "+
			"the proxy closed the request body when it started the response", gt.lastRead)
	}
}

// gatedTransport holds the transport's read past the end of a request
// body until the proxy has relayed the first bytes of the answer (its
// response headers are out then), and records what that read returned.
// It serves one request.
type gatedTransport struct {
	next    http.RoundTripper
	ctx     context.Context // ends a wait the transport never releases
	release chan struct{}
	lastErr chan error
	once    sync.Once

	mu       sync.Mutex
	settled  bool  // the held read ran while the answer was relayed
	lastRead error // nil for io.EOF
}

func (g *gatedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	g.release, g.lastErr = make(chan struct{}), make(chan error, 1)
	req = req.Clone(req.Context())
	req.Body = &gatedBody{ReadCloser: req.Body, left: req.ContentLength, g: g}
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		g.once.Do(func() { close(g.release) })
		return nil, err
	}
	resp.Body = &settlingBody{ReadCloser: resp.Body, g: g}
	return resp, nil
}

// settle lets the held read run and waits for its result.
func (g *gatedTransport) settle() {
	g.once.Do(func() {
		close(g.release)
		select {
		case err := <-g.lastErr:
			g.mu.Lock()
			g.settled, g.lastRead = true, err
			g.mu.Unlock()
		case <-g.ctx.Done():
		}
	})
}

// gatedBody is a request body whose read past its declared length waits
// for the gate.
type gatedBody struct {
	io.ReadCloser
	left int64
	g    *gatedTransport
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if b.left > 0 {
		n, err := b.ReadCloser.Read(p[:min(int64(len(p)), b.left)])
		b.left -= int64(n)
		return n, err
	}
	<-b.g.release
	n, err := b.ReadCloser.Read(p)
	last := err
	if errors.Is(err, io.EOF) {
		last = nil
	}
	select {
	case b.g.lastErr <- last:
	default: // only the first read past the end counts
	}
	return n, err
}

// settlingBody is the answer; its second read comes after the proxy wrote
// and flushed the first, so the proxy's response has started.
type settlingBody struct {
	io.ReadCloser
	reads int
	g     *gatedTransport
}

func (b *settlingBody) Read(p []byte) (int, error) {
	if b.reads++; b.reads == 2 {
		b.g.settle()
	}
	return b.ReadCloser.Read(p)
}

func (b *settlingBody) Close() error {
	b.g.settle()
	return b.ReadCloser.Close()
}
