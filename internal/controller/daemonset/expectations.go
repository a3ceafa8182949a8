package daemonset

import (
	"sync"
	"time"
)

// expectationsTTL bounds how long a controller waits for its informer to
// show what it created or deleted; after that it acts again anyway
// (upstream uses the same five minutes), so a lost watch event cannot
// wedge a DaemonSet.
const expectationsTTL = 5 * time.Minute

// expectations remember, per DaemonSet key, the pod creations and
// deletions the controller has asked for but not yet seen in its cache.
// While any are outstanding the controller does not create or delete
// again, so a lagging cache cannot make it double-create.
//
// Creations are counted (pods get generated names); deletions are tracked
// by pod key, so seeing the same deletion twice (an update with a deletion
// timestamp, then the delete event) counts once.
type expectations struct {
	mu  sync.Mutex
	m   map[string]*expectation
	now func() time.Time
}

type expectation struct {
	adds    int
	deletes map[string]bool
	at      time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{m: map[string]*expectation{}, now: now}
}

// satisfied reports whether key has nothing outstanding, or has waited
// longer than the TTL.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	return (x.adds <= 0 && len(x.deletes) == 0) || e.now().Sub(x.at) > expectationsTTL
}

// expectCreations records that n pods are about to be created for key,
// replacing whatever was expected before.
func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{adds: n, at: e.now()}
}

// expectDeletions records that the pods podKeys are about to be deleted
// for key, replacing whatever was expected before.
func (e *expectations) expectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletes: make(map[string]bool, len(podKeys)), at: e.now()}
	for _, k := range podKeys {
		x.deletes[k] = true
	}
	e.m[key] = x
}

// creationObserved lowers the creations expected for key by one: a pod was
// seen, or a create failed and will not be seen.
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// deletionObserved removes podKey from the deletions expected for key.
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletes, podKey)
	}
}

// forget drops everything expected for key (its DaemonSet is gone).
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

// expect records that n pods are about to be created and podKeys deleted
// for key, replacing whatever was expected before.
func (e *expectations) expect(key string, n int, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: n, deletes: make(map[string]bool, len(podKeys)), at: e.now()}
	for _, k := range podKeys {
		x.deletes[k] = true
	}
	e.m[key] = x
}
