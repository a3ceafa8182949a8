package resourcequota

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/k1s/k1s/internal/quota"
	"github.com/k1s/k1s/internal/testcluster"
)

// harness is an api-server and a controller on it, not yet running.
type harness struct {
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	c       *Controller
}

func newHarness(t *testing.T, cfg *rest.Config, resync time.Duration) *harness {
	t.Helper()
	client := kubernetes.NewForConfigOrDie(cfg)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Options{
		Client:                 client,
		ResourceQuotas:         factory.Core().V1().ResourceQuotas(),
		Pods:                   factory.Core().V1().Pods(),
		Services:               factory.Core().V1().Services(),
		PersistentVolumeClaims: factory.Core().V1().PersistentVolumeClaims(),
		ConfigMaps:             factory.Core().V1().ConfigMaps(),
		Secrets:                factory.Core().V1().Secrets(),
		Metadata:               metadata.NewForConfigOrDie(cfg),
		Discovery:              client.Discovery(),
		ResyncPeriod:           resync,
		Logger:                 testcluster.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{client: client, factory: factory, c: c}
}

// run starts the informers and the controller until the test ends.
func (h *harness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.c.Run(ctx) }()
	h.factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		h.factory.Shutdown()
	})
}

func rl(s string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		out[corev1.ResourceName(k)] = resource.MustParse(v)
	}
	return out
}

func format(l corev1.ResourceList) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(l)) {
		q := l[name]
		parts = append(parts, string(name)+"="+q.String())
	}
	return strings.Join(parts, ",")
}

func createNamespace(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func newPod(name, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: rl("cpu=" + cpu), Limits: rl("cpu=" + cpu)},
		}}},
	}
}

