package ingress

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ejectFor is how long an endpoint that refused a connection is passed
// over while others are available.
const ejectFor = 5 * time.Second

// endpoint is one ready address:port of a service. It outlives routing
// snapshots, so that outstanding requests keep counting across changes.
type endpoint struct {
	addr         string
	outstanding  atomic.Int64
	ejectedUntil atomic.Int64 // unix nanoseconds
}

// pool is the set of ready endpoints of one service port.
type pool struct {
	// mu makes choosing and counting one step, so that concurrent
	// requests see each other's choices.
	mu        sync.Mutex
	endpoints []*endpoint
}

func (p *pool) empty() bool { return p == nil || len(p.endpoints) == 0 }

// pick takes the endpoint with the fewest outstanding requests, ties
// broken at random, skipping those already tried and, while any other
// is left, those ejected at now. It counts the request against the
// endpoint; the caller calls done. nil when none is left.
func (p *pool) pick(tried []*endpoint, now time.Time) *endpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	nowNano := now.UnixNano()
	var best *endpoint
	var bestLoad int64
	bestEjected, ties := true, 0
	for _, e := range p.endpoints {
		if slices.Contains(tried, e) {
			continue
		}
		ejected := e.ejectedUntil.Load() > nowNano
		load := e.outstanding.Load()
		switch {
		case best == nil, bestEjected && !ejected, bestEjected == ejected && load < bestLoad:
			best, bestLoad, bestEjected, ties = e, load, ejected, 1
		case bestEjected == ejected && load == bestLoad:
			ties++
			if rand.IntN(ties) == 0 { // reservoir sampling: each tie equally likely
				best = e
			}
		}
	}
	if best != nil {
		best.outstanding.Add(1)
	}
	return best
}

func (e *endpoint) done() { e.outstanding.Add(-1) }

func (e *endpoint) eject(now time.Time) { e.ejectedUntil.Store(now.Add(ejectFor).UnixNano()) }
