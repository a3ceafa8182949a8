package daemonset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/controller/claim"
	"github.com/k1s/k1s/internal/controller/history"
)

// Event reasons, as upstream.
const (
	eventSuccessfulCreate = "SuccessfulCreate"
	eventFailedCreate     = "FailedCreate"
	eventSuccessfulDelete = "SuccessfulDelete"
	eventFailedDelete     = "FailedDelete"
	eventFailedDaemonPod  = "FailedDaemonPod"
)

// reconcile brings the DaemonSet key to one pod per eligible node and
// writes its status. It reads only from the informer caches (besides the
// adoption recheck) and never mutates what it read.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("bad queue key", "key", key, "err", err)
		return nil
	}
	ds, err := c.dsLister.DaemonSets(ns).Get(name)
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
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		// Retrying cannot fix it; validation should have refused it.
		c.log.Warn("daemonset has an invalid selector", "daemonset", key, "err", err)
		return nil
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return err
	}
	claimer := &claim.Claimer{
		Owner: ds, Kind: controllerKind(), Selector: sel,
		Recheck: claim.RecheckOwner(func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		}, ds.UID),
		Patch: func(ctx context.Context, pod string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, pod, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	pods, err := claim.Claim(ctx, claimer, c.candidatePods(ds))
	if err != nil {
		return err
	}

	hash, collisions := templateHash(ds), ds.Status.CollisionCount
	var owned []*appsv1.ControllerRevision
	if ds.DeletionTimestamp == nil {
		if hash, owned, collisions, err = c.syncRevisions(ctx, ds); err != nil {
			return err
		}
	}
	now := c.now()
	states, orphaned := groupByNode(ds, nodes, pods)
	var manageErr error
	if needsSync && ds.DeletionTimestamp == nil {
		rolling := ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType
		surge := 0
		if rolling {
			surge = maxSurge(ds, desiredNodes(states))
		}
		create, remove := plan(states, orphaned, hash, c.heldNodes(key, states, now), surging{
			on: surge > 0, minReady: time.Duration(ds.Spec.MinReadySeconds) * time.Second, now: now,
		})
		switch {
		case len(create) > 0 || len(remove) > 0 || !rolling:
		case surge > 0:
			create, remove = rollingSurge(ds, states, hash, now, surge)
		default:
			remove = rollingDeletes(ds, states, hash, now)
		}
		c.noteFailed(ds, key, remove, now)
		manageErr = c.manage(ctx, ds, hash, create, remove)
	}

	status := calculateStatus(ds, states, hash, now)
	status.CollisionCount = collisions
	if !apiequality.Semantic.DeepEqual(ds.Status, status) {
		next := ds.DeepCopy()
		next.Status = status
		if _, err := c.client.AppsV1().DaemonSets(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			return errors.Join(manageErr, fmt.Errorf("updating status: %w", err))
		}
	}
	// Ready pods become available after minReadySeconds without any
	// event: look again then.
	if ds.Spec.MinReadySeconds > 0 && status.NumberReady > status.NumberAvailable {
		c.queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second+10*time.Millisecond)
	}
	if ds.DeletionTimestamp != nil {
		return manageErr
	}
	live := map[string]bool{}
	for _, cr := range owned {
		if cr.Labels[history.HashLabel] == hash {
			live[cr.Name] = true
		}
	}
	for _, p := range pods {
		live[ds.Name+"-"+p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]] = true
	}
	limit := 10
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	return errors.Join(manageErr, c.history.Trim(ctx, owned, live, limit))
}

// syncRevisions makes sure ds's template has a ControllerRevision, the
// newest, and returns its hash, ds's revisions as they were before, and
// ds's collision count.
func (c *Controller) syncRevisions(ctx context.Context, ds *appsv1.DaemonSet) (string, []*appsv1.ControllerRevision, *int32, error) {
	all, err := c.revLister.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return "", nil, nil, err
	}
	owned := history.Owned(all, ds)
	var collisions *int32
	if ds.Status.CollisionCount != nil {
		collisions = new(*ds.Status.CollisionCount)
	}
	for attempt := 0; ; attempt++ {
		want, err := history.New(ds, controllerKind(), &ds.Spec.Template, history.Next(owned), collisions)
		if err != nil {
			return "", nil, nil, err
		}
		cur, err := c.history.Ensure(ctx, owned, want)
		switch {
		case errors.Is(err, history.ErrCollision) && attempt < 10:
			n := int32(1)
			if collisions != nil {
				n = *collisions + 1
			}
			collisions = &n
		case err != nil:
			return "", nil, nil, err
		default:
			return cur.Labels[history.HashLabel], owned, collisions, nil
		}
	}
}

// heldNodes names the nodes whose failed pods must wait before being
// deleted, and looks at ds again when the first wait is over.
func (c *Controller) heldNodes(key string, states []nodeState, now time.Time) map[string]bool {
	held := map[string]bool{}
	var soonest time.Duration
	for _, s := range states {
		if !slices.ContainsFunc(s.pods, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed }) {
			continue
		}
		if wait := c.failed.wait(key+"/"+s.name, now); wait > 0 {
			held[s.name] = true
			if soonest == 0 || wait < soonest {
				soonest = wait
			}
		}
	}
	if soonest > 0 {
		c.queue.AddAfter(key, soonest)
	}
	return held
}