// statusIs waits until the quota's status is hard=spec.hard, used=want.
func statusIs(t *testing.T, client kubernetes.Interface, ns, name, want string) {
	t.Helper()
	testcluster.Eventually(t, 15*time.Second, func() error {
		q, err := client.CoreV1().ResourceQuotas(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !quota.Equal(q.Status.Hard, q.Spec.Hard) {
			return fmt.Errorf("status.hard = %s, want %s", format(q.Status.Hard), format(q.Spec.Hard))
		}
		if !quota.Equal(q.Status.Used, rl(want)) {
			return fmt.Errorf("status.used = %s, want %s", format(q.Status.Used), want)
		}
		return nil
	})
}

func TestCountsAndReleases(t *testing.T) {
	cfg := testcluster.StartAPIServer(t)
	h := newHarness(t, cfg, time.Hour) // no resync: every change below is seen through events
	h.run(t)
	ctx, client := context.Background(), h.client
	createNamespace(t, client, "team")
	createNamespace(t, client, "other")

	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: "team"},
		Spec: corev1.ResourceQuotaSpec{Hard: rl("pods=5,count/pods=10,requests.cpu=2,limits.cpu=4,services=2," +
			"services.nodeports=4,persistentvolumeclaims=3,requests.storage=10Gi,configmaps=5,secrets=5,resourcequotas=2," +
			"count/deployments.apps=2,replicationcontrollers=1")},
	}
	if _, err := client.CoreV1().ResourceQuotas("team").Create(ctx, q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const empty = "pods=0,count/pods=0,requests.cpu=0,limits.cpu=0,services=0,services.nodeports=0," +
		"persistentvolumeclaims=0,requests.storage=0,configmaps=0,secrets=0,resourcequotas=1,count/deployments.apps=0,replicationcontrollers=0"
	statusIs(t, client, "team", "compute", empty)

	// Objects in another namespace cost nothing here.
	if _, err := client.CoreV1().Pods("other").Create(ctx, newPod("elsewhere", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{newPod("a", "500m"), newPod("b", "250m"), newPod("c", "250m")} {
		if _, err := client.CoreV1().Pods("team").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "https", Port: 443}}},
	}
	if _, err := client.CoreV1().Services("team").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: rl("storage=3Gi")},
		},
	}
	if _, err := client.CoreV1().PersistentVolumeClaims("team").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ConfigMaps("team").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	statusIs(t, client, "team", "compute", "pods=3,count/pods=3,requests.cpu=1,limits.cpu=1,services=1,services.nodeports=2,"+
		"persistentvolumeclaims=1,requests.storage=3Gi,configmaps=1,secrets=0,resourcequotas=1,count/deployments.apps=0,replicationcontrollers=0")

	// A deleted pod is released at once; a finished one keeps only its count.
	if err := client.CoreV1().Pods("team").Delete(ctx, "a", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	b, err := client.CoreV1().Pods("team").Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Status.Phase = corev1.PodSucceeded
	if _, err := client.CoreV1().Pods("team").UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Services("team").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	statusIs(t, client, "team", "compute", "pods=1,count/pods=2,requests.cpu=250m,limits.cpu=250m,services=0,services.nodeports=0,"+
		"persistentvolumeclaims=1,requests.storage=3Gi,configmaps=1,secrets=0,resourcequotas=1,count/deployments.apps=0,replicationcontrollers=0")

	// Resources without an informer are listed when the quota is recounted,
	// here because its spec changed; a second quota counts as a quota.
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments("team").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	scoped := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "best-effort", Namespace: "team"},
		Spec:       corev1.ResourceQuotaSpec{Hard: rl("pods=3"), Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}},
	}
	if _, err := client.CoreV1().ResourceQuotas("team").Create(ctx, scoped, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	statusIs(t, client, "team", "best-effort", "pods=0")
	// The controller is writing the status meanwhile (resourcequotas=2).
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := client.CoreV1().ResourceQuotas("team").Get(ctx, "compute", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Hard[corev1.ResourceSecrets] = resource.MustParse("6")
		_, err = client.CoreV1().ResourceQuotas("team").Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	statusIs(t, client, "team", "compute", "pods=1,count/pods=2,requests.cpu=250m,limits.cpu=250m,services=0,services.nodeports=0,"+
		"persistentvolumeclaims=1,requests.storage=3Gi,configmaps=1,secrets=0,resourcequotas=2,count/deployments.apps=1,replicationcontrollers=0")

	// A best-effort pod is charged to the scoped quota too. (Admission
	// refuses pods without cpu requests and limits while a quota
	// constrains them: drop those first.)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := client.CoreV1().ResourceQuotas("team").Get(ctx, "compute", metav1.GetOptions{})
		if err != nil {
			return err
		}
		delete(cur.Spec.Hard, corev1.ResourceRequestsCPU)
		delete(cur.Spec.Hard, corev1.ResourceLimitsCPU)
		_, err = client.CoreV1().ResourceQuotas("team").Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	statusIs(t, client, "team", "compute", "pods=1,count/pods=2,services=0,services.nodeports=0,"+
		"persistentvolumeclaims=1,requests.storage=3Gi,configmaps=1,secrets=0,resourcequotas=2,count/deployments.apps=1,replicationcontrollers=0")
	bePod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "be"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
	if _, err := client.CoreV1().Pods("team").Create(ctx, bePod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	statusIs(t, client, "team", "best-effort", "pods=1")
	statusIs(t, client, "team", "compute", "pods=2,count/pods=3,services=0,services.nodeports=0,"+
		"persistentvolumeclaims=1,requests.storage=3Gi,configmaps=1,secrets=0,resourcequotas=2,count/deployments.apps=1,replicationcontrollers=0")
}

func TestResyncRestoresUsage(t *testing.T) {
	cfg := testcluster.StartAPIServer(t)
	h := newHarness(t, cfg, 200*time.Millisecond)
	h.run(t)
	ctx, client := context.Background(), h.client
	createNamespace(t, client, "team")
	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "team"},
		Spec:       corev1.ResourceQuotaSpec{Hard: rl("pods=5,count/deployments.apps=3")},
	}
	if _, err := client.CoreV1().ResourceQuotas("team").Create(ctx, q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	statusIs(t, client, "team", "q", "pods=0,count/deployments.apps=0")

	// Usage charged but never stored (a write admitted, then failed) and
	// objects without informers are both fixed by the periodic recount.
	cur, err := client.CoreV1().ResourceQuotas("team").Get(ctx, "q", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.Used = rl("pods=4,count/deployments.apps=0")
	if _, err := client.CoreV1().ResourceQuotas("team").UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments("team").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	statusIs(t, client, "team", "q", "pods=0,count/deployments.apps=1")
}

// TestWritesOnlyChanges reconciles by hand: a second reconcile of an
// unchanged quota writes nothing.
func TestWritesOnlyChanges(t *testing.T) {
	cfg := testcluster.StartAPIServer(t)
	h := newHarness(t, cfg, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); h.factory.Shutdown() })
	h.factory.Start(ctx.Done())
	client := h.client
	createNamespace(t, client, "team")
	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "team"},
		Spec:       corev1.ResourceQuotaSpec{Hard: rl("pods=5,secrets=5")},
	}
	if _, err := client.CoreV1().ResourceQuotas("team").Create(ctx, q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cached := func(rv string) func() error {
		return func() error {
			q, err := h.c.quotas.ResourceQuotas("team").Get("q")
			if err != nil {
				return err
			}
			if rv != "" && q.ResourceVersion != rv {
				return fmt.Errorf("cached resourceVersion %s, want %s", q.ResourceVersion, rv)
			}
			return nil
		}
	}
	testcluster.Eventually(t, 10*time.Second, cached(""))
	if err := h.c.reconcile(ctx, "team/q"); err != nil {
		t.Fatal(err)
	}
	written, err := client.CoreV1().ResourceQuotas("team").Get(ctx, "q", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := rl("pods=0,secrets=0"); !quota.Equal(written.Status.Used, want) {
		t.Fatalf("status.used = %s, want %s", format(written.Status.Used), format(want))
	}
	testcluster.Eventually(t, 10*time.Second, cached(written.ResourceVersion))
	if err := h.c.reconcile(ctx, "team/q"); err != nil {
		t.Fatal(err)
	}
	again, err := client.CoreV1().ResourceQuotas("team").Get(ctx, "q", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != written.ResourceVersion {
		t.Errorf("unchanged quota written again: resourceVersion %s -> %s", written.ResourceVersion, again.ResourceVersion)
	}
	if err := h.c.reconcile(ctx, "team/gone"); err != nil {
		t.Errorf("reconcile of a deleted quota: %v", err)
	}
}

func TestOptions(t *testing.T) {
	client := kubernetes.NewForConfigOrDie(&rest.Config{Host: "https://127.0.0.1:1"})
	factory := informers.NewSharedInformerFactory(client, 0)
	full := func() Options {
		return Options{
			Client:                 client,
			ResourceQuotas:         factory.Core().V1().ResourceQuotas(),
			Pods:                   factory.Core().V1().Pods(),
			Services:               factory.Core().V1().Services(),
			PersistentVolumeClaims: factory.Core().V1().PersistentVolumeClaims(),
		}
	}
	tests := []struct {
		name   string
		edit   func(*Options)
		wantOK bool
	}{
		{"minimal", func(*Options) {}, true},
		{"no client", func(o *Options) { o.Client = nil }, false},
		{"no pods", func(o *Options) { o.Pods = nil }, false},
		{"metadata without discovery", func(o *Options) { o.Metadata = metadata.NewForConfigOrDie(&rest.Config{Host: "https://127.0.0.1:1"}) }, false},
		{"negative resync", func(o *Options) { o.ResyncPeriod = -time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := full()
			tt.edit(&o)
			c, err := New(o)
			if (err == nil) != tt.wantOK {
				t.Fatalf("New: err = %v, want ok %v", err, tt.wantOK)
			}
			if err == nil && c.resync != 5*time.Minute {
				t.Errorf("default resync = %v, want 5m", c.resync)
			}
		})
	}
}
