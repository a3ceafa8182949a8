package scheduler_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/scheduler"
)

func newClient(t *testing.T) (kubernetes.Interface, func() *scheduler.Options) {
	t.Helper()
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client, func() *scheduler.Options { return &scheduler.Options{Kubeconfig: cfg} }
}

// placement counts the pods of a namespace per node ("" for pending).
func placement(ctx context.Context, client kubernetes.Interface, ns string) (map[string]int, []corev1.Pod, error) {
	list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	count := map[string]int{}
	for _, p := range list.Items {
		count[p.Spec.NodeName]++
	}
	return count, list.Items, nil
}

func scheduledCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// eventFor returns the message of the newest event of the given reason
// about a pod, "" if there is none.
func eventFor(ctx context.Context, client kubernetes.Interface, ns, pod, reason string) (string, error) {
	list, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	msg := ""
	for _, e := range list.Items {
		if e.InvolvedObject.Name == pod && e.Reason == reason {
			msg = e.Message
			if e.Source.Component != scheduler.DefaultSchedulerName {
				return "", fmt.Errorf("event source %q, want %q", e.Source.Component, scheduler.DefaultSchedulerName)
			}
		}
	}
	return msg, nil
}

// TestLeastAllocatedPlacement: six pods of one ReplicaSet (500m/1Gi each)
// over three 4-cpu/8Gi nodes on which other pods already use 0, 2 and 3
// cpus. Least allocated favours the emptiest node and spreading the
// ReplicaSet pushes away from nodes holding more of its pods (the
// step-by-step table is in TestChainLeastAllocatedPlacement):
// a gets 3, b 2 and c, the fullest, 1.
func TestLeastAllocatedPlacement(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	for _, n := range []string{"a", "b", "c"} {
		mustCreateNode(t, client, newNode(n, "4", "8Gi", 110))
	}
	for node, cpu := range map[string]int{"b": 2, "c": 3} {
		p := newPod("kube-system", "used-"+node, fmt.Sprint(cpu), fmt.Sprintf("%dGi", 2*cpu))
		p.Spec.NodeName = node
		mustCreatePod(t, client, p)
	}
	other := newPod("default", "not-ours", "100m", "1Mi")
	other.Spec.SchedulerName = "someone-else"
	mustCreatePod(t, client, other)

	startScheduler(t, opts().Kubeconfig, *opts())
	for i := range 6 {
		mustCreatePod(t, client, ownedBy(newPod("default", fmt.Sprintf("web-%d", i), "500m", "1Gi"), "rs-uid"))
	}
	var got map[string]int
	eventually(t, 20*time.Second, func() error {
		var err error
		got, _, err = placement(ctx, client, "default")
		if err != nil {
			return err
		}
		if got["a"]+got["b"]+got["c"] < 6 {
			return fmt.Errorf("placed %v", got)
		}
		return nil
	})
	if got["a"] != 3 || got["b"] != 2 || got["c"] != 1 || got[""] != 1 {
		t.Errorf("placement %v, want a:3 b:2 c:1 and the other scheduler's pod pending", got)
	}

	pod, err := client.CoreV1().Pods("default").Get(ctx, "web-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := scheduledCondition(pod); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("web-0 PodScheduled condition %+v, want True", c)
	}
	eventually(t, 10*time.Second, func() error {
		msg, err := eventFor(ctx, client, "default", "web-0", "Scheduled")
		if err != nil {
			return err
		}
		if want := "Successfully assigned default/web-0 to " + pod.Spec.NodeName; msg != want {
			return fmt.Errorf("Scheduled event %q, want %q", msg, want)
		}
		return nil
	})
	other, err = client.CoreV1().Pods("default").Get(ctx, "not-ours", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if other.Spec.NodeName != "" || scheduledCondition(other) != nil {
		t.Errorf("pod for another scheduler was touched: node %q, conditions %+v", other.Spec.NodeName, other.Status.Conditions)
	}
}

// TestUnschedulableUntilANodeFits: a pod asking for more cpu than any
// node has stays pending with upstream's message, and is placed as soon as
// a big enough node joins.
func TestUnschedulableUntilANodeFits(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	mustCreateNode(t, client, newNode("small-1", "1", "4Gi", 110))
	mustCreateNode(t, client, newNode("small-2", "1", "4Gi", 110))
	tainted := newNode("tainted", "16", "64Gi", 110)
	tainted.Spec.Taints = []corev1.Taint{{Key: "key", Value: "value", Effect: corev1.TaintEffectNoSchedule}}
	mustCreateNode(t, client, tainted)
	startScheduler(t, opts().Kubeconfig, *opts())
	mustCreatePod(t, client, newPod("default", "big", "4", "1Gi"))

	const want = "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu. " +
		"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
	eventually(t, 20*time.Second, func() error {
		p, err := client.CoreV1().Pods("default").Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			return err
		}
		c := scheduledCondition(p)
		if c == nil || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable || c.Message != want {
			return fmt.Errorf("PodScheduled %+v, want False/Unschedulable with %q", c, want)
		}
		if p.Spec.NodeName != "" {
			return fmt.Errorf("bound to %s", p.Spec.NodeName)
		}
		return nil
	})
	eventually(t, 10*time.Second, func() error {
		msg, err := eventFor(ctx, client, "default", "big", "FailedScheduling")
		if err != nil {
			return err
		}
		if msg != want {
			return fmt.Errorf("FailedScheduling event %q, want %q", msg, want)
		}
		return nil
	})

	joined := time.Now()
	mustCreateNode(t, client, newNode("big", "8", "32Gi", 110))
	eventually(t, 15*time.Second, func() error {
		p, err := client.CoreV1().Pods("default").Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Spec.NodeName != "big" {
			return fmt.Errorf("on %q, want big", p.Spec.NodeName)
		}
		return nil
	})
	// One failed attempt so far: at most its 1s backoff, not a poll.
	if d := time.Since(joined); d > 5*time.Second {
		t.Errorf("placed %v after the node joined", d)
	}
}