// noteFailed starts or lengthens the backoff of every node whose failed
// pod is about to be deleted, and records it in an Event.
func (c *Controller) noteFailed(ds *appsv1.DaemonSet, key string, remove []*corev1.Pod, now time.Time) {
	for _, p := range remove {
		if p.Status.Phase != corev1.PodFailed {
			continue
		}
		node := targetNode(p)
		c.failed.next(key+"/"+node, now)
		c.recorder.Eventf(ds, corev1.EventTypeWarning, eventFailedDaemonPod,
			"Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node)
	}
}

// candidatePods returns the active pods in ds's namespace that it
// controls or that have no controller.
func (c *Controller) candidatePods(ds *appsv1.DaemonSet) []*corev1.Pod {
	var out []*corev1.Pod
	for _, idx := range []string{string(ds.UID), orphanKey} {
		objs, _ := c.podIndexer.ByIndex(podsByController, idx)
		for _, o := range objs {
			p := o.(*corev1.Pod)
			if p.Namespace == ds.Namespace && p.DeletionTimestamp == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// manage creates pods on the nodes named and deletes the pods given, at
// most the burst size of each, recording what it expects to see.
func (c *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, hash string, create []string, remove []*corev1.Pod) error {
	key := ds.Namespace + "/" + ds.Name
	create = create[:min(len(create), c.burst)]
	remove = remove[:min(len(remove), c.burst)]
	if len(create) == 0 && len(remove) == 0 {
		return nil
	}
	podKeys := make([]string, len(remove))
	for i, p := range remove {
		podKeys[i] = p.Namespace + "/" + p.Name
	}
	c.exp.Expect(key, len(create), podKeys)
	errs := make([]error, len(create)+len(remove))
	var wg sync.WaitGroup
	for i, node := range create {
		wg.Go(func() {
			if err := c.createPod(ctx, ds, hash, node); err != nil {
				c.exp.CreationObserved(key) // it will never be seen
				errs[i] = err
			}
		})
	}
	for i, p := range remove {
		wg.Go(func() {
			err := c.deletePodOf(ctx, ds, p)
			if err != nil {
				c.exp.DeletionObserved(key, podKeys[i])
			}
			if err != nil && !apierrors.IsNotFound(err) {
				errs[len(create)+i] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// createPod creates ds's pod on node.
func (c *Controller) createPod(ctx context.Context, ds *appsv1.DaemonSet, hash, node string) error {
	pod := podFromTemplate(ds, hash, node)
	created, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if ctx.Err() != nil || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return err
		}
		c.recorder.Eventf(ds, corev1.EventTypeWarning, eventFailedCreate, "Error creating: %v", err)
		return fmt.Errorf("creating pod on node %s: %w", node, err)
	}
	c.recorder.Eventf(ds, corev1.EventTypeNormal, eventSuccessfulCreate, "Created pod: %s", created.Name)
	return nil
}

// deletePodOf deletes pod, which ds controls.
func (c *Controller) deletePodOf(ctx context.Context, ds *appsv1.DaemonSet, pod *corev1.Pod) error {
	uid := pod.UID
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case err == nil:
		c.recorder.Eventf(ds, corev1.EventTypeNormal, eventSuccessfulDelete, "Deleted pod: %s", pod.Name)
		return nil
	case apierrors.IsNotFound(err), ctx.Err() != nil:
		return err
	default:
		c.recorder.Eventf(ds, corev1.EventTypeWarning, eventFailedDelete, "Error deleting: %v", err)
		return fmt.Errorf("deleting pod %s: %w", pod.Name, err)
	}
}

// podFromTemplate is the pod ds runs on node: its template with the
// template-hash label and the default DaemonSet tolerations, named
// "<ds>-<random>", pinned to node by its required node affinity (the
// scheduler binds it), controlled by ds.
func podFromTemplate(ds *appsv1.DaemonSet, hash, node string) *corev1.Pod {
	t := &ds.Spec.Template
	prefix := ds.Name + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		prefix = ds.Name
	}
	lbls := maps.Clone(t.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	spec := *t.Spec.DeepCopy()
	spec.Tolerations = withDefaultTolerations(spec.Tolerations, spec.HostNetwork)
	spec.Affinity = pinnedAffinity(spec.Affinity, node)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Namespace:       ds.Namespace,
			Labels:          lbls,
			Annotations:     maps.Clone(t.Annotations),
			Finalizers:      slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, controllerKind())},
		},
		Spec: spec,
	}
}

// pinnedAffinity returns a copy of a whose required node affinity is the
// single term "metadata.name In [node]", as upstream: the node was chosen
// already, and the template's own terms were checked in choosing it.
// Preferred terms and pod (anti-)affinity are kept.
func pinnedAffinity(a *corev1.Affinity, node string) *corev1.Affinity {
	out := a.DeepCopy()
	if out == nil {
		out = &corev1.Affinity{}
	}
	if out.NodeAffinity == nil {
		out.NodeAffinity = &corev1.NodeAffinity{}
	}
	out.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
			Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node},
		}}}},
	}
	return out
}
