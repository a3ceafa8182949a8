package job

import (
	"fmt"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func testJob(completions, parallelism, backoffLimit int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", UID: "uid"},
		Spec: batchv1.JobSpec{
			Completions: &completions, Parallelism: &parallelism, BackoffLimit: &backoffLimit,
		},
	}
}

// pods makes n pods in phase, named by prefix, created at t0.
func pods(prefix string, n int, phase corev1.PodPhase) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("%s%d", prefix, i), UID: types.UID(fmt.Sprintf("%s%d", prefix, i)),
				CreationTimestamp: metav1.NewTime(t0), Finalizers: []string{batchv1.JobTrackingFinalizer},
			},
			Status: corev1.PodStatus{Phase: phase},
		})
	}
	return out
}

func conditionTypes(st batchv1.JobStatus) []string {
	var out []string
	for _, c := range st.Conditions {
		out = append(out, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	return out
}

func TestDecide(t *testing.T) {
	bo := backoff{base: 10 * time.Second, max: 6 * time.Minute}
	started := metav1.NewTime(t0)
	withStart := func(j *batchv1.Job) *batchv1.Job { j.Status.StartTime = &started; return j }
	suspend := func(j *batchv1.Job) *batchv1.Job { j.Spec.Suspend = new(true); return j }
	deadline := func(j *batchv1.Job) *batchv1.Job { j.Spec.ActiveDeadlineSeconds = new(int64(30)); return j }
	cat := func(ps ...[]*corev1.Pod) []*corev1.Pod { return slices.Concat(ps...) }

	tests := []struct {
		name          string
		job           *batchv1.Job
		pods          []*corev1.Pod
		now           time.Time
		wantCreate    int
		wantDelete    int
		wantActive    int32
		wantSucceeded int32
		wantFailed    int32
		wantConds     []string
		wantRequeue   time.Duration
		wantEvents    []string
	}{
		{name: "new job starts parallelism pods", job: testJob(3, 2, 6), now: t0, wantCreate: 2},
		{name: "never more than remaining completions", job: testJob(3, 2, 6),
			pods: cat(pods("s", 2, corev1.PodSucceeded), pods("r", 0, corev1.PodRunning)), now: t0,
			wantCreate: 1, wantSucceeded: 2},
		{name: "running pods at parallelism: nothing to do", job: testJob(3, 2, 6),
			pods: pods("r", 2, corev1.PodRunning), now: t0, wantActive: 2},
		{name: "too many running: delete extras", job: testJob(3, 1, 6),
			pods: pods("r", 3, corev1.PodRunning), now: t0, wantDelete: 2, wantActive: 1},
		{name: "completions reached", job: testJob(3, 2, 6),
			pods: cat(pods("s", 3, corev1.PodSucceeded), pods("f", 1, corev1.PodFailed)), now: t0,
			wantSucceeded: 3, wantFailed: 1,
			wantConds:  []string{"SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached"},
			wantEvents: []string{"Completed"}},
		{name: "failed pod waits for backoff", job: withStart(testJob(1, 1, 6)),
			pods: pods("f", 1, corev1.PodFailed), now: t0.Add(4 * time.Second),
			wantFailed: 1, wantRequeue: 6 * time.Second},
		{name: "backoff doubles per failure", job: withStart(testJob(1, 1, 6)),
			pods: pods("f", 3, corev1.PodFailed), now: t0.Add(30 * time.Second),
			wantFailed: 3, wantRequeue: 10 * time.Second},
		{name: "backoff passed: replace", job: withStart(testJob(1, 1, 6)),
			pods: pods("f", 1, corev1.PodFailed), now: t0.Add(10 * time.Second),
			wantFailed: 1, wantCreate: 1},
		{name: "backoff limit exceeded", job: withStart(testJob(3, 2, 1)),
			pods: cat(pods("f", 2, corev1.PodFailed), pods("r", 1, corev1.PodRunning)), now: t0,
			wantFailed: 2, wantDelete: 1,
			wantConds:  []string{"FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded"},
			wantEvents: []string{"BackoffLimitExceeded"}},
		{name: "deadline not yet", job: deadline(withStart(testJob(1, 1, 6))),
			pods: pods("r", 1, corev1.PodRunning), now: t0.Add(20 * time.Second),
			wantActive: 1, wantRequeue: 10 * time.Second},
		{name: "deadline exceeded", job: deadline(withStart(testJob(1, 1, 6))),
			pods: pods("r", 1, corev1.PodRunning), now: t0.Add(30 * time.Second),
			wantDelete: 1,
			wantConds:  []string{"FailureTarget=True/DeadlineExceeded", "Failed=True/DeadlineExceeded"},
			wantEvents: []string{"DeadlineExceeded"}},
		{name: "suspend deletes active pods", job: suspend(withStart(testJob(3, 2, 6))),
			pods: cat(pods("r", 2, corev1.PodRunning), pods("s", 1, corev1.PodSucceeded)), now: t0,
			wantDelete: 2, wantSucceeded: 1,
			wantConds: []string{"Suspended=True/JobSuspended"}, wantEvents: []string{"Suspended"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(tt.job, tt.pods, tt.now, bo, nil)
			if d.create != tt.wantCreate {
				t.Errorf("create = %d, want %d", d.create, tt.wantCreate)
			}
			if len(d.delete) != tt.wantDelete {
				t.Errorf("delete = %d, want %d", len(d.delete), tt.wantDelete)
			}
			if d.status.Active != tt.wantActive || d.status.Succeeded != tt.wantSucceeded || d.status.Failed != tt.wantFailed {
				t.Errorf("active/succeeded/failed = %d/%d/%d, want %d/%d/%d", d.status.Active, d.status.Succeeded, d.status.Failed,
					tt.wantActive, tt.wantSucceeded, tt.wantFailed)
			}
			if got := conditionTypes(d.status); !slices.Equal(got, tt.wantConds) {
				t.Errorf("conditions = %v, want %v", got, tt.wantConds)
			}
			if d.requeueAfter != tt.wantRequeue {
				t.Errorf("requeueAfter = %v, want %v", d.requeueAfter, tt.wantRequeue)
			}
			var reasons []string
			for _, e := range d.events {
				reasons = append(reasons, e.reason)
			}
			if !slices.Equal(reasons, tt.wantEvents) {
				t.Errorf("events = %v, want %v", reasons, tt.wantEvents)
			}
		})
	}
}

func TestDecideIdempotentWhenFinished(t *testing.T) {
	bo := backoff{base: time.Second, max: time.Minute}
	j := testJob(1, 1, 6)
	first := decide(j, pods("s", 1, corev1.PodSucceeded), t0, bo, nil)
	j.Status = first.status
	second := decide(j, nil, t0.Add(time.Hour), bo, nil) // the pod was garbage-collected
	if !statusEqual(first.status, second.status) {
		t.Errorf("status changed after finishing:\n%+v\n%+v", first.status, second.status)
	}
	if second.create != 0 || len(second.events) != 0 {
		t.Errorf("finished job: create %d, events %v", second.create, second.events)
	}
}

func TestDecideIndexed(t *testing.T) {
	j := testJob(4, 2, 6)
	j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
	done := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: "0"}},
		Status:     corev1.PodStatus{Phase: corev1.PodSucceeded},
	}
	running := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "r", Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: "1"}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	d := decide(j, []*corev1.Pod{done, running}, t0, backoff{base: time.Second, max: time.Minute}, nil)
	if !slices.Equal(d.indexes, []int{2}) || d.create != 1 {
		t.Errorf("indexes = %v (create %d), want [2]", d.indexes, d.create)
	}
	if d.status.CompletedIndexes != "0" {
		t.Errorf("completedIndexes = %q, want 0", d.status.CompletedIndexes)
	}
}

