package apiserver_test

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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

func mustNamespace(t *testing.T, ts *testServer, name string) {
	t.Helper()
	_, err := ts.client().CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConfigMapCRUD(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client()
	mustNamespace(t, ts, "crud")
	cms := c.CoreV1().ConfigMaps("crud")

	created, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"k": "v"}}, Data: map[string]string{"x": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
		t.Errorf("system fields not set: %+v", created.ObjectMeta)
	}
	if _, err := cms.Create(ctx, created, metav1.CreateOptions{}); !apierrors.IsBadRequest(err) {
		t.Errorf("create with resourceVersion: got %v, want BadRequest", err)
	}
	fresh := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
	if _, err := cms.Create(ctx, fresh, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("duplicate create: got %v, want AlreadyExists", err)
	}

	got, err := cms.Get(ctx, "a", metav1.GetOptions{})
	if err != nil || got.Data["x"] != "1" {
		t.Fatalf("get: %v %+v", err, got)
	}

	got.Data["x"] = "2"
	updated, err := cms.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion == got.ResourceVersion {
		t.Errorf("resourceVersion not bumped by update")
	}
	got.Data["x"] = "3" // stale resourceVersion
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale update: got %v, want Conflict", err)
	}

	for i := 0; i < 5; i++ {
		_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-", Labels: map[string]string{"batch": "yes"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "batch=yes"})
	if err != nil || len(list.Items) != 5 {
		t.Fatalf("label selector list: %v, %d items", err, len(list.Items))
	}
	for _, cm := range list.Items {
		if !strings.HasPrefix(cm.Name, "gen-") || len(cm.Name) != len("gen-")+5 {
			t.Errorf("generated name %q", cm.Name)
		}
	}
	list, err = cms.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=a"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("field selector list: %v %d", err, len(list.Items))
	}
	if _, err := cms.List(ctx, metav1.ListOptions{FieldSelector: "spec.bogus=a"}); !apierrors.IsBadRequest(err) {
		t.Errorf("unsupported field selector: got %v, want BadRequest", err)
	}

	// Pagination.
	var names []string
	opts := metav1.ListOptions{Limit: 2}
	pages := 0
	for {
		page, err := cms.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, cm := range page.Items {
			names = append(names, cm.Name)
		}
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}
	if len(names) != 6 || pages != 3 {
		t.Errorf("paginated list: %d names in %d pages: %v", len(names), pages, names)
	}

	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
	if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "batch=yes"}); err != nil {
		t.Fatal(err)
	}
	list, _ = cms.List(ctx, metav1.ListOptions{})
	if len(list.Items) != 0 {
		t.Errorf("after deletecollection: %d left", len(list.Items))
	}
}

func TestDryRun(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry", Namespace: "default"}}
	out, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || out.UID == "" {
		t.Fatalf("dry-run create: %v %+v", err, out)
	}
	if _, err := c.CoreV1().ConfigMaps("default").Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dry-run create persisted: %v", err)
	}
}

func TestFinalizersBlockDeletion(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cms := ts.client().CoreV1().ConfigMaps("default")
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "f", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "f", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx, "f", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("object with finalizer: %v, deletionTimestamp %v", err, got.DeletionTimestamp)
	}
	got.Finalizers = append(got.Finalizers, "example.com/new")
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("adding a finalizer while deleting: got %v, want Invalid", err)
	}
	got.Finalizers = nil
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "f", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after last finalizer removed: %v", err)
	}
}

func TestPodGracefulDeletionAndBinding(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	pods := ts.client().CoreV1().Pods("default")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Status.Phase != corev1.PodPending || created.Spec.RestartPolicy != corev1.RestartPolicyAlways || created.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("pod defaults: phase=%q restartPolicy=%q qos=%q", created.Status.Phase, created.Spec.RestartPolicy, created.Status.QOSClass)
	}
	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-2"}}, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("second binding: got %v, want Conflict", err)
	}
	bound, _ := pods.Get(ctx, "p", metav1.GetOptions{})
	if bound.Spec.NodeName != "node-1" {
		t.Errorf("nodeName = %q", bound.Spec.NodeName)
	}
	// A bound pod is deleted gracefully: it stays until the kubelet confirms.
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	terminating, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil || terminating.DeletionTimestamp == nil || *terminating.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("graceful delete: %v %+v", err, terminating.ObjectMeta)
	}
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after grace 0: %v", err)
	}
	// Spec is immutable but for images.
	created, err = pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Spec.Containers[0].Image = "busybox:2"
	created, err = pods.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("image update: %v", err)
	}
	created.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := pods.Update(ctx, created, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("restartPolicy update: got %v, want Invalid", err)
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client()
	mustNamespace(t, ts, "doomed")
	if err := c.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := c.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("deleted namespace: %v phase=%q", err, ns.Status.Phase)
	}
	_, err = c.CoreV1().ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "being terminated") {
		t.Errorf("create in terminating namespace: %v", err)
	}
	ns.Spec.Finalizers = nil
	if _, err := c.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("finalized namespace still there: %v", err)
	}
	if err := c.CoreV1().Namespaces().Delete(ctx, "default", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("deleting default: got %v, want Forbidden", err)
	}
}

