package endpointslice_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controller/endpointslice"
)

func startController(t *testing.T, cfg *rest.Config, maxPerSlice int) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := endpointslice.New(endpointslice.Options{
		Client:               client,
		Services:             factory.Core().V1().Services(),
		Pods:                 factory.Core().V1().Pods(),
		EndpointSlices:       factory.Discovery().V1().EndpointSlices(),
		Logger:               testLogger(),
		MaxEndpointsPerSlice: maxPerSlice,
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
func createPod(t *testing.T, client kubernetes.Interface, name, ip string, httpPort int32, ready bool) {
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
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
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

func createService(t *testing.T, client kubernetes.Interface, name string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	svc, err := client.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// summary renders a service's slices as "slices=N ip:port(flags) ...",
// endpoints sorted, plus any problem with their metadata.
func summary(t *testing.T, client kubernetes.Interface, svc string) string {
	t.Helper()
	list, err := client.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + svc,
	})
	if err != nil {
		t.Fatal(err)
	}
	var eps []string
	for _, s := range list.Items {
		if s.Labels[discoveryv1.LabelManagedBy] != "endpointslice-controller.k8s.io" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			return fmt.Sprintf("slice %s: labels %v, address type %s", s.Name, s.Labels, s.AddressType)
		}
		for _, ep := range s.Endpoints {
			var flags []string
			if *ep.Conditions.Ready {
				flags = append(flags, "ready")
			}
			if *ep.Conditions.Terminating {
				flags = append(flags, "terminating")
			}
			for _, p := range s.Ports {
				eps = append(eps, fmt.Sprintf("%s:%d(%s)", ep.Addresses[0], *p.Port, strings.Join(flags, ",")))
			}
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || ep.NodeName == nil || *ep.NodeName != "node-1" {
				return fmt.Sprintf("endpoint %+v lacks its pod or node", ep)
			}
		}
	}
	slices.Sort(eps)
	return fmt.Sprintf("slices=%d %s", len(list.Items), strings.Join(eps, " "))
}

// waitFor polls until the service's slices read want; it returns how
// long that took.
func waitFor(t *testing.T, client kubernetes.Interface, svc, want string) time.Duration {
	t.Helper()
	start := time.Now()
	var got string
	for time.Since(start) < 10*time.Second {
		if got = summary(t, client, svc); got == want {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("slices of %s:\n got %s\nwant %s", svc, got, want)
	return 0
}

func TestSlicesFollowPods(t *testing.T) {
	ctx := context.Background()
	client := startController(t, startAPIServer(t), 0)
	createService(t, client, "web")
	waitFor(t, client, "web", "slices=1 ") // the placeholder

	createPod(t, client, "a", "10.42.0.1", 8080, false)
	createPod(t, client, "b", "10.42.0.2", 9090, true) // the same port name, another number
	waitFor(t, client, "web", "slices=2 10.42.0.1:8080() 10.42.0.2:9090(ready)")

	var worst time.Duration
	for i := range 10 {
		ready := i%2 == 0
		setReady(t, client, "a", ready)
		want := "slices=2 10.42.0.1:8080() 10.42.0.2:9090(ready)"
		if ready {
			want = "slices=2 10.42.0.1:8080(ready) 10.42.0.2:9090(ready)"
		}
		worst = max(worst, waitFor(t, client, "web", want))
	}
	t.Logf("slowest readiness change to reach the slices: %v", worst)
	if worst > time.Second {
		t.Errorf("readiness change took %v to reach the slices", worst)
	}

	// A terminating pod stays, marked, until it is gone. A finalizer
	// holds it here (there is no kubelet to finish it).
	p, err := client.CoreV1().Pods("default").Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Finalizers = []string{"example.com/hold"}
	if _, err := client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods("default").Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, client, "web", "slices=2 10.42.0.1:8080() 10.42.0.2:9090(terminating)")
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := client.CoreV1().Pods("default").Patch(ctx, "b", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods("default").Delete(ctx, "b", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, client, "web", "slices=1 10.42.0.1:8080()")

	// Deleting the service deletes its slices.
	if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, client, "web", "slices=0 ")
}

func TestSlicesSplitWithoutDuplicates(t *testing.T) {
	client := startController(t, startAPIServer(t), 3)
	// Pods arrive one by one while the controller syncs: a stale cache
	// must not make it create a slice twice.
	createService(t, client, "web")
	var want []string
	for i := range 10 {
		ip := fmt.Sprintf("10.42.0.%d", i+10)
		createPod(t, client, fmt.Sprintf("p%d", i), ip, 8080, true)
		want = append(want, ip+":8080(ready)")
	}
	slices.Sort(want)
	waitFor(t, client, "web", "slices=4 "+strings.Join(want, " "))
	list, err := client.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Items {
		if len(s.Endpoints) > 3 {
			t.Errorf("slice %s holds %d endpoints, max 3", s.Name, len(s.Endpoints))
		}
	}
}
