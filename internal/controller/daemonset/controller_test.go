package daemonset_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controller/daemonset"
	"github.com/k1s/k1s/internal/scheduler"
)

// startController runs a DaemonSet controller using client until the
// test ends.
func startController(t *testing.T, client kubernetes.Interface, configure ...func(*daemonset.Options)) {
	t.Helper()
	factory := informers.NewSharedInformerFactory(client, 0)
	opts := daemonset.Options{
		Client: client, DaemonSets: factory.Apps().V1().DaemonSets(),
		Pods: factory.Core().V1().Pods(), Nodes: factory.Core().V1().Nodes(),
		Revisions: factory.Apps().V1().ControllerRevisions(),
		Logger:    testLogger(),
	}
	for _, f := range configure {
		f(&opts)
	}
	c, err := daemonset.New(opts)
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
}

// startScheduler runs k1s's scheduler, which binds the daemon pods to the
// nodes their affinity names, until the test ends.
func startScheduler(t *testing.T, cfg *rest.Config) {
	t.Helper()
	s, err := scheduler.New(scheduler.Options{Kubeconfig: cfg, Logger: testLogger(), Identity: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler Run: %v", err)
		}
	})
}

// startKubelet plays every node's kubelet for the pods of ns, through the
// API: bound pods become running and ready, graceful deletions finish.
func startKubelet(t *testing.T, client kubernetes.Interface, ns string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for i := range list.Items {
				kubeletStep(ctx, client, &list.Items[i])
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func kubeletStep(ctx context.Context, client kubernetes.Interface, p *corev1.Pod) {
	switch {
	case p.DeletionTimestamp != nil:
		uid := p.UID
		_ = client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64(0)), Preconditions: &metav1.Preconditions{UID: &uid}})
	case p.Spec.NodeName != "" && !podReady(p):
		now := metav1.Now()
		cur := p.DeepCopy()
		cur.Status.Phase = corev1.PodRunning
		cur.Status.StartTime = &now
		cur.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		// Conflicts and deletions meanwhile are retried on the next tick.
		_, _ = client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func createNode(t *testing.T, client kubernetes.Interface, name string, taints ...corev1.Taint) {
	t.Helper()
	alloc := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods: resource.MustParse("110"),
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Capacity: alloc, Allocatable: alloc,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}},
		},
	}
	if _, err := client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// activeByNode maps node name to the names of ns's pods there that are not
// being deleted.
func activeByNode(client kubernetes.Interface, ns string) (map[string][]corev1.Pod, error) {
	list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string][]corev1.Pod{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p)
		}
	}
	return out, nil
}

