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

// Idle keep-alive connections to one endpoint: at most maxIdlePerEndpoint
// are kept, each for at most idleConnTimeout.
const (
	maxIdlePerEndpoint = 128
	idleConnTimeout    = 60 * time.Second
)

// endpoint is one ready address:port of a service. It outlives routing
// snapshots, so that outstanding requests keep counting across changes.
type endpoint struct {
	addr         string
	outstanding  atomic.Int64
	ejectedUntil atomic.Int64 // unix nanoseconds

	// mu guards the idle connections, oldest first, and retired: once
	// the endpoint has left the routing snapshot, connections handed back
	// are closed instead of kept.
	mu      sync.Mutex
	idle    []*backendConn
	retired bool
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

// takeIdle returns the most recently used idle connection, nil when
// there is none. Connections idle for longer than idleConnTimeout are
// closed on the way.
func (e *endpoint) takeIdle(now time.Time) *backendConn {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expireLocked(now)
	n := len(e.idle)
	if n == 0 {
		return nil
	}
	bc := e.idle[n-1]
	e.idle[n-1] = nil
	e.idle = e.idle[:n-1]
	return bc
}

// putIdle keeps a connection whose exchange ended cleanly for the next
// request, or closes it when the endpoint is retired or has enough.
func (e *endpoint) putIdle(bc *backendConn, now time.Time) {
	e.mu.Lock()
	if e.retired || len(e.idle) >= maxIdlePerEndpoint {
		e.mu.Unlock()
		bc.close()
		return
	}
	bc.idleSince = now
	e.idle = append(e.idle, bc)
	e.mu.Unlock()
}

// expire closes the connections idle since before now-idleConnTimeout.
func (e *endpoint) expire(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expireLocked(now)
}

func (e *endpoint) expireLocked(now time.Time) {
	cut := 0
	for cut < len(e.idle) && now.Sub(e.idle[cut].idleSince) > idleConnTimeout {
		e.idle[cut].close()
		cut++
	}
	if cut > 0 {
		e.idle = append(e.idle[:0], e.idle[cut:]...)
	}
}

// retire closes the idle connections and those handed back later.
func (e *endpoint) retire() {
	e.mu.Lock()
	idle := e.idle
	e.idle, e.retired = nil, true
	e.mu.Unlock()
	for _, bc := range idle {
		bc.close()
	}
}

// idleCount is the number of idle connections kept.
func (e *endpoint) idleCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.idle)
}
