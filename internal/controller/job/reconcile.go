package job

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// reconcile moves the Job key one step towards completion or failure and
// writes its status. It reads only from the informer caches and never
// mutates what it read.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("bad queue key", "key", key, "err", err)
		return nil
	}
	job, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		if err := c.releaseOrphans(ctx, key, ""); err != nil {
			return err
		}
		c.untracking.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if job.DeletionTimestamp != nil {
		// The garbage collector removes its pods, once they are released.
		return c.releaseOrphans(ctx, key, "")
	}
	if err := c.releaseOrphans(ctx, key, job.UID); err != nil {
		return err
	}
	// Read before listing pods: a pod seen after this was counted as
	// observed already.
	synced := c.exp.Satisfied(key)
	pods := c.ownedPods(job)
	d := decide(job, pods, c.now(), c.backoff, c.untracking.pending(key))

	// Newly terminated pods are recorded as uncounted before their
	// finalizers go, so that each is counted exactly once even if the
	// controller stops in between.
	cur := job
	if d.uncounted != nil {
		next := job.DeepCopy()
		next.Status.UncountedTerminatedPods = d.uncounted
		next.Status.CompletedIndexes = d.status.CompletedIndexes
		if cur, err = c.client.BatchV1().Jobs(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("recording terminated pods: %w", err)
		}
	}
	if err := c.untrack(ctx, key, d.untrack); err != nil {
		return err // they stay uncounted until their finalizers are gone
	}

	var errs []error
	if synced {
		errs = append(errs, c.manage(ctx, job, key, d))
	}
	if !statusEqual(cur.Status, d.status) {
		next := cur.DeepCopy()
		next.Status = d.status
		if _, err := c.client.BatchV1().Jobs(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			return errors.Join(append(errs, fmt.Errorf("updating status: %w", err))...)
		}
		// Events describe a status change; record them only once it is written.
		for _, e := range d.events {
			c.recorder.Event(job, e.typ, e.reason, e.message)
		}
	}
	if d.deleteJob {
		bg := metav1.DeletePropagationBackground
		uid := job.UID
		err := c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
			PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting finished job: %w", err))
		}
	}
	if d.requeueAfter > 0 {
		c.queue.AddAfter(key, d.requeueAfter)
	}
	return errors.Join(errs...)
}

// ownedPods returns the pods in job's namespace that it controls.
func (c *Controller) ownedPods(job *batchv1.Job) []*corev1.Pod {
	objs, _ := c.podIndexer.ByIndex(podsByController, string(job.UID))
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p := o.(*corev1.Pod); p.Namespace == job.Namespace {
			out = append(out, p)
		}
	}
	return out
}

// manage creates and deletes the pods d asks for, recording first, in
// one call, every creation and deletion it expects to see.
func (c *Controller) manage(ctx context.Context, job *batchv1.Job, key string, d decision) error {
	if d.create == 0 && len(d.delete) == 0 {
		return nil
	}
	podKeys := make([]string, len(d.delete))
	for i, p := range d.delete {
		podKeys[i] = p.Namespace + "/" + p.Name
	}
	c.exp.Expect(key, d.create, podKeys)
	errs := make([]error, d.create+len(d.delete))
	var wg sync.WaitGroup
	for i := range d.create {
		index := -1
		if d.indexes != nil {
			index = d.indexes[i]
		}
		wg.Go(func() {
			err := c.createPod(ctx, job, index)
			if err != nil {
				c.exp.CreationObserved(key) // will never be seen
			}
			if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				errs[i] = err // a terminating namespace is not worth a retry
			}
		})
	}
	for i, p := range d.delete {
		wg.Go(func() {
			err := c.deleteActivePod(ctx, job, key, p)
			if err != nil {
				c.exp.DeletionObserved(key, podKeys[i]) // will never be seen
			}
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs[d.create+i] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// createPod creates one pod from job's template; index >= 0 is its
// completion index (Indexed jobs).
func (c *Controller) createPod(ctx context.Context, job *batchv1.Job, index int) error {
	pod := podFromTemplate(job, index)
	created, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if ctx.Err() != nil || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return err // not the Job's failure
		}
		c.recorder.Eventf(job, corev1.EventTypeWarning, eventFailedCreate, "Error creating: %v", err)
		return fmt.Errorf("creating pod: %w", err)
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, eventSuccessfulCreate, "Created pod: %s", created.Name)
	return nil
}

// deleteActivePod deletes an active pod of job, releasing it first: a pod
// the controller deletes is not counted as failed.
func (c *Controller) deleteActivePod(ctx context.Context, job *batchv1.Job, key string, p *corev1.Pod) error {
	if err := c.untrack(ctx, key, []*corev1.Pod{p}); err != nil {
		return err
	}
	uid := p.UID
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case err == nil:
		c.recorder.Eventf(job, corev1.EventTypeNormal, eventSuccessfulDelete, "Deleted pod: %s", p.Name)
		return nil
	case apierrors.IsNotFound(err), apierrors.IsConflict(err), ctx.Err() != nil:
		return err
	default:
		c.recorder.Eventf(job, corev1.EventTypeWarning, eventFailedDelete, "Error deleting: %v", err)
		return fmt.Errorf("deleting pod %s: %w", p.Name, err)
	}
}

// podFromTemplate is the pod job creates: its template, named
// "<job>-<random>" (or "<job>-<index>-<random>"), controlled by job.
func podFromTemplate(job *batchv1.Job, index int) *corev1.Pod {
	t := &job.Spec.Template
	prefix := job.Name + "-"
	labels, annotations := maps.Clone(t.Labels), maps.Clone(t.Annotations)
	spec := t.Spec.DeepCopy()
	if index >= 0 {
		i := strconv.Itoa(index)
		prefix = job.Name + "-" + i + "-"
		if labels == nil {
			labels = map[string]string{}
		}
		if annotations == nil {
			annotations = map[string]string{}
		}
		labels[batchv1.JobCompletionIndexAnnotation] = i
		annotations[batchv1.JobCompletionIndexAnnotation] = i
		if spec.Hostname == "" {
			spec.Hostname = job.Name + "-" + i
		}
	}
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		prefix = job.Name
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Namespace:       job.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			Finalizers:      append(slices.Clone(t.Finalizers), batchv1.JobTrackingFinalizer),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, controllerKind())},
		},
		Spec: *spec,
	}
}