func TestFormatIndexes(t *testing.T) {
	tests := []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{1, 3, 4, 5, 7}, "1,3-5,7"},
		{[]int{0, 1}, "0-1"},
	}
	for _, tt := range tests {
		set := map[int]bool{}
		for _, i := range tt.in {
			set[i] = true
		}
		if got := formatIndexes(set); got != tt.want {
			t.Errorf("formatIndexes(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := backoff{base: 10 * time.Second, max: 6 * time.Minute}
	for failures, want := range []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 6 * time.Minute, 6 * time.Minute} {
		if got := b.delay(failures); got != want {
			t.Errorf("delay(%d) = %v, want %v", failures, got, want)
		}
	}
}

func TestDecideTracking(t *testing.T) {
	bo := backoff{base: time.Second, max: time.Minute}
	untracked := func(ps []*corev1.Pod) []*corev1.Pod {
		for _, p := range ps {
			p.Finalizers = nil
		}
		return ps
	}
	deleting := func(ps []*corev1.Pod) []*corev1.Pod {
		for _, p := range ps {
			p.DeletionTimestamp = &metav1.Time{Time: t0}
		}
		return ps
	}
	counted := func(succeeded, failed int32, unc ...types.UID) *batchv1.Job {
		j := testJob(5, 1, 6)
		j.Status.Succeeded, j.Status.Failed = succeeded, failed
		if len(unc) > 0 {
			j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: unc}
		}
		return j
	}
	tests := []struct {
		name      string
		job       *batchv1.Job
		pods      []*corev1.Pod
		removing  map[types.UID]bool
		wantUnc   string // uncounted to record first, "-" for none
		untrack   int
		succeeded int32
		failed    int32
	}{
		{name: "terminated pods are recorded, then counted", job: counted(0, 0),
			pods:    slices.Concat(pods("s", 2, corev1.PodSucceeded), pods("f", 1, corev1.PodFailed)),
			wantUnc: "[s0 s1]/[f0]", untrack: 3, succeeded: 2, failed: 1},
		{name: "pods without the finalizer were counted already", job: counted(2, 1),
			pods:    slices.Concat(untracked(pods("s", 2, corev1.PodSucceeded)), untracked(pods("f", 1, corev1.PodFailed))),
			wantUnc: "-", succeeded: 2, failed: 1},
		{name: "deleted finished pods keep their counts", job: counted(2, 1),
			wantUnc: "-", succeeded: 2, failed: 1},
		{name: "recorded pods are not recorded twice", job: counted(1, 0, "s0"),
			pods: pods("s", 1, corev1.PodSucceeded), wantUnc: "-", untrack: 1, succeeded: 2},
		{name: "recorded pod gone before its finalizer: still counted once", job: counted(1, 0, "s0"),
			wantUnc: "-", succeeded: 2},
		{name: "finalizer removal in flight: not counted again", job: counted(1, 0),
			pods: pods("s", 1, corev1.PodSucceeded), removing: map[types.UID]bool{"s0": true},
			wantUnc: "-", succeeded: 1},
		{name: "a pod deleted while running failed", job: counted(0, 0),
			pods: deleting(pods("r", 1, corev1.PodRunning)), wantUnc: "[]/[r0]", untrack: 1, failed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(tt.job, tt.pods, t0, bo, tt.removing)
			unc := "-"
			if d.uncounted != nil {
				unc = fmt.Sprintf("%v/%v", d.uncounted.Succeeded, d.uncounted.Failed)
			}
			if unc != tt.wantUnc {
				t.Errorf("uncounted = %s, want %s", unc, tt.wantUnc)
			}
			if len(d.untrack) != tt.untrack {
				t.Errorf("untrack %d pods, want %d", len(d.untrack), tt.untrack)
			}
			if d.status.Succeeded != tt.succeeded || d.status.Failed != tt.failed {
				t.Errorf("succeeded/failed = %d/%d, want %d/%d", d.status.Succeeded, d.status.Failed, tt.succeeded, tt.failed)
			}
			if d.status.UncountedTerminatedPods != nil {
				t.Errorf("final status keeps uncounted pods %+v", d.status.UncountedTerminatedPods)
			}
		})
	}
}

func TestParseIndexes(t *testing.T) {
	got := formatIndexes(parseIndexes("0,2-4,7,x,9-8", 7))
	if want := "0,2-4"; got != want {
		t.Errorf("parse then format = %q, want %q", got, want)
	}
}