// TestBurstNeverOvercommits: 200 pods of 300m land on ten 1-cpu nodes:
// exactly 30 fit, the rest stay pending; deleting a bound pod lets one
// more in.
func TestBurstNeverOvercommits(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	for i := range 10 {
		mustCreateNode(t, client, newNode(fmt.Sprintf("n%d", i), "1", "8Gi", 110))
	}
	startScheduler(t, opts().Kubeconfig, *opts())
	err := inParallel(200, 8, func(i int) error {
		_, err := client.CoreV1().Pods("default").Create(ctx, newPod("default", fmt.Sprintf("p%03d", i), "300m", "10Mi"), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	eventually(t, 30*time.Second, func() error {
		count, list, err := placement(ctx, client, "default")
		if err != nil {
			return err
		}
		pods = list
		unschedulable := 0
		for i := range list {
			if c := scheduledCondition(&list[i]); list[i].Spec.NodeName == "" && c != nil && c.Reason == corev1.PodReasonUnschedulable {
				unschedulable++
			}
		}
		if unschedulable != 170 || len(list)-count[""] != 30 {
			return fmt.Errorf("%d bound, %d marked unschedulable", len(list)-count[""], unschedulable)
		}
		return nil
	})
	perNode := map[string]int64{}
	var victim string
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName] += p.Spec.Containers[0].Resources.Requests.Cpu().MilliValue()
			victim = p.Name
		}
	}
	for node, m := range perNode {
		if m > 1000 {
			t.Errorf("node %s over-committed: %dm of 1000m", node, m)
		}
	}

	if err := client.CoreV1().Pods("default").Delete(ctx, victim, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		count, list, err := placement(ctx, client, "default")
		if err != nil {
			return err
		}
		if bound := len(list) - count[""]; bound != 30 || len(list) != 199 {
			return fmt.Errorf("%d pods, %d bound; want 199 and 30", len(list), bound)
		}
		return nil
	})
}

