package podgc_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controller/podgc"
)

func startController(t *testing.T, cfg *rest.Config, opts podgc.Options) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	opts.Client, opts.Logger = client, testLogger()
	opts.Pods, opts.Nodes = factory.Core().V1().Pods(), factory.Core().V1().Nodes()
	c, err := podgc.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller Run: %v", err)
		}
		factory.Shutdown()
	})
	return client
}

func createNode(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	if _, err := client.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// createPod creates a pod bound to node (if any) and, playing the kubelet,
// reports it in phase.
func createPod(t *testing.T, client kubernetes.Interface, name, node string, phase corev1.PodPhase) {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	p, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = phase
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// podNames lists the pods in default, sorted.
func podNames(t *testing.T, client kubernetes.Interface) []string {
	t.Helper()
	list, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

func wantPods(t *testing.T, client kubernetes.Interface, want ...string) {
	t.Helper()
	eventually(t, 15*time.Second, func() error {
		if got := podNames(t, client); !slices.Equal(got, want) {
			return fmt.Errorf("pods %v, want %v", got, want)
		}
		return nil
	})
}

func TestPodsOfDeletedNodeAreCollected(t *testing.T) {
	ctx := context.Background()
	const quarantine = 300 * time.Millisecond
	client := startController(t, startAPIServer(t), podgc.Options{Quarantine: quarantine, Period: time.Second})
	createNode(t, client, "doomed")
	createNode(t, client, "healthy")
	createPod(t, client, "on-doomed-1", "doomed", corev1.PodRunning)
	createPod(t, client, "on-doomed-2", "doomed", corev1.PodPending)
	createPod(t, client, "on-healthy", "healthy", corev1.PodRunning)
	createPod(t, client, "unbound", "", corev1.PodPending)

	// A pod on a node that never existed goes once the quarantine is over.
	start := time.Now()
	createPod(t, client, "on-ghost", "never-existed", corev1.PodRunning)
	wantPods(t, client, "on-doomed-1", "on-doomed-2", "on-healthy", "unbound")
	if waited := time.Since(start); waited < quarantine {
		t.Errorf("pod on a missing node collected after %v, before the quarantine of %v", waited, quarantine)
	}

	// A finalizer keeps this one around to show how it was collected.
	p, err := client.CoreV1().Pods("default").Get(ctx, "on-doomed-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Finalizers = []string{"example.com/hold"}
	if _, err := client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := client.CoreV1().Nodes().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wantPods(t, client, "on-doomed-1", "on-healthy", "unbound")
	eventually(t, 15*time.Second, func() error {
		p, err := client.CoreV1().Pods("default").Get(ctx, "on-doomed-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.DeletionTimestamp == nil || p.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("pod deleted %v, phase %s", p.DeletionTimestamp, p.Status.Phase)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "DeletionByPodGC" {
				return nil
			}
		}
		return fmt.Errorf("no DisruptionTarget condition in %+v", p.Status.Conditions)
	})
}

func TestPodOnNodeWithSameNameBackIsKept(t *testing.T) {
	ctx := context.Background()
	client := startController(t, startAPIServer(t), podgc.Options{Quarantine: 500 * time.Millisecond, Period: time.Hour})
	createNode(t, client, "flappy")
	createPod(t, client, "p", "flappy", corev1.PodRunning)
	if err := client.CoreV1().Nodes().Delete(ctx, "flappy", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	createNode(t, client, "flappy") // back within the quarantine
	// A marker pod on a missing node, created after, is collected after the
	// same quarantine; by then the flappy node's check has run too.
	createPod(t, client, "marker", "gone", corev1.PodRunning)
	wantPods(t, client, "p")
}

func TestTerminatedPodThreshold(t *testing.T) {
	client := startController(t, startAPIServer(t), podgc.Options{TerminatedPodThreshold: 2, Period: 200 * time.Millisecond})
	createNode(t, client, "n")
	createPod(t, client, "running", "n", corev1.PodRunning)
	for i, phase := range []corev1.PodPhase{corev1.PodSucceeded, corev1.PodFailed, corev1.PodSucceeded, corev1.PodFailed} {
		createPod(t, client, fmt.Sprintf("done-%d", i), "n", phase)
	}
	// The two oldest terminated pods go; ties in creation time (one
	// second resolution) are broken by name.
	wantPods(t, client, "done-2", "done-3", "running")
}
