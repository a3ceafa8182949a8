package endpoints_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controller/endpoints"
)

func startController(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := endpoints.New(endpoints.Options{
		Client:    client,
		Services:  factory.Core().V1().Services(),
		Pods:      factory.Core().V1().Pods(),
		Endpoints: factory.Core().V1().Endpoints(),
		Logger:    testLogger(),
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
	return client
}

// createPod creates a pod bound to node-1 whose container calls port
// httpPort "http", then plays the kubelet: it reports the pod running
// with ip, ready or not.
func createPod(t *testing.T, client kubernetes.Interface, name, ip string, httpPort int32, ready bool) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName: "node-1",
			Containers: []corev1.Container{{
				Name: "web", Image: "nginx",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: httpPort}},
			}},
		},
	}
	p, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP, p.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	p.Status.Conditions = []corev1.PodCondition{readyCondition(ready)}
	p, err = client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readyCondition(ready bool) corev1.PodCondition {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return corev1.PodCondition{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}
}

func setReady(t *testing.T, client kubernetes.Interface, name string, ready bool) {
	t.Helper()
	ctx := context.Background()
	p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Conditions = []corev1.PodCondition{readyCondition(ready)}
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// summary renders endpoints as "ready=[ip:port ...] notready=[...]".
func summary(ep *corev1.Endpoints) string {
	var ready, notReady []string
	for _, ss := range ep.Subsets {
		for _, port := range ss.Ports {
			for _, a := range ss.Addresses {
				ready = append(ready, fmt.Sprintf("%s:%d", a.IP, port.Port))
			}
			for _, a := range ss.NotReadyAddresses {
				notReady = append(notReady, fmt.Sprintf("%s:%d", a.IP, port.Port))
			}
		}
	}
	return fmt.Sprintf("ready=%v notready=%v", ready, notReady)
}

// waitFor polls the service's endpoints until their summary is want and
// returns how long that took.
func waitFor(t *testing.T, client kubernetes.Interface, name, want string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		ep, err := client.CoreV1().Endpoints("default").Get(context.Background(), name, metav1.GetOptions{})
		switch {
		case err == nil:
			got = summary(ep)
			if got == want {
				return time.Since(start)
			}
		case !apierrors.IsNotFound(err):
			t.Fatal(err)
		default:
			got = "not found"
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("endpoints %s: got %s, want %s", name, got, want)
	return 0
}

func TestEndpointsFollowPods(t *testing.T) {
	ctx := context.Background()
	client := startController(t, startAPIServer(t))
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, client, "web", "ready=[] notready=[]")

	createPod(t, client, "a", "10.42.0.1", 8080, false)
	createPod(t, client, "b", "10.42.0.2", 9090, true) // the same name, another number
	waitFor(t, client, "web", "ready=[10.42.0.2:9090] notready=[10.42.0.1:8080]")

	// Readiness changes show within milliseconds.
	var worst time.Duration
	for i := range 10 {
		ready := i%2 == 0
		setReady(t, client, "a", ready)
		want := "ready=[10.42.0.2:9090] notready=[10.42.0.1:8080]"
		if ready {
			want = "ready=[10.42.0.1:8080 10.42.0.2:9090] notready=[]"
		}
		worst = max(worst, waitFor(t, client, "web", want))
	}
	t.Logf("slowest readiness change to reach the endpoints: %v", worst)
	if worst > time.Second {
		t.Errorf("readiness change took %v to reach the endpoints", worst)
	}

	ep, err := client.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Labels["tier"] != "front" || ep.Labels["endpoints.kubernetes.io/managed-by"] != "endpoint-controller" {
		t.Errorf("labels %v", ep.Labels)
	}
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			if a.TargetRef == nil || a.TargetRef.Kind != "Pod" || a.NodeName == nil || *a.NodeName != "node-1" {
				t.Errorf("address %+v lacks its pod or node", a)
			}
		}
	}

	setReady(t, client, "a", true)
	waitFor(t, client, "web", "ready=[10.42.0.1:8080 10.42.0.2:9090] notready=[]")

	// A deleted pod leaves the endpoints.
	if err := client.CoreV1().Pods("default").Delete(ctx, "b", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, client, "web", "ready=[10.42.0.1:8080] notready=[]")

	// Hand-edited endpoints are put back.
	ep, err = client.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep.Subsets[0].Addresses[0].IP = "10.42.9.9"
	if _, err := client.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, client, "web", "ready=[10.42.0.1:8080] notready=[]")

	// Deleting the service deletes its endpoints.
	if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		_, err := client.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("endpoints still there (%v)", err)
	})
}

func TestServiceWithoutSelectorLeftAlone(t *testing.T) {
	ctx := context.Background()
	client := startController(t, startAPIServer(t))
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "external", Namespace: "default"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	manual := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "external", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "192.0.2.1"}},
			Ports:     []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}},
		}},
	}
	if _, err := client.CoreV1().Endpoints("default").Create(ctx, manual, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A service with a selector, created after, is handled; by then the
	// selectorless one has been seen too.
	createPod(t, client, "a", "10.42.0.1", 8080, true)
	sel := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, sel, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, client, "web", "ready=[10.42.0.1:8080] notready=[]")
	waitFor(t, client, "external", "ready=[192.0.2.1:80] notready=[]")
	// default/kubernetes is the api-server's: it has no selector.
	ep, err := client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err == nil && ep.Labels["endpoints.kubernetes.io/managed-by"] == "endpoint-controller" {
		t.Errorf("controller took over default/kubernetes endpoints")
	}
}
