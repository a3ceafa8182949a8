package job

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Event reasons and condition reasons, as upstream.
const (
	eventSuccessfulCreate = "SuccessfulCreate"
	eventFailedCreate     = "FailedCreate"
	eventSuccessfulDelete = "SuccessfulDelete"
	eventFailedDelete     = "FailedDelete"
	eventCompleted        = "Completed"
	eventSuspended        = "Suspended"
	eventResumed          = "Resumed"

	reasonBackoffLimitExceeded = "BackoffLimitExceeded"
	reasonDeadlineExceeded     = "DeadlineExceeded"
	reasonCompletionsReached   = "CompletionsReached"
	reasonJobSuspended         = "JobSuspended"
	reasonJobResumed           = "JobResumed"
)

// backoff is the delay before a failed pod is replaced: base, doubled
// per further failure, at most max.
type backoff struct{ base, max time.Duration }

func (b backoff) delay(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := b.base
	for i := 1; i < failures && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// event is an Event to record on the Job.
type event struct{ typ, reason, message string }

// decision is what reconcile should do for one Job.
type decision struct {
	// status is the Job's status once every terminated pod in untrack is
	// counted and its finalizer removed (uncountedTerminatedPods empty).
	status batchv1.JobStatus
	// uncounted, if not nil, must be written to status before any
	// finalizer is removed: the pods newly seen terminated, added to
	// those recorded before. completedIndexes goes with it.
	uncounted *batchv1.UncountedTerminatedPods
	// untrack lists the terminated pods whose tracking finalizer to
	// remove once uncounted is written.
	untrack []*corev1.Pod
	// create is how many pods to create; for an Indexed job, indexes
	// names their completion indexes (len(indexes) == create).
	create  int
	indexes []int
	// delete lists active pods to delete, each after its finalizer is
	// removed (a pod the controller deletes is not a failure).
	delete []*corev1.Pod
	events []event
	// deleteJob: ttlSecondsAfterFinished has passed.
	deleteJob bool
	// requeueAfter > 0 asks to look again then (backoff, deadline, TTL).
	requeueAfter time.Duration
}

// tracked reports whether p still carries the job-tracking finalizer and
// its removal was not asked for already.
func tracked(p *corev1.Pod, removing map[types.UID]bool) bool {
	return slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) && !removing[p.UID]
}

