package garbagecollector_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controller/garbagecollector"
)

// env is an api-server with a garbage collector running against it.
type env struct {
	client kubernetes.Interface
	ns     string
}

func start(t *testing.T) *env {
	t.Helper()
	cfg := startAPIServer(t)
	return &env{client: runCollector(t, cfg), ns: "default"}
}

func runCollector(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := garbagecollector.New(garbagecollector.Options{
		Metadata: meta, Discovery: client.Discovery(), Client: client, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector Run: %v", err)
		}
	})
	return client
}

func ref(owner metav1.Object, kind, apiVersion string, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), BlockOwnerDeletion: new(block)}
}

func cmRef(owner *corev1.ConfigMap, block bool) metav1.OwnerReference {
	return ref(owner, "ConfigMap", "v1", block)
}

// configMap creates a config map with the given owners and finalizers.
func (e *env) configMap(t *testing.T, name string, owners []metav1.OwnerReference, finalizers ...string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: owners, Finalizers: finalizers}}
	cm, err := e.client.CoreV1().ConfigMaps(e.ns).Create(context.Background(), cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func (e *env) delete(t *testing.T, name string, policy metav1.DeletionPropagation) {
	t.Helper()
	if err := e.client.CoreV1().ConfigMaps(e.ns).Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		t.Fatal(err)
	}
}

// state renders config maps: "name" or "name(deleting)" with the names of
// their owners, e.g. "a b<-owner".
func (e *env) state(t *testing.T) string {
	t.Helper()
	list, err := e.client.CoreV1().ConfigMaps(e.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cm := range list.Items {
		if cm.Name == "kube-root-ca.crt" {
			continue
		}
		s := cm.Name
		if cm.DeletionTimestamp != nil {
			s += "(deleting)"
		}
		for _, o := range cm.OwnerReferences {
			s += "<-" + o.Name
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}

func (e *env) wantState(t *testing.T, want string) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		if got := e.state(t); got != want {
			return fmt.Errorf("config maps %s, want %s", got, want)
		}
		return nil
	})
}