// waitNodes waits until exactly the nodes want each run one ready pod of
// the namespace, and the DaemonSet's status says so.
func waitNodes(t *testing.T, client kubernetes.Interface, ns, ds string, want ...string) map[string][]corev1.Pod {
	t.Helper()
	var got map[string][]corev1.Pod
	eventually(t, 10*time.Second, func() error {
		var err error
		got, err = activeByNode(client, ns)
		if err != nil {
			return err
		}
		var nodes []string
		for n, pods := range got {
			if len(pods) != 1 || !podReady(&pods[0]) {
				return fmt.Errorf("node %q has %d pods (first ready: %v)", n, len(pods), podReady(&pods[0]))
			}
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		if !slices.Equal(nodes, want) {
			return fmt.Errorf("pods on %v, want %v", nodes, want)
		}
		d, err := client.AppsV1().DaemonSets(ns).Get(context.Background(), ds, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st, n := d.Status, int32(len(want))
		if st.DesiredNumberScheduled != n || st.CurrentNumberScheduled != n || st.NumberReady != n ||
			st.NumberAvailable != n || st.UpdatedNumberScheduled != n || st.ObservedGeneration != d.Generation {
			return fmt.Errorf("status %+v, want %d everywhere", st, n)
		}
		return nil
	})
	return got
}

func TestDaemonSet(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "ds"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		createNode(t, client, n)
	}
	startController(t, client)
	startScheduler(t, cfg)
	startKubelet(t, client, ns)

	one := intstr.FromInt32(1)
	ds, err := client.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "agent:1"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &one}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// 3 nodes, 3 pods, with the default tolerations and an owner.
	pods := waitNodes(t, client, ns, ds.Name, "node-1", "node-2", "node-3")
	p := pods["node-1"][0]
	if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != ds.UID {
		t.Errorf("pod %s controller = %v, want the DaemonSet", p.Name, ref)
	}
	if a := p.Spec.Affinity; a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil ||
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0] != "node-1" {
		t.Errorf("pod %s on node-1 is not pinned there by its affinity: %+v", p.Name, p.Spec.Affinity)
	}
	if !slices.ContainsFunc(p.Spec.Tolerations, func(t corev1.Toleration) bool { return t.Key == corev1.TaintNodeUnreachable }) {
		t.Errorf("pod %s tolerations %v lack the unreachable toleration", p.Name, p.Spec.Tolerations)
	}

	// A 4th node gets one; a tainted 5th does not.
	createNode(t, client, "node-4")
	createNode(t, client, "node-5", corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule})
	waitNodes(t, client, ns, ds.Name, "node-1", "node-2", "node-3", "node-4")

	// A NoExecute taint evicts the daemon pod from node-3; removing it
	// brings the pod back.
	patchTaints := func(node, taints string) {
		t.Helper()
		patch := fmt.Appendf(nil, `{"spec":{"taints":%s}}`, taints)
		if _, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	patchTaints("node-3", `[{"key":"maintenance","effect":"NoExecute"}]`)
	waitNodes(t, client, ns, ds.Name, "node-1", "node-2", "node-4")
	patchTaints("node-3", `null`)
	waitNodes(t, client, ns, ds.Name, "node-1", "node-2", "node-3", "node-4")

	// A deleted node loses its pod.
	if err := client.CoreV1().Nodes().Delete(ctx, "node-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	before := waitNodes(t, client, ns, ds.Name, "node-1", "node-3", "node-4")

	// A template change rolls the pods, at most one node without an
	// available pod at any sampled moment.
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"agent:2"}]}}}}`)
	if _, err := client.AppsV1().DaemonSets(ns).Patch(ctx, ds.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() error {
		byNode, err := activeByNode(client, ns)
		if err != nil {
			return err
		}
		readyNodes, updated := 0, 0
		for _, pods := range byNode {
			for _, p := range pods {
				if podReady(&p) {
					readyNodes++
				}
				if p.Spec.Containers[0].Image == "agent:2" {
					updated++
				}
			}
		}
		if readyNodes < 2 {
			t.Fatalf("only %d nodes with a ready pod during the rollout, want at least 2", readyNodes)
		}
		if updated != 3 {
			return fmt.Errorf("%d pods updated, want 3", updated)
		}
		return nil
	})
	after := waitNodes(t, client, ns, ds.Name, "node-1", "node-3", "node-4")
	for n, pods := range after {
		if pods[0].Name == before[n][0].Name {
			t.Errorf("pod %s on %s was not replaced", pods[0].Name, n)
		}
		if pods[0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == before[n][0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey] {
			t.Errorf("pod %s on %s kept the old template hash", pods[0].Name, n)
		}
	}

	// Events were recorded on the DaemonSet.
	eventually(t, 5*time.Second, func() error {
		evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var created, deleted bool
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == ds.Name {
				created = created || e.Reason == "SuccessfulCreate"
				deleted = deleted || e.Reason == "SuccessfulDelete"
			}
		}
		if !created || !deleted {
			return fmt.Errorf("events SuccessfulCreate %v, SuccessfulDelete %v", created, deleted)
		}
		return nil
	})

	// Deleting the DaemonSet leaves it to the garbage collector; it just
	// must not fail.
	if err := client.AppsV1().DaemonSets(ns).Delete(ctx, ds.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}
