// Package bench holds llmux's benchmarks that run against real listeners
// and print the conditions they ran under ("measured, not claimed").
//
// Overhead measures what llmux adds on the hot path. In one process it
// starts the provider simulator with no simulated latency, llmux in front
// of it (through package server, as `llmux serve` does) and, as the yard
// stick, a bare httputil.ReverseProxy in front of the same simulator
// (serving in full duplex, see newProxy: golang.org/issue/40747). It
// then drives the same chat load (non-streaming and streaming) against all
// three targets:
//
//	direct  client → simulator
//	proxy   client → httputil.ReverseProxy → simulator
//	llmux   client → llmux gateway → simulator
//
// The targets are interleaved in rounds, the order rotated each round, so
// that noise from a shared machine falls on all of them alike; throughput
// is compared round by round (the median of per-round ratios), latency
// over all requests of all rounds. Client, simulator, proxy and gateway
// share one process and its CPUs, so the numbers say what a request costs
// in CPU as much as in time; the report includes the process CPU time per
// request for that reason.
//
// Errors (a failed request, a status other than 200, a body that is not
// a complete answer) are counted per target and reported, never dropped.
package bench