// TestLeaderElection: the second scheduler waits for the first's lease.
func TestLeaderElection(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	mustCreateNode(t, client, newNode("n", "8", "8Gi", 110))
	holder := func() string {
		lease, err := client.CoordinationV1().Leases("kube-system").Get(ctx, "kube-scheduler", metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			return ""
		}
		return *lease.Spec.HolderIdentity
	}
	bound := func(name string) func() error {
		return func() error {
			p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.Spec.NodeName == "" {
				return fmt.Errorf("%s pending", name)
			}
			return nil
		}
	}

	a := *opts()
	a.LeaderElect, a.Identity = true, "a"
	first := startScheduler(t, a.Kubeconfig, a)
	eventually(t, 20*time.Second, func() error {
		if h := holder(); h != "a" {
			return fmt.Errorf("holder %q", h)
		}
		return nil
	})
	b := *opts()
	b.LeaderElect, b.Identity = true, "b"
	startScheduler(t, b.Kubeconfig, b)
	mustCreatePod(t, client, newPod("default", "under-a", "100m", "1Mi"))
	eventually(t, 10*time.Second, bound("under-a"))
	if h := holder(); h != "a" {
		t.Errorf("holder %q while a runs, want a", h)
	}

	first.stop(t)
	mustCreatePod(t, client, newPod("default", "under-b", "100m", "1Mi"))
	eventually(t, 20*time.Second, bound("under-b"))
	if h := holder(); h != "b" {
		t.Errorf("holder %q after a stopped, want b", h)
	}
}

// TestUnschedulableReasons covers filters end to end: a missing claim, then
// an unbound one, a node selector and a cordoned node.
func TestUnschedulableReasons(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	mustCreateNode(t, client, newNode("a", "4", "8Gi", 110))
	cordoned := newNode("b", "4", "8Gi", 110)
	cordoned.Spec.Unschedulable = true
	mustCreateNode(t, client, cordoned)
	startScheduler(t, opts().Kubeconfig, *opts())

	withClaim := newPod("default", "with-claim", "100m", "1Mi")
	withClaim.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"},
	}}}
	mustCreatePod(t, client, withClaim)
	selective := newPod("default", "selective", "100m", "1Mi")
	selective.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	mustCreatePod(t, client, selective)

	wants := map[string]string{
		"with-claim": `0/2 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.`,
		"selective":  "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
	}
	for name, want := range wants {
		eventually(t, 20*time.Second, func() error {
			p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if c := scheduledCondition(p); c == nil || c.Message != want {
				return fmt.Errorf("%s: PodScheduled %+v, want message %q", name, c, want)
			}
			return nil
		})
	}

	// Creating the claim lets the pod in.
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	created, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A claim without a class binds immediately: the pod waits for that.
	want := "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	eventually(t, 20*time.Second, func() error {
		p, err := client.CoreV1().Pods("default").Get(ctx, "with-claim", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c := scheduledCondition(p); c == nil || c.Message != want {
			return fmt.Errorf("with-claim: PodScheduled %+v, want message %q", c, want)
		}
		return nil
	})
	mustCreatePV(t, client, localPV("pv-data", "", "1Gi", "a", created))
	if err := bindClaim(ctx, client, "data", "pv-data"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		p, err := client.CoreV1().Pods("default").Get(ctx, "with-claim", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Spec.NodeName != "a" {
			return fmt.Errorf("with-claim on %q, want a", p.Spec.NodeName)
		}
		return nil
	})
	// Labelling the node lets the other in.
	node, err := client.CoreV1().Nodes().Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Labels["disk"] = "ssd"
	if _, err := client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		_, list, err := placement(ctx, client, "default")
		if err != nil {
			return err
		}
		var where []string
		for _, p := range list {
			where = append(where, p.Name+"@"+p.Spec.NodeName)
		}
		slices.Sort(where)
		if got := strings.Join(where, " "); got != "selective@a with-claim@a" {
			return fmt.Errorf("placement %s", got)
		}
		return nil
	})
}