// decide is the Job controller's core: from the Job, the pods it
// controls, the pods whose tracking finalizer is being removed and the
// time, it returns the next status and the pods to create or delete. It
// does no I/O.
//
// Counting follows upstream's tracking with finalizers: status.succeeded
// and failed only grow. A terminated pod that still has the finalizer is
// added to status.uncountedTerminatedPods, then its finalizer is removed,
// then it moves into the counts; a pod without the finalizer was counted
// already (or deleted by the controller) and is not counted again, so
// deleting finished pods never lowers the counts. A pod deleted before
// it succeeded counts as failed.
func decide(job *batchv1.Job, pods []*corev1.Pod, now time.Time, bo backoff, removing map[types.UID]bool) decision {
	var d decision
	st := *job.Status.DeepCopy()
	mnow := metav1.NewTime(now)

	uncSucceeded, uncFailed := map[types.UID]bool{}, map[types.UID]bool{}
	if u := job.Status.UncountedTerminatedPods; u != nil {
		for _, uid := range u.Succeeded {
			uncSucceeded[uid] = true
		}
		for _, uid := range u.Failed {
			uncFailed[uid] = true
		}
	}
	fresh := false
	count := func(p *corev1.Pod, into map[types.UID]bool) {
		if !tracked(p, removing) {
			return
		}
		d.untrack = append(d.untrack, p)
		if !uncSucceeded[p.UID] && !uncFailed[p.UID] {
			into[p.UID] = true
			fresh = true
		}
	}
	var active, succeeded, failed []*corev1.Pod
	var terminating int32
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			succeeded = append(succeeded, p)
			count(p, uncSucceeded)
		case p.Status.Phase == corev1.PodFailed:
			failed = append(failed, p)
			count(p, uncFailed)
		case p.DeletionTimestamp != nil:
			terminating++
			count(p, uncFailed)
		default:
			active = append(active, p)
		}
	}
	indexed := job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
	completions := int32(-1) // none: any success completes
	if job.Spec.Completions != nil {
		completions = *job.Spec.Completions
	}
	parallelism := int32(1)
	if job.Spec.Parallelism != nil {
		parallelism = *job.Spec.Parallelism
	}
	backoffLimit := int32(6)
	if job.Spec.BackoffLimit != nil {
		backoffLimit = *job.Spec.BackoffLimit
	}
	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend

	setActive := func(keep []*corev1.Pod) {
		ready := int32(0)
		for _, p := range keep {
			if podReady(p) {
				ready++
			}
		}
		st.Active, st.Ready = int32(len(keep)), &ready
	}
	deleteAll := func() {
		d.delete = append(d.delete, active...)
		setActive(nil)
	}

	if finished(&job.Status) {
		// Counts are final: pods terminating since are not counted, only
		// released.
		st.UncountedTerminatedPods = nil
		st.Terminating = &terminating
		deleteAll()
		d.status = st
		if job.Spec.TTLSecondsAfterFinished != nil {
			at := finishTime(&st).Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second)
			if !now.Before(at) {
				d.deleteJob = true
			} else {
				d.requeueAfter = at.Sub(now)
			}
		}
		return d
	}

	if fresh {
		d.uncounted = &batchv1.UncountedTerminatedPods{Succeeded: sortedUIDs(uncSucceeded), Failed: sortedUIDs(uncFailed)}
	}
	st.UncountedTerminatedPods = nil
	st.Succeeded = job.Status.Succeeded + int32(len(uncSucceeded))
	st.Failed = job.Status.Failed + int32(len(uncFailed))
	st.Terminating = &terminating
	var doneIdx map[int]bool
	if indexed {
		doneIdx = parseIndexes(job.Status.CompletedIndexes, int(completions))
		for _, p := range succeeded {
			if i, ok := podIndex(p); ok && i < int(completions) {
				doneIdx[i] = true
			}
		}
		st.CompletedIndexes = formatIndexes(doneIdx)
		st.Succeeded = int32(len(doneIdx))
	}

	// Suspension: pods go, the clock stops, and resuming restarts it.
	if suspended {
		deleteAll()
		if !hasCondition(&st, batchv1.JobSuspended, corev1.ConditionTrue) {
			setCondition(&st, batchv1.JobSuspended, corev1.ConditionTrue, reasonJobSuspended, "Job suspended", mnow)
			d.events = append(d.events, event{corev1.EventTypeNormal, eventSuspended, "Job suspended"})
		}
		st.StartTime = nil
		d.status = st
		return d
	}
	if hasCondition(&st, batchv1.JobSuspended, corev1.ConditionTrue) {
		setCondition(&st, batchv1.JobSuspended, corev1.ConditionFalse, reasonJobResumed, "Job resumed", mnow)
		d.events = append(d.events, event{corev1.EventTypeNormal, eventResumed, "Job resumed"})
	}
	if st.StartTime == nil {
		st.StartTime = &mnow
	}

	fail := func(reason, message string) decision {
		deleteAll()
		setCondition(&st, batchv1.JobFailureTarget, corev1.ConditionTrue, reason, message, mnow)
		setCondition(&st, batchv1.JobFailed, corev1.ConditionTrue, reason, message, mnow)
		d.events = append(d.events, event{corev1.EventTypeWarning, reason, message})
		d.status = st
		return d
	}
	if st.Failed > backoffLimit {
		return fail(reasonBackoffLimitExceeded, "Job has reached the specified backoff limit")
	}
	if ads := job.Spec.ActiveDeadlineSeconds; ads != nil {
		deadline := st.StartTime.Add(time.Duration(*ads) * time.Second)
		if !now.Before(deadline) {
			return fail(reasonDeadlineExceeded, "Job was active longer than specified deadline")
		}
		d.requeueAfter = deadline.Sub(now)
	}

	complete := false
	switch {
	case indexed || completions >= 0:
		complete = st.Succeeded >= completions
	default: // no completions: one success, then the rest finish
		complete = st.Succeeded > 0 && len(active) == 0
	}
	if complete {
		deleteAll()
		setCondition(&st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, reasonCompletionsReached, "Reached expected number of succeeded pods", mnow)
		setCondition(&st, batchv1.JobComplete, corev1.ConditionTrue, reasonCompletionsReached, "Reached expected number of succeeded pods", mnow)
		st.CompletionTime = &mnow
		d.events = append(d.events, event{corev1.EventTypeNormal, eventCompleted, "Job completed"})
		d.status = st
		d.requeueAfter = 0
		if job.Spec.TTLSecondsAfterFinished != nil {
			d.requeueAfter = time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second
		}
		return d
	}

	// How many should run now.
	want := parallelism
	switch {
	case indexed || completions >= 0:
		want = min(parallelism, completions-st.Succeeded)
	case st.Succeeded > 0:
		want = int32(len(active)) // one succeeded: start nothing new
	}
	keep := active
	if int32(len(active)) > want {
		slices.SortStableFunc(active, deletionOrder)
		keep = active[len(active)-int(want):]
		d.delete = active[:len(active)-int(want)]
	}
	setActive(keep)
	if n := int(want) - len(keep); n > 0 {
		if wait := bo.delay(int(st.Failed)) - now.Sub(lastFailure(failed)); len(failed) > 0 && wait > 0 {
			d.requeueAfter = minPositive(d.requeueAfter, wait)
		} else if indexed {
			d.indexes = missingIndexes(int(completions), doneIdx, keep, n)
			d.create = len(d.indexes)
		} else {
			d.create = n
		}
	}
	d.status = st
	return d
}

