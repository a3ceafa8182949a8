package endpointslice

import (
	"strconv"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// tracker remembers the slice writes of the controller that the informer
// cache has not shown yet. Reconciling from a cache that misses a slice
// just created would create it again; the tracker makes such a sync wait
// until the cache has caught up.
//
// An expectation older than ttl counts as met, so that a write whose
// every trace the watch skipped (a slice created and deleted by someone
// else before the cache saw it) cannot hold a service forever.
type tracker struct {
	mu  sync.Mutex
	now func() time.Time
	ttl time.Duration
	// expected maps service key → slice uid → the write awaited.
	expected map[string]map[types.UID]expectation
	service  map[types.UID]string // slice uid → service key
}

type expectation struct {
	rv string // the resourceVersion written, or "" for a slice deleted
	at time.Time
}

func newTracker(now func() time.Time, ttl time.Duration) *tracker {
	return &tracker{now: now, ttl: ttl, expected: map[string]map[types.UID]expectation{}, service: map[types.UID]string{}}
}

// wrote records a slice created or updated for a service.
func (t *tracker) wrote(svcKey string, s *discoveryv1.EndpointSlice) {
	t.set(svcKey, s.UID, s.ResourceVersion)
}

// deleted records a slice deleted for a service.
func (t *tracker) deleted(svcKey string, uid types.UID) {
	t.set(svcKey, uid, "")
}

func (t *tracker) set(svcKey string, uid types.UID, rv string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expected[svcKey]
	if m == nil {
		m = map[types.UID]expectation{}
		t.expected[svcKey] = m
	}
	m[uid] = expectation{rv: rv, at: t.now()}
	t.service[uid] = svcKey
}

// gone forgets a slice the informer saw deleted: nothing more will come of it.
func (t *tracker) gone(uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.drop(uid)
}

func (t *tracker) drop(uid types.UID) {
	key, ok := t.service[uid]
	if !ok {
		return
	}
	delete(t.service, uid)
	delete(t.expected[key], uid)
	if len(t.expected[key]) == 0 {
		delete(t.expected, key)
	}
}

// stale reports whether cached (the service's slices in the cache) misses
// a write of ours; expectations the cache has met are forgotten.
func (t *tracker) stale(svcKey string, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	byUID := make(map[types.UID]*discoveryv1.EndpointSlice, len(cached))
	for _, s := range cached {
		byUID[s.UID] = s
	}
	stale := false
	expired := t.now().Add(-t.ttl)
	for uid, e := range t.expected[svcKey] {
		s, present := byUID[uid]
		rv := e.rv
		switch {
		case e.at.Before(expired):
			t.drop(uid)
		case rv == "" && present, rv != "" && !present, rv != "" && older(s.ResourceVersion, rv):
			stale = true
		default:
			t.drop(uid)
		}
	}
	return stale
}

// older reports whether resourceVersion a is older than b. Versions are
// opaque in the API but etcd revisions in practice; anything that does
// not parse counts as current, so the tracker can never wedge a service.
func older(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x < y
}
