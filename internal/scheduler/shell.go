package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// maxInFlight bounds the bindings and status writes under way at once;
// the scheduling loop waits for a slot, so a burst is paced by the
// api-server rather than piling up requests.
const maxInFlight = 128

// shell is one run of the scheduler: informers whose handlers only update
// the cache and the queue, a loop popping pods and deciding with the
// chain, and goroutines writing bindings and failures.
type shell struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	name     string // spec.schedulerName served
	log      *slog.Logger
	now      func() time.Time

	pods       corelisters.PodLister
	claims     corelisters.PersistentVolumeClaimLister
	volumes    corelisters.PersistentVolumeLister
	classes    storagelisters.StorageClassLister
	namespaces corelisters.NamespaceLister

	mu      sync.Mutex // guards cache, chain, assumed and volumeSource
	cache   *nodeCache
	chain   *chain
	assumed volumeAssumptions
	// volumeSource resolves claims from the listers and assumed.
	volumeSource *volumeSource
	// volumeEvents fires at every claim or volume event, for bindings
	// waiting for claims to be bound, at most volumeBindTimeout.
	volumeEvents      notifier
	volumeBindTimeout time.Duration

	qmu   sync.Mutex // guards queue
	queue *schedulingQueue
	wake  chan struct{} // the queue may have an active pod

	slots  chan struct{} // maxInFlight
	writes sync.WaitGroup
}

func newShell(client kubernetes.Interface, recorder record.EventRecorder, name string, log *slog.Logger) *shell {
	s := &shell{
		client: client, recorder: recorder, name: name, log: log, now: time.Now,
		volumeBindTimeout: defaultVolumeBindTimeout,
		chain:             newChain(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))),
		queue:             newSchedulingQueue(),
		wake:              make(chan struct{}, 1),
		slots:             make(chan struct{}, maxInFlight),
	}
	s.cache = newNodeCache(s.namespacesMatching)
	return s
}

// run starts the informers, waits for them to sync, and schedules until
// ctx ends; then it waits for the writes in flight.
func (s *shell) run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(s.client, 0, informers.WithTransform(dropManagedFields))
	defer factory.Shutdown()
	core := factory.Core().V1()
	classes := factory.Storage().V1().StorageClasses()
	volumeHandler := cache.ResourceEventHandlerFuncs{
		AddFunc: s.volumeChanged, UpdateFunc: func(_, o any) { s.volumeChanged(o) }, DeleteFunc: s.volumeChanged,
	}
	handlers := []struct {
		informer cache.SharedIndexInformer
		handler  cache.ResourceEventHandler
	}{
		{core.Pods().Informer(), cache.ResourceEventHandlerFuncs{AddFunc: s.podAdded, UpdateFunc: s.podUpdated, DeleteFunc: s.podDeleted}},
		{core.Nodes().Informer(), cache.ResourceEventHandlerFuncs{AddFunc: s.nodeAdded, UpdateFunc: s.nodeUpdated, DeleteFunc: s.nodeDeleted}},
		{core.PersistentVolumeClaims().Informer(), volumeHandler},
		{core.PersistentVolumes().Informer(), volumeHandler},
		{classes.Informer(), volumeHandler},
	}
	for _, h := range handlers {
		if _, err := h.informer.AddEventHandler(h.handler); err != nil {
			return fmt.Errorf("scheduler: event handler: %w", err)
		}
	}
	s.pods, s.claims, s.volumes = core.Pods().Lister(), core.PersistentVolumeClaims().Lister(), core.PersistentVolumes().Lister()
	s.namespaces, s.classes = core.Namespaces().Lister(), classes.Lister()
	s.volumeSource = s.newVolumeSource()
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok && ctx.Err() == nil {
			return fmt.Errorf("scheduler: %v informer did not sync", typ)
		}
	}
	s.log.Info("scheduling", "schedulerName", s.name)
	for {
		qp, ok := s.next(ctx)
		if !ok {
			break
		}
		s.scheduleOne(ctx, qp)
	}
	s.writes.Wait()
	return nil
}

func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// popped is what the loop takes from the queue.
type popped struct {
	key string
	pod *corev1.Pod
}

