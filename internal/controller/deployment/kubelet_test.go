package deployment_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// fakeKubelet plays the kubelet's part for the pods of one namespace,
// through the API only: it binds new pods to its node, reports them
// running and ready, and finishes graceful deletions. It acts one pod at a
// time, so a test can look at the cluster between any two steps.
type fakeKubelet struct {
	client kubernetes.Interface
	ns     string
	node   string
}

// step does the next piece of kubelet work: finish one terminating pod,
// else start one pod that is not ready. It reports whether there was
// anything to do.
func (k *fakeKubelet) step(ctx context.Context, pods []corev1.Pod) (bool, error) {
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp == nil {
			continue
		}
		// The containers stopped: the kubelet's final delete.
		uid := p.UID
		err := k.client.CoreV1().Pods(k.ns).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64(0)), Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return false, fmt.Errorf("finishing %s: %w", p.Name, err)
		}
		return true, nil
	}
	for i := range pods {
		p := &pods[i]
		if podReady(p) {
			continue
		}
		return true, k.start(ctx, p)
	}
	return false, nil
}

// start binds p to the node if needed and reports it running and ready.
func (k *fakeKubelet) start(ctx context.Context, p *corev1.Pod) error {
	if p.Spec.NodeName == "" {
		err := k.client.CoreV1().Pods(k.ns).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, UID: p.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: k.node},
		}, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("binding %s: %w", p.Name, err)
		}
	}
	cur, err := k.client.CoreV1().Pods(k.ns).Get(ctx, p.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	now := metav1.Now()
	cur.Status.Phase = corev1.PodRunning
	cur.Status.PodIP = "10.1.0.1"
	cur.Status.StartTime = &now
	cur.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	_, err = k.client.CoreV1().Pods(k.ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // changed meanwhile: the next step looks again
	}
	return err
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// run repeats: list the namespace's pods, ask done whether the goal is
// reached, else do one kubelet step; until done or the timeout passes.
// Invariants that must hold in every state are checked by a podWatch,
// which sees each change, not samples.
func (k *fakeKubelet) run(t *testing.T, timeout time.Duration, done func(pods []corev1.Pod) (bool, error)) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		list, err := k.client.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ok, err := done(list.Items)
		if ok {
			return
		}
		last = err
		acted, err := k.step(ctx, list.Items)
		if err != nil {
			t.Fatal(err)
		}
		if !acted {
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Fatalf("not done after %v: %v", timeout, last)
}

// podWatch replays every change to the pods of a namespace, in the
// api-server's order, and checks an invariant after each one, so a test
// sees every state the cluster went through, not samples of it.
type podWatch struct {
	mu     sync.Mutex
	first  error // the first broken invariant
	events int
}

// watchPods starts checking check against the namespace's pods after
// every change, until the test ends.
func watchPods(t *testing.T, client kubernetes.Interface, ns string, check func(pods []*corev1.Pod) error) *podWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pw := &podWatch{}
	state := map[string]*corev1.Pod{}
	for i := range list.Items {
		state[list.Items[i].Name] = &list.Items[i]
	}
	pw.observe(state, check)
	rv := list.ResourceVersion
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
			if err != nil {
				if ctx.Err() == nil {
					pw.fail(fmt.Errorf("watching pods: %w", err))
				}
				return
			}
			for ev := range w.ResultChan() {
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					pw.fail(fmt.Errorf("watch event %s: %v", ev.Type, ev.Object))
					w.Stop()
					return
				}
				switch ev.Type {
				case watch.Added, watch.Modified:
					state[p.Name] = p
				case watch.Deleted:
					delete(state, p.Name)
				}
				rv = p.ResourceVersion
				pw.observe(state, check)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return pw
}

func (pw *podWatch) observe(state map[string]*corev1.Pod, check func([]*corev1.Pod) error) {
	pods := make([]*corev1.Pod, 0, len(state))
	for _, p := range state {
		pods = append(pods, p)
	}
	err := check(pods)
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.events++
	if err != nil && pw.first == nil {
		pw.first = fmt.Errorf("after %d pod changes: %w", pw.events, err)
	}
}

func (pw *podWatch) fail(err error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.first == nil {
		pw.first = err
	}
}

// err returns the first broken invariant, and how many states were checked.
func (pw *podWatch) err() (error, int) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.first, pw.events
}