func (e *env) removeFinalizers(t *testing.T, name string) {
	t.Helper()
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := e.client.CoreV1().ConfigMaps(e.ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The cascade modes share one api-server and collector; each runs in its
// own namespace.
func TestCascade(t *testing.T) {
	base := start(t)
	namespace := func(t *testing.T, name string) *env {
		t.Helper()
		_, err := base.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return &env{client: base.client, ns: name}
	}

	t.Run("background", func(t *testing.T) {
		e := namespace(t, "background")
		owner := e.configMap(t, "owner", nil)
		e.configMap(t, "dep-1", []metav1.OwnerReference{cmRef(owner, true)})
		dep2 := e.configMap(t, "dep-2", []metav1.OwnerReference{cmRef(owner, false)})
		e.configMap(t, "grandchild", []metav1.OwnerReference{cmRef(dep2, false)})
		e.configMap(t, "bystander", nil)
		e.wantState(t, "[bystander dep-1<-owner dep-2<-owner grandchild<-dep-2 owner]")
		e.delete(t, "owner", metav1.DeletePropagationBackground)
		e.wantState(t, "[bystander]")
	})

	t.Run("orphan", func(t *testing.T) {
		e := namespace(t, "orphan")
		owner := e.configMap(t, "owner", nil)
		other := e.configMap(t, "other-owner", nil)
		e.configMap(t, "dep-1", []metav1.OwnerReference{cmRef(owner, true)})
		e.configMap(t, "dep-2", []metav1.OwnerReference{cmRef(owner, false), cmRef(other, false)})
		e.wantState(t, "[dep-1<-owner dep-2<-owner<-other-owner other-owner owner]")
		e.delete(t, "owner", metav1.DeletePropagationOrphan)
		e.wantState(t, "[dep-1 dep-2<-other-owner other-owner]")
	})

	t.Run("foreground", func(t *testing.T) {
		e := namespace(t, "foreground")
		owner := e.configMap(t, "owner", nil)
		e.configMap(t, "blocking", []metav1.OwnerReference{cmRef(owner, true)}, "example.com/hold")
		e.configMap(t, "not-blocking", []metav1.OwnerReference{cmRef(owner, false)}, "example.com/hold")
		e.configMap(t, "plain", []metav1.OwnerReference{cmRef(owner, true)})
		e.delete(t, "owner", metav1.DeletePropagationForeground)
		// Every dependent is being deleted; the owner waits for the
		// blocking one only.
		e.wantState(t, "[blocking(deleting)<-owner not-blocking(deleting)<-owner owner(deleting)]")
		got, err := e.client.CoreV1().ConfigMaps(e.ns).Get(context.Background(), "owner", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(got.Finalizers, metav1.FinalizerDeleteDependents) {
			t.Errorf("owner finalizers %v, want %s", got.Finalizers, metav1.FinalizerDeleteDependents)
		}
		e.removeFinalizers(t, "blocking")
		e.wantState(t, "[not-blocking(deleting)<-owner]")
		e.removeFinalizers(t, "not-blocking")
		e.wantState(t, "[]")
	})

	t.Run("foreground chain", func(t *testing.T) {
		e := namespace(t, "chain")
		a := e.configMap(t, "a", nil)
		b := e.configMap(t, "b", []metav1.OwnerReference{cmRef(a, true)})
		c := e.configMap(t, "c", []metav1.OwnerReference{cmRef(b, true)})
		e.configMap(t, "d", []metav1.OwnerReference{cmRef(c, true)}, "example.com/hold")
		e.delete(t, "a", metav1.DeletePropagationForeground)
		// Each level waits for the one below.
		e.wantState(t, "[a(deleting) b(deleting)<-a c(deleting)<-b d(deleting)<-c]")
		e.removeFinalizers(t, "d")
		e.wantState(t, "[]")
	})

	t.Run("dangling at creation", func(t *testing.T) {
		e := namespace(t, "dangling")
		ghost := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "ghost", UID: "00000000-0000-0000-0000-000000000001"}
		e.configMap(t, "orphaned-at-birth", []metav1.OwnerReference{ghost})
		live := e.configMap(t, "live", nil)
		// A live owner keeps it, and the dangling reference is dropped.
		e.configMap(t, "half", []metav1.OwnerReference{ghost, cmRef(live, false)})
		e.wantState(t, "[half<-live live]")
	})

	t.Run("owner in another namespace", func(t *testing.T) {
		e := namespace(t, "elsewhere")
		other := namespace(t, "elsewhere-owner")
		owner := other.configMap(t, "owner", nil)
		// An ownerReference names an owner in the same namespace: this
		// one names nothing that exists.
		e.configMap(t, "misplaced", []metav1.OwnerReference{cmRef(owner, false)})
		e.wantState(t, "[]")
		other.wantState(t, "[owner]")
	})

	t.Run("cluster-scoped owner", func(t *testing.T) {
		e := namespace(t, "cluster-owner")
		node, err := e.client.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e.configMap(t, "node-config", []metav1.OwnerReference{ref(node, "Node", "v1", false)})
		e.configMap(t, "bystander", nil)
		e.wantState(t, "[bystander node-config<-n1]")
		if err := e.client.CoreV1().Nodes().Delete(context.Background(), "n1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.wantState(t, "[bystander]")
	})
}

// replicaSet creates a ReplicaSet with n pods it owns (as its controller
// would), unscheduled so that they go at once when deleted.
func replicaSet(t *testing.T, client kubernetes.Interface, ns, name string, n int) *appsv1.ReplicaSet {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: new(int32(n)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
	rs, err := client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID,
		Controller: new(true), BlockOwnerDeletion: new(true)}
	for i := range n {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", name, i), Labels: labels, OwnerReferences: []metav1.OwnerReference{owner}},
			Spec:       spec,
		}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return rs
}

func podCount(t *testing.T, client kubernetes.Interface, ns, app string, wantOwned bool) func() error {
	return func() error {
		list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return err
		}
		owned := 0
		for _, p := range list.Items {
			if len(p.OwnerReferences) > 0 {
				owned++
			}
		}
		switch {
		case wantOwned && len(list.Items) != 0:
			return fmt.Errorf("%d pods of %s left", len(list.Items), app)
		case !wantOwned && (len(list.Items) != 3 || owned != 0):
			return fmt.Errorf("%d pods of %s, %d still owned; want 3 orphans", len(list.Items), app, owned)
		}
		return nil
	}
}

func TestReplicaSetCascade(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	rsGone := func(name string) func() error {
		return func() error {
			_, err := e.client.AppsV1().ReplicaSets(e.ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("replicaset %s still there (%v)", name, err)
		}
	}
	for _, tt := range []struct {
		policy   metav1.DeletionPropagation
		podsGone bool
	}{
		{metav1.DeletePropagationBackground, true},
		{metav1.DeletePropagationForeground, true},
		{metav1.DeletePropagationOrphan, false},
	} {
		name := "rs-" + string(tt.policy)
		name = map[string]string{"rs-Background": "bg", "rs-Foreground": "fg", "rs-Orphan": "orphan"}[name]
		replicaSet(t, e.client, e.ns, name, 3)
		if err := e.client.AppsV1().ReplicaSets(e.ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &tt.policy}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, rsGone(name))
		eventually(t, 20*time.Second, podCount(t, e.client, e.ns, name, tt.podsGone))
	}
}

// A collector started after the owner is gone finds its dependents.
func TestCollectorStartsLate(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{client: client, ns: "default"}
	owner := e.configMap(t, "owner", nil)
	e.configMap(t, "dep", []metav1.OwnerReference{cmRef(owner, true)})
	e.delete(t, "owner", metav1.DeletePropagationBackground)
	e.wantState(t, "[dep<-owner]")
	runCollector(t, cfg)
	e.wantState(t, "[]")
}
