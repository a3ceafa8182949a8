package scheduler

import (
	"container/heap"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Backoff and flushing, as upstream's defaults.
const (
	initialBackoff = time.Second
	maxBackoff     = 10 * time.Second
	// maxUnschedulableWait moves a pod no event has helped back to active,
	// a safety net for a change the scheduler does not watch.
	maxUnschedulableWait = 5 * time.Minute
	// unschedulableCheckInterval is how often pods are checked against
	// maxUnschedulableWait.
	unschedulableCheckInterval = 30 * time.Second
)

// where a queued pod is.
type location int

const (
	inActive location = iota
	inBackoff
	inUnschedulable
	inFlight // popped, being scheduled or bound
)

// queuedPod is a pending pod with its scheduling history.
type queuedPod struct {
	pod      *corev1.Pod
	key      string
	where    location
	attempts int
	// activeSince orders pods of equal priority first come, first served.
	activeSince     time.Time
	backoffUntil    time.Time
	unschedulableAt time.Time
	cycle           int64 // scheduling cycle of the last pop
	changedInFlight bool  // its spec changed while it was being scheduled
	heapIndex       int
}

// schedulingQueue holds the pods waiting to be scheduled in three parts:
// active (ready to be tried, highest priority first, then oldest),
// backoff (failed recently, waiting out a backoff of 1s doubling per
// attempt up to 10s) and unschedulable (failed, waiting for a cluster
// change that may help). It is deterministic: time comes in as arguments,
// and it is not safe for concurrent use.
type schedulingQueue struct {
	pods          map[string]*queuedPod
	active        activeHeap
	backoff       backoffHeap
	unschedulable map[string]*queuedPod

	// schedulingCycle counts pops; moveRequestCycle is the cycle of the
	// last move request. A pod that fails in a cycle no later than a move
	// request may have missed the change, so it is not parked.
	schedulingCycle  int64
	moveRequestCycle int64
	lastCheck        time.Time // of the unschedulable pods' wait
}

func newSchedulingQueue() *schedulingQueue {
	return &schedulingQueue{pods: map[string]*queuedPod{}, unschedulable: map[string]*queuedPod{}, moveRequestCycle: -1}
}

func queueKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// add queues a new pending pod as active; a known one is updated.
func (q *schedulingQueue) add(pod *corev1.Pod, now time.Time) {
	if _, ok := q.pods[queueKey(pod)]; ok {
		q.update(pod, true, now)
		return
	}
	qp := &queuedPod{pod: pod, key: queueKey(pod)}
	q.pods[qp.key] = qp
	q.toActive(qp, now)
}

// update replaces a queued pod's object. A spec change (not a status
// write) may make an unschedulable pod schedulable, so it is retried.
func (q *schedulingQueue) update(pod *corev1.Pod, specChanged bool, now time.Time) {
	qp, ok := q.pods[queueKey(pod)]
	if !ok {
		q.add(pod, now)
		return
	}
	qp.pod = pod
	switch qp.where {
	case inActive:
		heap.Fix(&q.active, qp.heapIndex)
	case inUnschedulable:
		if specChanged {
			delete(q.unschedulable, qp.key)
			q.toActiveOrBackoff(qp, now)
		}
	case inFlight:
		qp.changedInFlight = qp.changedInFlight || specChanged
	}
}

// remove forgets a pod: it was deleted, or bound by someone.
func (q *schedulingQueue) remove(key string) {
	qp, ok := q.pods[key]
	if !ok {
		return
	}
	switch qp.where {
	case inActive:
		heap.Remove(&q.active, qp.heapIndex)
	case inBackoff:
		heap.Remove(&q.backoff, qp.heapIndex)
	case inUnschedulable:
		delete(q.unschedulable, key)
	}
	delete(q.pods, key)
}

// pop returns the next active pod, after moving pods whose backoff ended,
// and marks it in flight; nil when none is active.
func (q *schedulingQueue) pop(now time.Time) *queuedPod {
	q.flush(now)
	if q.active.Len() == 0 {
		return nil
	}
	qp := heap.Pop(&q.active).(*queuedPod)
	q.schedulingCycle++
	qp.where, qp.cycle, qp.changedInFlight = inFlight, q.schedulingCycle, false
	qp.attempts++
	return qp
}

// done forgets a pod that was placed.
func (q *schedulingQueue) done(key string) {
	if qp, ok := q.pods[key]; ok && qp.where == inFlight {
		delete(q.pods, key)
	}
}

// failed returns a popped pod after a failed attempt. An unschedulable
// pod waits for a move request unless one came, or its spec changed, while
// it was in flight; a pod that hit an error backs off and is retried.
func (q *schedulingQueue) failed(key string, unschedulable bool, now time.Time) {
	qp, ok := q.pods[key]
	if !ok || qp.where != inFlight {
		return
	}
	qp.backoffUntil = now.Add(backoffFor(qp.attempts))
	if unschedulable && !qp.changedInFlight && q.moveRequestCycle < qp.cycle {
		qp.where, qp.unschedulableAt = inUnschedulable, now
		q.unschedulable[key] = qp
		return
	}
	q.toActiveOrBackoff(qp, now)
}

// moveAll retries every unschedulable pod after a cluster change that may
// help (a node added or changed, a pod deleted): each goes to backoff if
// its backoff has not ended, else to active.
func (q *schedulingQueue) moveAll(now time.Time) {
	q.moveRequestCycle = q.schedulingCycle
	for key, qp := range q.unschedulable {
		delete(q.unschedulable, key)
		q.toActiveOrBackoff(qp, now)
	}
}

// flush moves pods whose backoff ended to active, and, every
// unschedulableCheckInterval, pods unschedulable for longer than
// maxUnschedulableWait back to be retried.
func (q *schedulingQueue) flush(now time.Time) {
	for q.backoff.Len() > 0 && !q.backoff[0].backoffUntil.After(now) {
		qp := heap.Pop(&q.backoff).(*queuedPod)
		q.toActive(qp, now)
	}
	if len(q.unschedulable) == 0 || now.Sub(q.lastCheck) < unschedulableCheckInterval {
		return
	}
	q.lastCheck = now
	for key, qp := range q.unschedulable {
		if now.Sub(qp.unschedulableAt) >= maxUnschedulableWait {
			delete(q.unschedulable, key)
			q.toActiveOrBackoff(qp, now)
		}
	}
}

// nextWake is when flush next has something to do; ok is false when
// nothing is waiting on time.
func (q *schedulingQueue) nextWake() (t time.Time, ok bool) {
	if q.backoff.Len() > 0 {
		t, ok = q.backoff[0].backoffUntil, true
	}
	if len(q.unschedulable) > 0 {
		if at := q.lastCheck.Add(unschedulableCheckInterval); !ok || at.Before(t) {
			t, ok = at, true
		}
	}
	return t, ok
}

func (q *schedulingQueue) toActiveOrBackoff(qp *queuedPod, now time.Time) {
	if qp.backoffUntil.After(now) {
		qp.where = inBackoff
		heap.Push(&q.backoff, qp)
		return
	}
	q.toActive(qp, now)
}

func (q *schedulingQueue) toActive(qp *queuedPod, now time.Time) {
	qp.where, qp.activeSince = inActive, now
	heap.Push(&q.active, qp)
}

// backoffFor is 1s doubled per attempt after the first, at most 10s.
func backoffFor(attempts int) time.Duration {
	d := initialBackoff
	for i := 1; i < attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

func priorityOf(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// activeHeap orders by priority (highest first), then activeSince, then
// key, so the order never depends on map iteration.
type activeHeap []*queuedPod

func (h activeHeap) Len() int { return len(h) }
func (h activeHeap) Less(i, j int) bool {
	pi, pj := priorityOf(h[i].pod), priorityOf(h[j].pod)
	if pi != pj {
		return pi > pj
	}
	if !h[i].activeSince.Equal(h[j].activeSince) {
		return h[i].activeSince.Before(h[j].activeSince)
	}
	return h[i].key < h[j].key
}
func (h activeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}
func (h *activeHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.heapIndex = len(*h)
	*h = append(*h, qp)
}
func (h *activeHeap) Pop() any {
	old := *h
	qp := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return qp
}

// backoffHeap orders by the end of the backoff, then key.
type backoffHeap []*queuedPod

func (h backoffHeap) Len() int { return len(h) }
func (h backoffHeap) Less(i, j int) bool {
	if !h[i].backoffUntil.Equal(h[j].backoffUntil) {
		return h[i].backoffUntil.Before(h[j].backoffUntil)
	}
	return h[i].key < h[j].key
}
func (h backoffHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}
func (h *backoffHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.heapIndex = len(*h)
	*h = append(*h, qp)
}
func (h *backoffHeap) Pop() any {
	old := *h
	qp := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return qp
}
