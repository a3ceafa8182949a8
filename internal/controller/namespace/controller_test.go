package namespace_test

import (
	"context"
	"fmt"
	"strings"
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
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controller/namespace"
)

// startController runs a namespace controller against cfg until the test ends.
func startController(t *testing.T, cfg *rest.Config) (kubernetes.Interface, metadata.Interface) {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := namespace.New(namespace.Options{
		Client: client, Metadata: meta, Informer: factory.Core().V1().Namespaces(), Logger: testLogger(),
		DeletionDelay: 50 * time.Millisecond,
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
	return client, meta
}

func createNamespace(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func namespaceGone(client kubernetes.Interface, name string) func() error {
	return func() error {
		ns, err := client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("namespace %s still exists: phase %s, finalizers %v, conditions %+v", name, ns.Status.Phase, ns.Spec.Finalizers, ns.Status.Conditions)
	}
}

func TestDeleteNamespaceRemovesContent(t *testing.T) {
	ctx := context.Background()
	client, meta := startController(t, startAPIServer(t))
	const ns = "doomed"
	createNamespace(t, client, ns)
	for i := range 3 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"k": "v"}}
		if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"password": "x"}}
	if _, err := client.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	podSpec := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "unbound"}, Spec: podSpec}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A namespace that is not deleted keeps its content.
	const bystander = "bystander"
	createNamespace(t, client, bystander)
	if _, err := client.CoreV1().ConfigMaps(bystander).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, namespaceGone(client, ns))

	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "configmaps"},
		{Version: "v1", Resource: "secrets"},
		{Version: "v1", Resource: "pods"},
		{Group: "apps", Version: "v1", Resource: "deployments"},
	} {
		l, err := meta.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("listing %s: %v", gvr.Resource, err)
		}
		if len(l.Items) != 0 {
			t.Errorf("%s left in deleted namespace: %d", gvr.Resource, len(l.Items))
		}
	}
	if _, err := client.CoreV1().ConfigMaps(bystander).Get(ctx, "keep", metav1.GetOptions{}); err != nil {
		t.Errorf("configmap in another namespace: %v", err)
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, bystander, metav1.GetOptions{}); err != nil {
		t.Errorf("other namespace: %v", err)
	}
}

func TestFinalizerKeepsNamespaceTerminating(t *testing.T) {
	ctx := context.Background()
	client, _ := startController(t, startAPIServer(t))
	const ns, finalizer = "held", "example.com/hold"
	createNamespace(t, client, ns)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{finalizer}}}
	if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	want := map[corev1.NamespaceConditionType]struct {
		status  corev1.ConditionStatus
		reason  string
		message string
	}{
		corev1.NamespaceDeletionDiscoveryFailure: {corev1.ConditionFalse, "ResourcesDiscovered", ""},
		corev1.NamespaceDeletionContentFailure:   {corev1.ConditionFalse, "ContentDeleted", ""},
		corev1.NamespaceContentRemaining:         {corev1.ConditionTrue, "SomeResourcesRemain", "configmaps has 1 resource instances"},
		corev1.NamespaceFinalizersRemaining:      {corev1.ConditionTrue, "SomeFinalizersRemain", finalizer + " in 1 resource instances"},
	}
	eventually(t, 30*time.Second, func() error {
		got, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.Phase != corev1.NamespaceTerminating {
			return fmt.Errorf("phase %s, want Terminating", got.Status.Phase)
		}
		for typ, w := range want {
			c := findCondition(got.Status.Conditions, typ)
			if c == nil {
				return fmt.Errorf("no %s condition in %+v", typ, got.Status.Conditions)
			}
			if c.Status != w.status || c.Reason != w.reason || !strings.Contains(c.Message, w.message) || c.LastTransitionTime.IsZero() {
				return fmt.Errorf("%s = %s/%s %q (at %v), want %s/%s containing %q", typ, c.Status, c.Reason, c.Message, c.LastTransitionTime, w.status, w.reason, w.message)
			}
		}
		return nil
	})
	// The configmap is being deleted but held by its finalizer.
	got, err := client.CoreV1().ConfigMaps(ns).Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.DeletionTimestamp == nil {
		t.Errorf("configmap with finalizer has no deletionTimestamp")
	}
	// New content is refused while the namespace terminates.
	_, err = client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("create in terminating namespace: got %v, want Forbidden", err)
	}

	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := client.CoreV1().ConfigMaps(ns).Patch(ctx, "held", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, namespaceGone(client, ns))
}

func findCondition(conds []corev1.NamespaceCondition, t corev1.NamespaceConditionType) *corev1.NamespaceCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