// next blocks until a pod is active or ctx ends, waking for queue changes
// and for the end of the earliest backoff; it never polls.
func (s *shell) next(ctx context.Context) (popped, bool) {
	for {
		s.qmu.Lock()
		now := s.now()
		if qp := s.queue.pop(now); qp != nil {
			p := popped{key: qp.key, pod: qp.pod}
			s.qmu.Unlock()
			return p, true
		}
		wakeAt, timed := s.queue.nextWake()
		s.qmu.Unlock()
		var timer *time.Timer
		var fire <-chan time.Time
		if timed {
			timer = time.NewTimer(wakeAt.Sub(now))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			return popped{}, false
		case <-s.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// withQueue runs f on the queue and wakes the loop.
func (s *shell) withQueue(f func(q *schedulingQueue, now time.Time)) {
	s.qmu.Lock()
	f(s.queue, s.now())
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *shell) moveAll() { s.withQueue((*schedulingQueue).moveAll) }

// ours reports whether this scheduler should place a pod.
func (s *shell) ours(pod *corev1.Pod) bool {
	return pod.Spec.SchedulerName == s.name && pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil &&
		len(pod.Spec.SchedulingGates) == 0 && !terminated(pod)
}

// scheduleOne decides for one pod and, if a node fits, assumes the pod
// there and binds asynchronously.
func (s *shell) scheduleOne(ctx context.Context, p popped) {
	// The informer's copy is newer than the queue's, or gone.
	pod, err := s.pods.Pods(p.pod.Namespace).Get(p.pod.Name)
	if err != nil || !s.ours(pod) {
		s.withQueue(func(q *schedulingQueue, _ time.Time) { q.done(p.key) })
		return
	}
	s.mu.Lock()
	assumed := s.cache.isAssumed(pod.UID)
	s.mu.Unlock()
	if assumed {
		// Placed already; the informer has not seen the binding yet (a
		// late update re-queued the pod). Deciding again would move its
		// room to another node. The entry stays in flight: the binding's
		// outcome (done or failed) or the informer's bound pod settles it.
		return
	}
	info := newPodInfo(pod, s.namespacesMatching)

	s.mu.Lock()
	info.volumes, info.unresolvable = resolveVolumes(pod, s.volumeSource)
	node, fitErr := s.chain.schedule(info, s.cache)
	var plan []volumeAction
	if fitErr == nil {
		s.cache.assume(info, node)
		// The chain found the plan feasible on this node a moment ago.
		plan, _ = planVolumes(info.volumes, s.cache.nodes[node].node)
		s.assumed.assume(pod.UID, plan)
	}
	s.mu.Unlock()

	if fitErr != nil {
		msg := fitErr.Error()
		s.log.Debug("unschedulable", "pod", p.key, "reason", msg)
		s.withQueue(func(q *schedulingQueue, now time.Time) { q.failed(p.key, true, now) })
		s.write(ctx, func() { s.reportUnschedulable(ctx, pod, msg) })
		return
	}
	s.write(ctx, func() { s.bind(ctx, pod, p.key, node, plan) })
}

// write runs f in a goroutine once a slot is free.
func (s *shell) write(ctx context.Context, f func()) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	s.writes.Add(1)
	go func() {
		defer s.writes.Done()
		defer func() { <-s.slots }()
		f()
	}()
}

// bind binds the plan's volumes, then writes the pods/binding
// subresource. On failure the assumed pod is forgotten, and the pod
// retried after a backoff.
func (s *shell) bind(ctx context.Context, pod *corev1.Pod, key, node string, plan []volumeAction) {
	volErr := s.bindVolumes(ctx, pod, plan)
	var err error
	if volErr == nil {
		err = s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: node},
		}, metav1.CreateOptions{})
	}
	s.mu.Lock()
	s.assumed.forget(pod.UID)
	if volErr != nil || err != nil {
		s.cache.forget(pod.UID)
	}
	s.mu.Unlock()
	if volErr == nil && err == nil {
		s.withQueue(func(q *schedulingQueue, _ time.Time) { q.done(key) })
		s.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
		return
	}
	if ctx.Err() != nil || apierrors.IsNotFound(err) || errors.Is(volErr, errPodGone) {
		s.withQueue(func(q *schedulingQueue, _ time.Time) { q.remove(key) })
		return
	}
	if volErr != nil {
		s.log.Info("binding volumes failed", "pod", key, "node", node, "err", volErr)
		s.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "running PreBind plugin \"VolumeBinding\": binding volumes: %v", volErr)
	} else {
		s.log.Info("binding failed", "pod", key, "node", node, "err", err)
		s.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "Binding rejected: %v", err)
	}
	s.withQueue(func(q *schedulingQueue, now time.Time) {
		q.failed(key, false, now)
		// The assumed pod's room is free again.
		q.moveAll(now)
	})
}

