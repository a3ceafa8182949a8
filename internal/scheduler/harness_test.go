package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/scheduler"
	"github.com/k1s/k1s/internal/testcluster"
)

func testLogger() *slog.Logger { return testcluster.Logger() }

func startAPIServer(tb testing.TB) *rest.Config {
	tb.Helper()
	return testcluster.StartAPIServer(tb)
}

func eventually(tb testing.TB, timeout time.Duration, f func() error) {
	tb.Helper()
	testcluster.Eventually(tb, timeout, f)
}

// runningScheduler is a scheduler started by the test.
type runningScheduler struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func startScheduler(tb testing.TB, cfg *rest.Config, o scheduler.Options) *runningScheduler {
	tb.Helper()
	o.Kubeconfig = cfg
	if o.Logger == nil {
		o.Logger = testLogger()
	}
	s, err := scheduler.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningScheduler{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	tb.Cleanup(func() { r.stop(tb) })
	return r
}

// stop cancels the scheduler and waits for Run to return.
func (r *runningScheduler) stop(tb testing.TB) {
	tb.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				tb.Errorf("scheduler Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			tb.Error("scheduler did not stop within 30s")
		}
	})
}

// newNode is a Ready node with the given allocatable cpu, memory and pods.
func newNode(name, cpu, mem string, pods int) *corev1.Node {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
		corev1.ResourcePods: *resource.NewQuantity(int64(pods), resource.DecimalSI),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{
			Capacity: alloc, Allocatable: alloc,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}},
		},
	}
}

// newPod is a pod of one container requesting cpu and memory.
func newPod(ns, name, cpu, mem string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
			}},
		}}},
	}
}

func ownedBy(p *corev1.Pod, uid string) *corev1.Pod {
	yes := true
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: types.UID(uid), Controller: &yes}}
	return p
}

func mustCreateNode(tb testing.TB, client kubernetes.Interface, n *corev1.Node) {
	tb.Helper()
	if _, err := client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("creating node %s: %v", n.Name, err)
	}
}

func mustCreatePod(tb testing.TB, client kubernetes.Interface, p *corev1.Pod) {
	tb.Helper()
	if _, err := client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("creating pod %s: %v", p.Name, err)
	}
}

// inParallel runs f(i) for i in [0, n) on workers goroutines and returns
// the first error.
func inParallel(n, workers int, f func(i int) error) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("item %d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
