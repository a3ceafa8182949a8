package daemonset

import (
	"sync"
	"time"
)

// failureBackoff spaces out the deletion of a node's failed daemon pods,
// as upstream: a pod that keeps failing on a node (rejected by its
// kubelet, say) is replaced after 1s, 2s, 4s, ... up to the maximum, not
// in a hot loop. Entries are keyed "<namespace>/<daemonset>/<node>".
type failureBackoff struct {
	base, max time.Duration

	mu sync.Mutex
	m  map[string]backoffEntry
}

type backoffEntry struct {
	delay time.Duration
	last  time.Time // when a failed pod was last deleted
}

func newFailureBackoff(base, max time.Duration) *failureBackoff {
	return &failureBackoff{base: base, max: max, m: map[string]backoffEntry{}}
}

// wait is how long id must still wait before its next failed pod may be
// deleted; 0 if it need not.
func (b *failureBackoff) wait(id string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[id]
	if !ok {
		return 0
	}
	return max(e.last.Add(e.delay).Sub(now), 0)
}

// next records that a failed pod of id is deleted now: the delay before
// the next one doubles, or starts again at base after a quiet spell of
// twice the maximum.
func (b *failureBackoff) next(id string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, e := range b.m {
		if now.Sub(e.last) > 2*b.max {
			delete(b.m, k)
		}
	}
	e, ok := b.m[id]
	if !ok {
		e.delay = b.base
	} else {
		e.delay = min(2*e.delay, b.max)
	}
	e.last = now
	b.m[id] = e
}
