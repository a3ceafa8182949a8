package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// queueState renders where each pod is: "active=[a b] backoff=[c] unschedulable=[d] flight=[e]",
// active in pop order.
func queueState(q *schedulingQueue) string {
	var active, backoff, unsched, flight []string
	for _, qp := range q.pods {
		switch qp.where {
		case inActive:
			active = append(active, qp.pod.Name)
		case inBackoff:
			backoff = append(backoff, qp.pod.Name)
		case inUnschedulable:
			unsched = append(unsched, qp.pod.Name)
		case inFlight:
			flight = append(flight, qp.pod.Name)
		}
	}
	ordered := slices.Clone(q.active)
	slices.SortFunc(ordered, func(a, b *queuedPod) int {
		h := activeHeap{a, b}
		if h.Less(0, 1) {
			return -1
		}
		return 1
	})
	active = active[:0]
	for _, qp := range ordered {
		active = append(active, qp.pod.Name)
	}
	slices.Sort(backoff)
	slices.Sort(unsched)
	slices.Sort(flight)
	return fmt.Sprintf("active=%v backoff=%v unschedulable=%v flight=%v", active, backoff, unsched, flight)
}

func withPriority(p int32) func(*corev1.Pod) {
	return func(pod *corev1.Pod) { pod.Spec.Priority = &p }
}

