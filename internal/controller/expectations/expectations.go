// Package expectations remembers the pod creations and deletions a
// controller has asked for but not yet seen in its informer cache, so
// that a lagging cache cannot make it create or delete twice. Shared by
// the ReplicaSet, DaemonSet and Job controllers.
package expectations

import (
	"sync"
	"time"
)

// expectationsTTL bounds how long a controller waits for its informer to
// show what it created or deleted; after that it acts again anyway
// (upstream uses the same five minutes), so a lost watch event cannot
// wedge its controller.
const expectationsTTL = 5 * time.Minute

// Expectations remember, per controller key, the pod creations and
// deletions the controller has asked for but not yet seen in its cache.
// While any are outstanding the controller does not create or delete
// again, so a lagging cache cannot make it double-create.
//
// Creations are counted (pods get generated names); deletions are tracked
// by pod key, so seeing the same deletion twice (an update with a deletion
// timestamp, then the delete event) counts once.
type Expectations struct {
	mu  sync.Mutex
	m   map[string]*expectation
	now func() time.Time
}

type expectation struct {
	adds    int
	deletes map[string]bool
	at      time.Time
}

// New returns empty expectations on the given clock.
func New(now func() time.Time) *Expectations {
	return &Expectations{m: map[string]*expectation{}, now: now}
}

// Satisfied reports whether key has nothing outstanding, or has waited
// longer than the TTL.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	return (x.adds <= 0 && len(x.deletes) == 0) || e.now().Sub(x.at) > expectationsTTL
}

// ExpectCreations records that n pods are about to be created for key,
// replacing whatever was expected before.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{adds: n, at: e.now()}
}

// ExpectDeletions records that the pods podKeys are about to be deleted
// for key, replacing whatever was expected before.
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletes: make(map[string]bool, len(podKeys)), at: e.now()}
	for _, k := range podKeys {
		x.deletes[k] = true
	}
	e.m[key] = x
}

// CreationObserved lowers the creations expected for key by one: a pod was
// seen, or a create failed and will not be seen.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved removes podKey from the deletions expected for key.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletes, podKey)
	}
}

// Forget drops everything expected for key (its owner is gone).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

// Expect records that n pods are about to be created and podKeys deleted
// for key, replacing whatever was expected before.
func (e *Expectations) Expect(key string, n int, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: n, deletes: make(map[string]bool, len(podKeys)), at: e.now()}
	for _, k := range podKeys {
		x.deletes[k] = true
	}
	e.m[key] = x
}
