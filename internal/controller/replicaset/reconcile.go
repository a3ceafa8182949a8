package replicaset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/controller/claim"
)

// Event reasons, as upstream.
const (
	eventSuccessfulCreate = "SuccessfulCreate"
	eventFailedCreate     = "FailedCreate"
	eventSuccessfulDelete = "SuccessfulDelete"
	eventFailedDelete     = "FailedDelete"
)

// slowStartInitialBatch is the first batch of creates; batches double
// while they all succeed, so a template the api-server rejects costs one
// failed request, not hundreds.
const slowStartInitialBatch = 1

// reconcile brings the ReplicaSet key to its desired pod count and writes
// its status. It reads only from the informer caches (besides the
// adoption recheck) and never mutates what it read.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("bad queue key", "key", key, "err", err)
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	// Read before listing pods: a pod seen after this was counted as
	// observed already.
	needsSync := c.exp.Satisfied(key)
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		// Retrying cannot fix it; validation should have refused it.
		c.log.Warn("replicaset has an invalid selector", "replicaset", key, "err", err)
		return nil
	}
	claimer := &claim.Claimer{
		Owner: rs, Kind: controllerKind(), Selector: sel,
		Recheck: claim.RecheckOwner(func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		}, rs.UID),
		Patch: func(ctx context.Context, pod string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, pod, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	pods, err := claim.Claim(ctx, claimer, c.candidatePods(rs))
	if err != nil {
		return err
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, rs, pods)
	}

	now := c.now()
	status := calculateStatus(rs, pods, manageErr, now)
	if !statusEqual(rs.Status, status) {
		next := rs.DeepCopy()
		next.Status = status
		if _, err := c.client.AppsV1().ReplicaSets(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			return errors.Join(manageErr, fmt.Errorf("updating status: %w", err))
		}
	}
	// Pods ready but not yet for minReadySeconds become available without
	// any event: look again then.
	if d, ok := nextAvailable(rs, pods, now); ok {
		c.queue.AddAfter(key, d)
	}
	return manageErr
}

// candidatePods returns the active pods in rs's namespace that it
// controls or that have no controller.
func (c *Controller) candidatePods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	var out []*corev1.Pod
	for _, idx := range []string{string(rs.UID), orphanKey} {
		objs, _ := c.podIndexer.ByIndex(podsByController, idx)
		for _, o := range objs {
			p := o.(*corev1.Pod)
			if p.Namespace == rs.Namespace && podActive(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// relatedPods returns the active pods of rs and of the ReplicaSets with
// the same controller (a Deployment's), so scale-down can prefer nodes
// where the workload is doubled up.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	siblings := []*appsv1.ReplicaSet{rs}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		all, _ := c.rsLister.ReplicaSets(rs.Namespace).List(labels.Everything())
		siblings = siblings[:0]
		for _, other := range all {
			if r := metav1.GetControllerOfNoCopy(other); r != nil && r.UID == ref.UID {
				siblings = append(siblings, other)
			}
		}
	}
	var out []*corev1.Pod
	for _, s := range siblings {
		objs, _ := c.podIndexer.ByIndex(podsByController, string(s.UID))
		for _, o := range objs {
			if p := o.(*corev1.Pod); p.Namespace == rs.Namespace && podActive(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// manageReplicas creates or deletes pods (at most the burst size) so that
// len(pods) moves to spec.replicas, recording what it expects to see.
func (c *Controller) manageReplicas(ctx context.Context, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	key := rs.Namespace + "/" + rs.Name
	diff := len(pods) - int(specReplicas(rs))
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		c.exp.ExpectCreations(key, n)
		created, err := slowStart(n, slowStartInitialBatch, func() error { return c.createPod(ctx, rs) })
		// Creates never attempted or failed will never be observed.
		for range n - created {
			c.exp.CreationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, c.burst)
		victims := podsToDelete(pods, c.relatedPods(rs), n)
		podKeys := make([]string, len(victims))
		for i, p := range victims {
			podKeys[i] = p.Namespace + "/" + p.Name
		}
		c.exp.ExpectDeletions(key, podKeys)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		for i, p := range victims {
			wg.Go(func() {
				err := c.deletePodOf(ctx, rs, p)
				if err != nil {
					c.exp.DeletionObserved(key, podKeys[i])
				}
				if err != nil && !apierrors.IsNotFound(err) {
					errs[i] = err
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return nil
}

// createPod creates one pod from rs's template.
func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	pod, err := podFromTemplate(rs)
	if err != nil {
		c.recorder.Eventf(rs, corev1.EventTypeWarning, eventFailedCreate, "Error creating: %v", err)
		return err
	}
	created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down: not the ReplicaSet's failure
		}
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			// Every create will fail until the namespace is gone; this
			// one will never be observed.
			c.exp.CreationObserved(rs.Namespace + "/" + rs.Name)
			return nil
		}
		c.recorder.Eventf(rs, corev1.EventTypeWarning, eventFailedCreate, "Error creating: %v", err)
		return fmt.Errorf("creating pod: %w", err)
	}
	c.recorder.Eventf(rs, corev1.EventTypeNormal, eventSuccessfulCreate, "Created pod: %s", created.Name)
	return nil
}

// deletePodOf deletes pod, which rs controls.
func (c *Controller) deletePodOf(ctx context.Context, rs *appsv1.ReplicaSet, pod *corev1.Pod) error {
	uid := pod.UID
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case err == nil:
		c.recorder.Eventf(rs, corev1.EventTypeNormal, eventSuccessfulDelete, "Deleted pod: %s", pod.Name)
		return nil
	case apierrors.IsNotFound(err), ctx.Err() != nil:
		return err
	default:
		c.recorder.Eventf(rs, corev1.EventTypeWarning, eventFailedDelete, "Error deleting: %v", err)
		return fmt.Errorf("deleting pod %s: %w", pod.Name, err)
	}
}

// podFromTemplate is the pod rs creates: its template, named
// "<rs>-<random>", controlled by rs.
func podFromTemplate(rs *appsv1.ReplicaSet) (*corev1.Pod, error) {
	t := &rs.Spec.Template
	if len(t.Labels) == 0 {
		return nil, errors.New("unable to create pods, no labels")
	}
	prefix := rs.Name + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		prefix = rs.Name
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Namespace:       rs.Namespace,
			Labels:          maps.Clone(t.Labels),
			Annotations:     maps.Clone(t.Annotations),
			Finalizers:      slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind())},
		},
		Spec: *t.Spec.DeepCopy(),
	}, nil
}

// slowStart calls fn count times in batches of initial, 2*initial, 4*initial,
// ... (each batch concurrently), stopping after the first batch with a
// failure. It returns how many calls succeeded and the first error.
func slowStart(count, initial int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		successes += batch - len(errs)
		if len(errs) > 0 {
			return successes, <-errs
		}
		remaining -= batch
	}
	return successes, nil
}
