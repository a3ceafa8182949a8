package nodelifecycle_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controller/nodelifecycle"
	"github.com/k1s/k1s/internal/controller/replicaset"
)

// grace is 20 heartbeats: a stalled renewal on a loaded CI machine must not
// look like a dead node.
const grace = 4 * time.Second

// startControllers runs the node lifecycle and replicaset controllers.
func startControllers(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	nlc, err := nodelifecycle.New(nodelifecycle.Options{
		Client: client, Logger: testLogger(),
		Nodes: factory.Core().V1().Nodes(), Pods: factory.Core().V1().Pods(), Leases: factory.Coordination().V1().Leases(),
		NodeMonitorGracePeriod: grace, NodeMonitorPeriod: 100 * time.Millisecond, DefaultTolerationSeconds: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	rsc, err := replicaset.New(replicaset.Options{
		Client: client, Logger: testLogger(),
		ReplicaSets: factory.Apps().V1().ReplicaSets(), Pods: factory.Core().V1().Pods(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{nlc.Run, rsc.Run} {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				t.Errorf("controller Run: %v", err)
			}
		})
	}
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		factory.Shutdown()
	})
	return client
}

// kubelet plays a node's kubelet: it registers the node Ready and renews
// its Lease until stopped.
type kubelet struct {
	client kubernetes.Interface
	name   string
	stop   chan struct{}
	done   chan struct{}
}

func startKubelet(t *testing.T, client kubernetes.Interface, name string) *kubelet {
	t.Helper()
	ctx := context.Background()
	node, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	now := metav1.NowMicro()
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &name, RenewTime: &now},
	}
	if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k := &kubelet{client: client, name: name}
	k.start(t)
	return k
}

func (k *kubelet) start(t *testing.T) {
	k.stop, k.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(k.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-k.stop:
				return
			case <-tick.C:
			}
			leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
			l, err := leases.Get(context.Background(), k.name, metav1.GetOptions{})
			if err != nil {
				continue
			}
			now := metav1.NowMicro()
			l.Spec.RenewTime = &now
			_, _ = leases.Update(context.Background(), l, metav1.UpdateOptions{})
		}
	}()
	t.Cleanup(k.halt)
}

func (k *kubelet) halt() {
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	<-k.done
}

// bindPending plays the scheduler: binds every unbound pod to node.
func bindPending(t *testing.T, client kubernetes.Interface, node string) {
	t.Helper()
	ctx := context.Background()
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" {
			continue
		}
		b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}
		if err := client.CoreV1().Pods("default").Bind(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := client.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got.Status.Phase = corev1.PodRunning
		got.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// livePods returns the pods in default that are not terminating, by node.
func livePods(t *testing.T, client kubernetes.Interface) (map[string][]string, []corev1.Pod) {
	t.Helper()
	list, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live := map[string][]string{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			live[p.Spec.NodeName] = append(live[p.Spec.NodeName], p.Name)
		}
	}
	return live, list.Items
}

func nodeState(t *testing.T, client kubernetes.Interface, name string) (corev1.ConditionStatus, string, []string) {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var status corev1.ConditionStatus
	var reason string
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status, reason = c.Status, c.Reason
		}
	}
	var taints []string
	for _, tn := range n.Spec.Taints {
		taints = append(taints, tn.Key+":"+string(tn.Effect))
	}
	return status, reason, taints
}

func TestSilentNodeLosesItsPods(t *testing.T) {
	ctx := context.Background()
	client := startControllers(t, startAPIServer(t))
	a := startKubelet(t, client, "a")
	startKubelet(t, client, "b")

	labels := map[string]string{"app": "web"}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: new(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
	if _, err := client.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var first string
	eventually(t, 10*time.Second, func() error {
		live, _ := livePods(t, client)
		if len(live[""]) != 1 {
			return fmt.Errorf("pods %v, want one unbound", live)
		}
		first = live[""][0]
		return nil
	})
	bindPending(t, client, "a")

	// Both nodes heartbeat well past the grace period: nothing happens.
	for end := time.Now().Add(grace + grace/2); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, n := range []string{"a", "b"} {
			if status, _, taints := nodeState(t, client, n); status != corev1.ConditionTrue || len(taints) != 0 {
				t.Fatalf("heartbeating node %s: Ready=%s taints %v", n, status, taints)
			}
		}
	}

	a.halt()
	lease, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lastRenewed := lease.Spec.RenewTime.Time
	eventually(t, 10*time.Second, func() error {
		status, reason, taints := nodeState(t, client, "a")
		want := []string{nodelifecycle.TaintUnreachable + ":NoExecute", nodelifecycle.TaintUnreachable + ":NoSchedule"}
		if status != corev1.ConditionUnknown || reason != "NodeStatusUnknown" || !slices.Equal(taints, want) {
			return fmt.Errorf("node a: Ready=%s (%s) taints %v", status, reason, taints)
		}
		return nil
	})
	if d := time.Since(lastRenewed); d < grace {
		t.Errorf("node marked Unknown %v after its last heartbeat, before the grace period %v", d, grace)
	}

	// The pod is marked not ready, then evicted once its default
	// toleration (1s here) is over, and its ReplicaSet replaces it.
	eventually(t, 10*time.Second, func() error {
		p, err := client.CoreV1().Pods("default").Get(ctx, first, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse {
				return nil
			}
		}
		return fmt.Errorf("pod conditions %+v", p.Status.Conditions)
	})
	eventually(t, 10*time.Second, func() error {
		live, _ := livePods(t, client)
		if len(live["a"]) != 0 || len(live[""]) != 1 {
			return fmt.Errorf("live pods by node %v, want one replacement, unbound", live)
		}
		return nil
	})
	if status, _, taints := nodeState(t, client, "b"); status != corev1.ConditionTrue || len(taints) != 0 {
		t.Errorf("healthy node b: Ready=%s taints %v", status, taints)
	}
	bindPending(t, client, "b")
	if live, _ := livePods(t, client); len(live["b"]) != 1 {
		t.Errorf("live pods by node %v, want the replacement on b", live)
	}

	// Node a comes back: its kubelet posts Ready and renews; the taint goes.
	eventually(t, 10*time.Second, func() error { // retried: the controller may update the node meanwhile
		n, err := client.CoreV1().Nodes().Get(ctx, "a", metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		_, err = client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	a.start(t)
	eventually(t, 10*time.Second, func() error {
		if status, _, taints := nodeState(t, client, "a"); status != corev1.ConditionTrue || len(taints) != 0 {
			return fmt.Errorf("node a back: Ready=%s taints %v", status, taints)
		}
		return nil
	})
}
