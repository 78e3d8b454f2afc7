package bench

import (
	"context"
	"strings"
	"sync"
	"time"
)

// healthEvery is how often (provider time) the run samples every
// gateway's view of its deployments: circuit state and cooldown, from
// the gateway's own metrics (llmux_circuit_state,
// llmux_deployment_cooldown_seconds).
const healthEvery = time.Second

// healthTally is one deployment's health in one mode × phase, as sampled.
type healthTally struct {
	Samples int
	// Out counts samples where the deployment took no new requests:
	// circuit open, or cooling down.
	Out int
	// Opens counts closed → open transitions seen between samples.
	Opens int
}

// OutShare is the share of the phase the deployment was out of rotation.
func (h healthTally) OutShare() float64 {
	if h.Samples == 0 {
		return 0
	}
	return float64(h.Out) / float64(h.Samples)
}

// healthSampler samples the gateways until its context ends.
type healthSampler struct {
	e     *brownoutEnv
	start time.Time
	phase time.Duration
	// tally[m][p][a]; written only by the sampling goroutine, read after
	// it ended.
	tally [][][]healthTally
	open  [][]bool // last seen open, by mode and account
	done  sync.WaitGroup
}

// sampleHealth starts sampling; stop it with the returned function, which
// returns when the sampling goroutine has ended.
func sampleHealth(ctx context.Context, e *brownoutEnv, start time.Time, phase time.Duration) (*healthSampler, func()) {
	s := &healthSampler{e: e, start: start, phase: phase}
	for range brownoutModes {
		var byPhase [][]healthTally
		for range brownoutPhases {
			byPhase = append(byPhase, make([]healthTally, len(brownoutAccounts)))
		}
		s.tally = append(s.tally, byPhase)
		s.open = append(s.open, make([]bool, len(brownoutAccounts)))
	}
	ctx, cancel := context.WithCancel(ctx)
	s.done.Go(func() {
		tick := time.NewTicker(e.clock.real(healthEvery))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.sample()
			}
		}
	})
	return s, func() { cancel(); s.done.Wait() }
}

// sample records every gateway's deployments once.
func (s *healthSampler) sample() {
	p := int(s.e.clock.Now().Sub(s.start) / s.phase)
	if p < 0 || p >= len(brownoutPhases) {
		return
	}
	for m := range brownoutModes {
		circuit, cooldown := s.e.deploymentGauges(m)
		for a, acct := range brownoutAccounts {
			h := &s.tally[m][p][a]
			h.Samples++
			open := circuit[acct.name] == 1
			if open || cooldown[acct.name] > 0 {
				h.Out++
			}
			if open && !s.open[m][a] {
				h.Opens++
			}
			s.open[m][a] = open
		}
	}
}

// deploymentGauges returns mode m's llmux_circuit_state and
// llmux_deployment_cooldown_seconds by account.
func (e *brownoutEnv) deploymentGauges(m int) (circuit, cooldown map[string]float64) {
	circuit, cooldown = map[string]float64{}, map[string]float64{}
	mfs, err := e.registry[m].Gather()
	if err != nil {
		return circuit, cooldown
	}
	for _, mf := range mfs {
		var into map[string]float64
		switch mf.GetName() {
		case "llmux_circuit_state":
			into = circuit
		case "llmux_deployment_cooldown_seconds":
			into = cooldown
		default:
			continue
		}
		for _, x := range mf.GetMetric() {
			for _, l := range x.GetLabel() {
				if l.GetName() == "deployment" {
					account, _, _ := strings.Cut(l.GetValue(), "/")
					into[account] = x.GetGauge().GetValue()
				}
			}
		}
	}
	return circuit, cooldown
}
