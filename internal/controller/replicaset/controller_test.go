package replicaset_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controller/replicaset"
)

// startController runs a ReplicaSet controller using client until the
// test ends.
func startController(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := replicaset.New(replicaset.Options{
		Client: client, ReplicaSets: factory.Apps().V1().ReplicaSets(), Pods: factory.Core().V1().Pods(),
		Logger: testLogger(),
	})
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

func newClient(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func createNamespace(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func replicaSet(name string, replicas int32, app string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app, "tier": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

// activePods lists the pods in ns that are not being deleted.
func activePods(client kubernetes.Interface, ns string) ([]corev1.Pod, error) {
	list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// podsOwnedBy waits until exactly n active pods in ns are controlled by
// rs, and returns them.
func podsOwnedBy(t *testing.T, client kubernetes.Interface, ns string, rs *appsv1.ReplicaSet, n int) []corev1.Pod {
	t.Helper()
	var owned []corev1.Pod
	eventually(t, 10*time.Second, func() error {
		pods, err := activePods(client, ns)
		if err != nil {
			return err
		}
		owned = owned[:0]
		for _, p := range pods {
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == rs.UID {
				owned = append(owned, p)
			}
		}
		if len(owned) != n {
			return fmt.Errorf("%d pods owned by %s, want %d", len(owned), rs.Name, n)
		}
		return nil
	})
	return owned
}

// markReady plays the kubelet: the pod is running and ready.
func markReady(t *testing.T, client kubernetes.Interface, pod *corev1.Pod) {
	t.Helper()
	p := pod.DeepCopy()
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	if _, err := client.CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func getRS(t *testing.T, client kubernetes.Interface, ns, name string) *appsv1.ReplicaSet {
	t.Helper()
	rs, err := client.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func scaleRS(t *testing.T, client kubernetes.Interface, ns, name string, n int32) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
	if _, err := client.AppsV1().ReplicaSets(ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// statusIs waits until the ReplicaSet's status matches.
func statusIs(t *testing.T, client kubernetes.Interface, ns, name string, want func(*appsv1.ReplicaSet) error) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		rs, err := client.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return want(rs)
	})
}

func TestReplicaSetConvergesAndReplacesDeletedPods(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, startAPIServer(t))
	startController(t, client)
	createNamespace(t, client, "web")

	rs, err := client.AppsV1().ReplicaSets("web").Create(ctx, replicaSet("front", 3, "front"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := podsOwnedBy(t, client, "web", rs, 3)
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, "front-") || p.GenerateName != "front-" {
			t.Errorf("pod %s has generateName %q, want front-", p.Name, p.GenerateName)
		}
		ref := metav1.GetControllerOf(&p)
		if ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || ref.Name != "front" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s controller reference = %+v", p.Name, ref)
		}
		if p.Labels["tier"] != "web" {
			t.Errorf("pod %s labels = %v, want the template's", p.Name, p.Labels)
		}
	}

	// A deleted pod is replaced by a new one.
	if err := client.CoreV1().Pods("web").Delete(ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		now := podsOwnedBy(t, client, "web", rs, 3)
		if slices.ContainsFunc(now, func(p corev1.Pod) bool { return p.Name == pods[0].Name }) {
			return errors.New("deleted pod still listed")
		}
		return nil
	})

	// Scaling up and down.
	scaleRS(t, client, "web", "front", 5)
	podsOwnedBy(t, client, "web", rs, 5)
	scaleRS(t, client, "web", "front", 1)
	podsOwnedBy(t, client, "web", rs, 1)
	statusIs(t, client, "web", "front", func(rs *appsv1.ReplicaSet) error {
		if rs.Status.Replicas != 1 || rs.Status.FullyLabeledReplicas != 1 || rs.Status.ObservedGeneration != rs.Generation {
			return fmt.Errorf("status %+v at generation %d", rs.Status, rs.Generation)
		}
		return nil
	})

	// Events for kubectl describe.
	eventually(t, 10*time.Second, func() error {
		events, err := client.CoreV1().Events("web").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=front"})
		if err != nil {
			return err
		}
		reasons := map[string]bool{}
		for _, e := range events.Items {
			reasons[e.Reason] = true
			if e.Source.Component != "replicaset-controller" || e.InvolvedObject.Kind != "ReplicaSet" {
				return fmt.Errorf("event %s/%s from %q about %s", e.Reason, e.Message, e.Source.Component, e.InvolvedObject.Kind)
			}
		}
		if !reasons["SuccessfulCreate"] || !reasons["SuccessfulDelete"] {
			return fmt.Errorf("event reasons %v, want SuccessfulCreate and SuccessfulDelete", reasons)
		}
		return nil
	})
}

func TestReplicaSetAdoptsAndReleases(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, startAPIServer(t))
	createNamespace(t, client, "adopt")

	// An orphan matching the selector exists before the controller runs.
	orphan := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Labels: map[string]string{"app": "api"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	if _, err := client.CoreV1().Pods("adopt").Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// One that does not match is left alone.
	other := orphan.DeepCopy()
	other.Name, other.Labels = "other", map[string]string{"app": "db"}
	if _, err := client.CoreV1().Pods("adopt").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs, err := client.AppsV1().ReplicaSets("adopt").Create(ctx, replicaSet("api", 2, "api"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	startController(t, client)

	pods := podsOwnedBy(t, client, "adopt", rs, 2)
	if !slices.ContainsFunc(pods, func(p corev1.Pod) bool { return p.Name == "orphan" }) {
		t.Fatalf("orphan not adopted; owned pods: %v", podNames(pods))
	}
	all, _ := activePods(client, "adopt")
	if len(all) != 3 {
		t.Errorf("%d pods, want 3 (adopted orphan, one created, the unrelated one)", len(all))
	}
	if p, _ := client.CoreV1().Pods("adopt").Get(ctx, "other", metav1.GetOptions{}); len(p.OwnerReferences) != 0 {
		t.Errorf("non-matching pod got owner references %v", p.OwnerReferences)
	}

	// Relabelling a pod out of the selector releases it, and a
	// replacement is created.
	patch := []byte(`{"metadata":{"labels":{"app":"moved"}}}`)
	if _, err := client.CoreV1().Pods("adopt").Patch(ctx, "orphan", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		p, err := client.CoreV1().Pods("adopt").Get(ctx, "orphan", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(p.OwnerReferences) != 0 {
			return fmt.Errorf("released pod still has owner references %v", p.OwnerReferences)
		}
		return nil
	})
	pods = podsOwnedBy(t, client, "adopt", rs, 2)
	if slices.ContainsFunc(pods, func(p corev1.Pod) bool { return p.Name == "orphan" }) {
		t.Errorf("released pod still counted: %v", podNames(pods))
	}
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestReplicaSetScaleDownDeletesNotReadyFirst(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, startAPIServer(t))
	startController(t, client)
	createNamespace(t, client, "down")

	rs, err := client.AppsV1().ReplicaSets("down").Create(ctx, replicaSet("w", 3, "w"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := podsOwnedBy(t, client, "down", rs, 3)
	// The oldest pod stays not ready: by age alone it would be kept, so
	// only "not ready before ready" deletes it.
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	notReady := pods[0].Name
	for _, p := range pods[1:] {
		markReady(t, client, &p)
	}
	statusIs(t, client, "down", "w", func(rs *appsv1.ReplicaSet) error {
		if rs.Status.ReadyReplicas != 2 || rs.Status.AvailableReplicas != 2 {
			return fmt.Errorf("ready %d available %d, want 2 and 2", rs.Status.ReadyReplicas, rs.Status.AvailableReplicas)
		}
		return nil
	})
	scaleRS(t, client, "down", "w", 2)
	left := podsOwnedBy(t, client, "down", rs, 2)
	if slices.ContainsFunc(left, func(p corev1.Pod) bool { return p.Name == notReady }) {
		t.Errorf("kept the not-ready pod %s, deleted a ready one; left %v", notReady, podNames(left))
	}
}

func TestReplicaSetMinReadySeconds(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, startAPIServer(t))
	startController(t, client)
	createNamespace(t, client, "slow")

	r := replicaSet("s", 2, "s")
	r.Spec.MinReadySeconds = 1
	rs, err := client.AppsV1().ReplicaSets("slow").Create(ctx, r, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range podsOwnedBy(t, client, "slow", rs, 2) {
		markReady(t, client, &p)
	}
	statusIs(t, client, "slow", "s", func(rs *appsv1.ReplicaSet) error {
		if rs.Status.ReadyReplicas != 2 {
			return fmt.Errorf("ready %d, want 2", rs.Status.ReadyReplicas)
		}
		return nil
	})
	// Ready pods become available a second later without any other
	// event: the controller looks again by itself.
	statusIs(t, client, "slow", "s", func(rs *appsv1.ReplicaSet) error {
		if rs.Status.AvailableReplicas != 2 {
			return fmt.Errorf("available %d, want 2", rs.Status.AvailableReplicas)
		}
		return nil
	})
}

// quotaClient refuses pod creation while full is set, as a ResourceQuota
// would; everything else goes to the real client.
type quotaClient struct {
	kubernetes.Interface
	full *atomic.Bool
}

func (q quotaClient) CoreV1() typedcorev1.CoreV1Interface {
	return quotaCore{q.Interface.CoreV1(), q.full}
}

type quotaCore struct {
	typedcorev1.CoreV1Interface
	full *atomic.Bool
}

func (q quotaCore) Pods(ns string) typedcorev1.PodInterface {
	return quotaPods{q.CoreV1Interface.Pods(ns), q.full}
}

type quotaPods struct {
	typedcorev1.PodInterface
	full *atomic.Bool
}

func (q quotaPods) Create(ctx context.Context, pod *corev1.Pod, opts metav1.CreateOptions) (*corev1.Pod, error) {
	if q.full.Load() {
		return nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.GenerateName,
			errors.New("exceeded quota: compute, requested: pods=1, used: pods=1, limited: pods=1"))
	}
	return q.PodInterface.Create(ctx, pod, opts)
}

func TestReplicaSetReplicaFailureCondition(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, startAPIServer(t))
	full := &atomic.Bool{}
	full.Store(true)
	startController(t, quotaClient{client, full})
	createNamespace(t, client, "quota")

	rs, err := client.AppsV1().ReplicaSets("quota").Create(ctx, replicaSet("q", 2, "q"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	statusIs(t, client, "quota", "q", func(rs *appsv1.ReplicaSet) error {
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue && c.Reason == "FailedCreate" &&
				strings.Contains(c.Message, "exceeded quota") {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v, want ReplicaFailure/FailedCreate", rs.Status.Conditions)
	})
	// Once creates succeed again the pods come and the condition goes.
	full.Store(false)
	podsOwnedBy(t, client, "quota", rs, 2)
	statusIs(t, client, "quota", "q", func(rs *appsv1.ReplicaSet) error {
		if len(rs.Status.Conditions) != 0 || rs.Status.Replicas != 2 {
			return fmt.Errorf("replicas %d conditions %+v, want 2 and none", rs.Status.Replicas, rs.Status.Conditions)
		}
		return nil
	})
	events, err := client.CoreV1().Events("quota").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=q,reason=FailedCreate"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events.Items) == 0 || events.Items[0].Type != corev1.EventTypeWarning {
		t.Errorf("want a Warning FailedCreate event, got %+v", events.Items)
	}
}