func TestStatusAndScaleSubresources(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	deps := ts.client().AppsV1().Deployments("default")
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "d"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "d"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	created, err := deps.Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Generation != 1 || *created.Spec.Replicas != 1 {
		t.Errorf("generation=%d replicas=%d", created.Generation, *created.Spec.Replicas)
	}
	// Status update ignores spec.
	created.Status.Replicas = 3
	created.Spec.Paused = true
	st, err := deps.UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.Replicas != 3 || st.Spec.Paused || st.Generation != 1 {
		t.Errorf("status update: status.replicas=%d paused=%v generation=%d", st.Status.Replicas, st.Spec.Paused, st.Generation)
	}
	// Main update ignores status, bumps generation on spec change.
	st.Status.Replicas = 9
	st.Spec.MinReadySeconds = 4
	up, err := deps.Update(ctx, st, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if up.Status.Replicas != 3 || up.Generation != 2 {
		t.Errorf("main update: status.replicas=%d generation=%d", up.Status.Replicas, up.Generation)
	}
	// Label-only change keeps generation.
	up.Labels = map[string]string{"x": "y"}
	up, err = deps.Update(ctx, up, metav1.UpdateOptions{})
	if err != nil || up.Generation != 2 {
		t.Errorf("metadata update: %v generation=%d", err, up.Generation)
	}
	scale, err := deps.GetScale(ctx, "d", metav1.GetOptions{})
	if err != nil || scale.Spec.Replicas != 1 || scale.Status.Selector != "app=d" {
		t.Fatalf("get scale: %v %+v", err, scale)
	}
	scale.Spec.Replicas = 5
	if _, err := deps.UpdateScale(ctx, "d", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := deps.Get(ctx, "d", metav1.GetOptions{})
	if *got.Spec.Replicas != 5 || got.Generation != 3 {
		t.Errorf("after scale: replicas=%d generation=%d", *got.Spec.Replicas, got.Generation)
	}
	_, err = deps.Patch(ctx, "d", types.MergePatchType, []byte(`{"spec":{"replicas":2}}`), metav1.PatchOptions{}, "scale")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = deps.Get(ctx, "d", metav1.GetOptions{})
	if *got.Spec.Replicas != 2 {
		t.Errorf("after scale patch: replicas=%d", *got.Spec.Replicas)
	}
}

func TestServiceIPAllocation(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	svcs := ts.client().CoreV1().Services("default")
	mk := func(name string, typ corev1.ServiceType, ip string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
			Type: typ, ClusterIP: ip, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80}},
		}}
	}
	a, err := svcs.Create(ctx, mk("a", "", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.Spec.ClusterIP, "10.43.") {
		t.Errorf("clusterIP %q not from 10.43.0.0/16", a.Spec.ClusterIP)
	}
	if _, err := svcs.Create(ctx, mk("b", "", a.Spec.ClusterIP), metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("duplicate clusterIP: got %v, want Invalid", err)
	}
	if _, err := svcs.Create(ctx, mk("c", "", "192.168.1.1"), metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("clusterIP outside range: got %v, want Invalid", err)
	}
	h, err := svcs.Create(ctx, mk("h", "", "None"), metav1.CreateOptions{})
	if err != nil || h.Spec.ClusterIP != "None" {
		t.Errorf("headless: %v %q", err, h.Spec.ClusterIP)
	}
	np, err := svcs.Create(ctx, mk("np", corev1.ServiceTypeNodePort, ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := np.Spec.Ports[0].NodePort; p < 30000 || p > 32767 {
		t.Errorf("nodePort %d", p)
	}
	if err := svcs.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The released IP can be requested again.
	if _, err := svcs.Create(ctx, mk("d", "", a.Spec.ClusterIP), metav1.CreateOptions{}); err != nil {
		t.Errorf("reusing released IP: %v", err)
	}
}

func TestWatchSemantics(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cms := ts.client().CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w0"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Changes after first's version are replayed in order.
	for i := 1; i <= 3; i++ {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for i := 1; i <= 3; i++ {
		select {
		case ev := <-w.ResultChan():
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if ev.Type != watch.Added || !ok || cm.Name != fmt.Sprintf("w%d", i) {
				t.Fatalf("event %d: %s %#v", i, ev.Type, ev.Object)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event %d", i)
		}
	}
	// A version older than the cache's window is gone: 410. After a
	// restart the window starts at the current revision.
	ts.restart()
	w2, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "1"})
	if err == nil {
		select {
		case ev := <-w2.ResultChan():
			st, ok := ev.Object.(*metav1.Status)
			if ev.Type != watch.Error || !ok || st.Code != 410 {
				t.Errorf("watch from rv 1: %s %#v, want 410 error event", ev.Type, ev.Object)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("watch from rv 1: no event")
		}
		w2.Stop()
	} else if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("watch from rv 1: %v, want 410", err)
	}
}