// reportUnschedulable records a FailedScheduling event and sets the pod's
// PodScheduled condition to False, reason Unschedulable, through the
// pods/status subresource (unless it already says so).
func (s *shell) reportUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) {
	s.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	cond := corev1.PodCondition{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: metav1.NewTime(s.now()),
	}
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse {
			continue
		}
		if c.Reason == cond.Reason && c.Message == cond.Message {
			return
		}
		cond.LastTransitionTime = c.LastTransitionTime
	}
	// The resourceVersion makes the patch fail if the pod changed since the
	// decision, so a late report cannot mark a pod bound since then.
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": pod.ResourceVersion},
		"status":   map[string]any{"conditions": []corev1.PodCondition{cond}},
	})
	if err != nil {
		s.log.Error("status patch", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
		s.log.Info("setting PodScheduled=False failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

// namespacesMatching resolves a pod affinity term's namespaceSelector.
func (s *shell) namespacesMatching(sel labels.Selector) []string {
	if s.namespaces == nil {
		return nil
	}
	list, err := s.namespaces.List(sel)
	if err != nil {
		return nil
	}
	names := make([]string, len(list))
	for i, ns := range list {
		names[i] = ns.Name
	}
	return names
}

// Event handlers: they only update the cache and the queue.

func (s *shell) podAdded(obj any) {
	pod := obj.(*corev1.Pod)
	switch {
	case pod.Spec.NodeName != "":
		s.mu.Lock()
		s.cache.setPod(pod)
		s.mu.Unlock()
	case s.ours(pod):
		s.withQueue(func(q *schedulingQueue, now time.Time) { q.add(pod, now) })
	}
}

func (s *shell) podUpdated(oldObj, newObj any) {
	old, pod := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if pod.Spec.NodeName != "" {
		s.mu.Lock()
		s.cache.setPod(pod)
		s.mu.Unlock()
		freed := terminated(pod) && !terminated(old)
		if old.Spec.NodeName == "" || freed {
			s.withQueue(func(q *schedulingQueue, now time.Time) {
				q.remove(queueKey(pod))
				if freed {
					q.moveAll(now)
				}
			})
		}
		return
	}
	if !s.ours(pod) {
		s.withQueue(func(q *schedulingQueue, _ time.Time) { q.remove(queueKey(pod)) })
		return
	}
	changed := !equality.Semantic.DeepEqual(old.Spec, pod.Spec) || !maps.Equal(old.Labels, pod.Labels)
	s.withQueue(func(q *schedulingQueue, now time.Time) { q.update(pod, changed, now) })
}

func (s *shell) podDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.mu.Lock()
	_, held := s.cache.pods[pod.UID]
	s.cache.removePod(pod.UID)
	s.mu.Unlock()
	s.volumeEvents.notify() // a binding may be waiting for its claims
	s.withQueue(func(q *schedulingQueue, now time.Time) {
		q.remove(queueKey(pod))
		if held {
			q.moveAll(now)
		}
	})
}

func (s *shell) nodeAdded(obj any) {
	s.mu.Lock()
	s.cache.setNode(obj.(*corev1.Node))
	s.mu.Unlock()
	s.moveAll()
}

func (s *shell) nodeUpdated(oldObj, newObj any) {
	old, node := oldObj.(*corev1.Node), newObj.(*corev1.Node)
	s.mu.Lock()
	s.cache.setNode(node)
	s.mu.Unlock()
	if schedulingChanged(old, node) {
		s.moveAll()
	}
}

func (s *shell) nodeDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	s.mu.Lock()
	s.cache.removeNode(node.Name)
	s.mu.Unlock()
}

func (s *shell) volumeChanged(any) {
	s.volumeEvents.notify()
	s.moveAll()
}

// schedulingChanged reports whether a node update may let a pod fit that
// did not: a heartbeat alone does not.
func schedulingChanged(old, node *corev1.Node) bool {
	return old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!maps.Equal(old.Labels, node.Labels) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) ||
		readyStatus(old) != readyStatus(node)
}

func readyStatus(node *corev1.Node) corev1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}
