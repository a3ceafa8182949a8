package job

import (
	"fmt"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s%d", prefix, i), CreationTimestamp: metav1.NewTime(t0)},
			Status:     corev1.PodStatus{Phase: phase},
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
			d := decide(tt.job, tt.pods, tt.now, bo)
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
	first := decide(j, pods("s", 1, corev1.PodSucceeded), t0, bo)
	j.Status = first.status
	second := decide(j, nil, t0.Add(time.Hour), bo) // the pod was garbage-collected
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
	d := decide(j, []*corev1.Pod{done, running}, t0, backoff{base: time.Second, max: time.Minute})
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