func sortedUIDs(set map[types.UID]bool) []types.UID {
	out := make([]types.UID, 0, len(set))
	for uid := range set {
		out = append(out, uid)
	}
	slices.Sort(out)
	return out
}

// parseIndexes reads status.completedIndexes ("1,3-5,7"), keeping the
// indexes below completions; what it cannot read it skips.
func parseIndexes(s string, completions int) map[int]bool {
	out := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := max(a, 0); i <= b && i < completions; i++ {
			out[i] = true
		}
	}
	return out
}

// deletionOrder sorts the pods to delete first to the front: not ready
// before ready, then newer before older.
func deletionOrder(a, b *corev1.Pod) int {
	if ra, rb := podReady(a), podReady(b); ra != rb {
		if ra {
			return 1
		}
		return -1
	}
	return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
}

func minPositive(a, b time.Duration) time.Duration {
	if a <= 0 {
		return b
	}
	return min(a, b)
}

// lastFailure is when the most recent of the failed pods finished.
func lastFailure(failed []*corev1.Pod) time.Time {
	var last time.Time
	for _, p := range failed {
		t := p.CreationTimestamp.Time
		for _, c := range p.Status.Conditions {
			t = later(t, c.LastTransitionTime.Time)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if term := cs.State.Terminated; term != nil {
				t = later(t, term.FinishedAt.Time)
			}
		}
		last = later(last, t)
	}
	return last
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// missingIndexes returns up to n of the lowest completion indexes that
// neither succeeded nor have an active pod.
func missingIndexes(completions int, done map[int]bool, active []*corev1.Pod, n int) []int {
	running := map[int]bool{}
	for _, p := range active {
		if i, ok := podIndex(p); ok {
			running[i] = true
		}
	}
	var out []int
	for i := 0; i < completions && len(out) < n; i++ {
		if !done[i] && !running[i] {
			out = append(out, i)
		}
	}
	return out
}

// podIndex is the completion index of an Indexed job's pod.
func podIndex(p *corev1.Pod) (int, bool) {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(v)
	return i, err == nil && i >= 0
}

// formatIndexes writes a set of indexes as upstream does: ascending,
// runs compressed ("1,3-5,7").
func formatIndexes(set map[int]bool) string {
	idx := make([]int, 0, len(set))
	for i := range set {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// finished reports whether the job has its terminal condition.
func finished(st *batchv1.JobStatus) bool {
	return hasCondition(st, batchv1.JobComplete, corev1.ConditionTrue) || hasCondition(st, batchv1.JobFailed, corev1.ConditionTrue)
}

// finishTime is when the job got its terminal condition.
func finishTime(st *batchv1.JobStatus) time.Time {
	for _, c := range st.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

func hasCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, s corev1.ConditionStatus) bool {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status == s
		}
	}
	return false
}

// setCondition sets condition t, keeping its transition time if the
// status does not change.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, s corev1.ConditionStatus, reason, message string, now metav1.Time) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != s {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = s, reason, message, now
		return
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{
		Type: t, Status: s, Reason: reason, Message: message, LastProbeTime: now, LastTransitionTime: now,
	})
}

// statusEqual ignores nothing: status is written only when it changed.
func statusEqual(a, b batchv1.JobStatus) bool {
	return apiequality.Semantic.DeepEqual(a, b)
}