func TestQueueScenarios(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		do   func(q *schedulingQueue)
		want string // queueState after the step; "" skips the check
	}
	add := func(name string, d time.Duration, opts ...func(*corev1.Pod)) func(*schedulingQueue) {
		return func(q *schedulingQueue) { q.add(testPod(name, "", "", opts...), at(d)) }
	}
	pop := func(want string, d time.Duration) func(*schedulingQueue) {
		return func(q *schedulingQueue) {
			got := "<nil>"
			if qp := q.pop(at(d)); qp != nil {
				got = qp.pod.Name
			}
			if got != want {
				t.Errorf("pop at %v: got %s, want %s", d, got, want)
			}
		}
	}
	fail := func(name string, unschedulable bool, d time.Duration) func(*schedulingQueue) {
		return func(q *schedulingQueue) { q.failed("default/"+name, unschedulable, at(d)) }
	}
	moveAll := func(d time.Duration) func(*schedulingQueue) {
		return func(q *schedulingQueue) { q.moveAll(at(d)) }
	}
	flush := func(d time.Duration) func(*schedulingQueue) {
		return func(q *schedulingQueue) { q.flush(at(d)) }
	}

	tests := []struct {
		name  string
		steps []step
	}{
		{"priority first, then first come", []step{
			{add("a", 0), ""},
			{add("b", time.Millisecond, withPriority(10)), ""},
			{add("c", 2*time.Millisecond), "active=[b a c] backoff=[] unschedulable=[] flight=[]"},
			{pop("b", 3*time.Millisecond), "active=[a c] backoff=[] unschedulable=[] flight=[b]"},
			{func(q *schedulingQueue) { q.done("default/b") }, "active=[a c] backoff=[] unschedulable=[] flight=[]"},
		}},
		{"unschedulable waits for a move, then backs off", []step{
			{add("a", 0), ""},
			{pop("a", 0), ""},
			{fail("a", true, 0), "active=[] backoff=[] unschedulable=[a] flight=[]"},
			{pop("<nil>", 300*time.Millisecond), ""},
			// Moved within its 1s backoff: it waits in backoff.
			{moveAll(500 * time.Millisecond), "active=[] backoff=[a] unschedulable=[] flight=[]"},
			{pop("<nil>", 900*time.Millisecond), ""},
			{pop("a", time.Second), "active=[] backoff=[] unschedulable=[] flight=[a]"},
		}},
		{"moved after its backoff: straight to active", []step{
			{add("a", 0), ""},
			{pop("a", 0), ""},
			{fail("a", true, 0), ""},
			{moveAll(2 * time.Second), "active=[a] backoff=[] unschedulable=[] flight=[]"},
		}},
		{"a move while in flight is not missed", []step{
			{add("a", 0), ""},
			{pop("a", 0), ""},
			{moveAll(10 * time.Millisecond), ""},
			{fail("a", true, 20*time.Millisecond), "active=[] backoff=[a] unschedulable=[] flight=[]"},
		}},
		{"a move before the pop does not count", []step{
			{add("a", 0), ""},
			{moveAll(0), ""},
			{pop("a", 0), ""},
			{fail("a", true, 0), "active=[] backoff=[] unschedulable=[a] flight=[]"},
		}},
		{"errors back off without a move", []step{
			{add("a", 0), ""},
			{pop("a", 0), ""},
			{fail("a", false, 0), "active=[] backoff=[a] unschedulable=[] flight=[]"},
			{pop("<nil>", 999*time.Millisecond), ""},
			{pop("a", time.Second), ""},
			{fail("a", false, time.Second), ""},
			// Second attempt: 2s.
			{pop("<nil>", 2999*time.Millisecond), ""},
			{pop("a", 3*time.Second), ""},
		}},
		{"spec change retries an unschedulable pod", []step{
			{add("a", 0), ""},
			{pop("a", 0), ""},
			{fail("a", true, 0), ""},
			{func(q *schedulingQueue) { q.update(testPod("a", "", ""), false, at(5*time.Second)) }, "active=[] backoff=[] unschedulable=[a] flight=[]"},
			{func(q *schedulingQueue) { q.update(testPod("a", "", ""), true, at(5*time.Second)) }, "active=[a] backoff=[] unschedulable=[] flight=[]"},
		}},
		{"spec change in flight", []step{
			{add("a", 0), ""},
			{pop("a", 0), ""},
			{func(q *schedulingQueue) { q.update(testPod("a", "", ""), true, at(0)) }, ""},
			{fail("a", true, 0), "active=[] backoff=[a] unschedulable=[] flight=[]"},
		}},
		{"remove from anywhere", []step{
			{add("a", 0), ""},
			{add("b", 0), ""},
			{add("c", 0), ""},
			{add("d", 0), ""},
			{pop("a", 0), ""},
			{pop("b", 0), ""},
			{pop("c", 0), ""},
			{fail("a", true, 0), ""},
			{fail("b", false, 0), "active=[d] backoff=[b] unschedulable=[a] flight=[c]"},
			{func(q *schedulingQueue) {
				for _, k := range []string{"a", "b", "c", "d"} {
					q.remove("default/" + k)
				}
			}, "active=[] backoff=[] unschedulable=[] flight=[]"},
			{fail("c", true, 0), "active=[] backoff=[] unschedulable=[] flight=[]"},
		}},
		{"unschedulable for 5 minutes is retried", []step{
			{add("a", 0), ""},
			{pop("a", 0), ""},
			{fail("a", true, 0), ""},
			{flush(4 * time.Minute), "active=[] backoff=[] unschedulable=[a] flight=[]"},
			{flush(5*time.Minute + 10*time.Second), "active=[a] backoff=[] unschedulable=[] flight=[]"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newSchedulingQueue()
			for i, s := range tc.steps {
				s.do(q)
				if s.want == "" {
					continue
				}
				if got := queueState(q); got != s.want {
					t.Errorf("step %d: got %s, want %s", i, got, s.want)
				}
			}
		})
	}
}

func TestBackoffFor(t *testing.T) {
	var got []string
	for attempts := 1; attempts <= 6; attempts++ {
		got = append(got, backoffFor(attempts).String())
	}
	if want := "1s 2s 4s 8s 10s 10s"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestNextWake(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	q := newSchedulingQueue()
	if _, ok := q.nextWake(); ok {
		t.Errorf("empty queue wants a wake-up")
	}
	q.add(testPod("a", "", ""), t0)
	q.pop(t0)
	q.failed("default/a", false, t0)
	if got, ok := q.nextWake(); !ok || !got.Equal(t0.Add(time.Second)) {
		t.Errorf("backoff wake: got %v %v, want %v", got, ok, t0.Add(time.Second))
	}
	q.pop(t0.Add(time.Second))
	q.failed("default/a", true, t0.Add(time.Second))
	q.flush(t0.Add(time.Second)) // starts the 30s check interval
	if got, ok := q.nextWake(); !ok || !got.Equal(t0.Add(31*time.Second)) {
		t.Errorf("unschedulable check: got %v %v, want %v", got, ok, t0.Add(31*time.Second))
	}
}
