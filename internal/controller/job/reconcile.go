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
		return nil
	}
	if err != nil {
		return err
	}
	if job.DeletionTimestamp != nil {
		return nil // the garbage collector removes its pods
	}
	// Read before listing pods: a pod seen after this was counted as
	// observed already.
	synced := c.exp.Satisfied(key)
	pods := c.ownedPods(job)
	d := decide(job, pods, c.now(), c.backoff)

	var errs []error
	if synced {
		errs = append(errs, c.deletePods(ctx, job, key, d.delete), c.createPods(ctx, job, key, d))
	}
	if !statusEqual(job.Status, d.status) {
		next := job.DeepCopy()
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

// createPods creates the pods d asks for, recording what it expects to see.
func (c *Controller) createPods(ctx context.Context, job *batchv1.Job, key string, d decision) error {
	if d.create == 0 {
		return nil
	}
	c.exp.ExpectCreations(key, d.create)
	errs := make([]error, d.create)
	var wg sync.WaitGroup
	for i := range d.create {
		index := -1
		if d.indexes != nil {
			index = d.indexes[i]
		}
		wg.Go(func() {
			if errs[i] = c.createPod(ctx, job, index); errs[i] != nil {
				c.exp.CreationObserved(key) // will never be seen
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
			return nil // not the Job's failure
		}
		c.recorder.Eventf(job, corev1.EventTypeWarning, eventFailedCreate, "Error creating: %v", err)
		return fmt.Errorf("creating pod: %w", err)
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, eventSuccessfulCreate, "Created pod: %s", created.Name)
	return nil
}

// deletePods deletes pods, which job controls.
func (c *Controller) deletePods(ctx context.Context, job *batchv1.Job, key string, pods []*corev1.Pod) error {
	if len(pods) == 0 {
		return nil
	}
	podKeys := make([]string, len(pods))
	for i, p := range pods {
		podKeys[i] = p.Namespace + "/" + p.Name
	}
	c.exp.ExpectDeletions(key, podKeys)
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() {
			uid := p.UID
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			switch {
			case err == nil:
				c.recorder.Eventf(job, corev1.EventTypeNormal, eventSuccessfulDelete, "Deleted pod: %s", p.Name)
			case apierrors.IsNotFound(err), ctx.Err() != nil:
				c.exp.DeletionObserved(key, podKeys[i])
			default:
				c.exp.DeletionObserved(key, podKeys[i])
				c.recorder.Eventf(job, corev1.EventTypeWarning, eventFailedDelete, "Error deleting: %v", err)
				errs[i] = fmt.Errorf("deleting pod %s: %w", p.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
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
			Finalizers:      slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, controllerKind())},
		},
		Spec: *spec,
	}
}
