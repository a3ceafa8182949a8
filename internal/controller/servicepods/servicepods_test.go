package servicepods

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func webPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": "web"}, ResourceVersion: "1"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP}}},
			},
			InitContainers: []corev1.Container{{Name: "sidecar", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}}}},
		},
		Status: corev1.PodStatus{PodIP: "10.42.0.5", PodIPs: []corev1.PodIP{{IP: "10.42.0.5"}, {IP: "fd00::5"}}, Phase: corev1.PodRunning},
	}
}

func TestTargetPort(t *testing.T) {
	tests := []struct {
		name   string
		sp     corev1.ServicePort
		want   int32
		wantOK bool
	}{
		{"number", corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(8081)}, 8081, true},
		{"unset is the service port", corev1.ServicePort{Port: 80}, 80, true},
		{"name", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}, 8080, true},
		{"name with protocol", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}, 5353, true},
		{"name with the wrong protocol", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns")}, 0, false},
		{"sidecar name", corev1.ServicePort{Port: 90, TargetPort: intstr.FromString("metrics")}, 9090, true},
		{"unknown name", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("grpc")}, 0, false},
	}
	for _, tt := range tests {
		got, ok := TargetPort(webPod(), &tt.sp)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: got %d %v, want %d %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestIsEndpoint(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name               string
		edit               func(*corev1.Pod)
		includeTerminating bool
		want               bool
	}{
		{"running", func(*corev1.Pod) {}, false, true},
		{"no IP", func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "", nil }, false, false},
		{"succeeded", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, true, false},
		{"failed", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }, true, false},
		{"terminating", func(p *corev1.Pod) { p.DeletionTimestamp = &now }, false, false},
		{"terminating included", func(p *corev1.Pod) { p.DeletionTimestamp = &now }, true, true},
	}
	for _, tt := range tests {
		p := webPod()
		tt.edit(p)
		if got := IsEndpoint(p, tt.includeTerminating); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestFamiliesAndPodIP(t *testing.T) {
	tests := []struct {
		name string
		svc  corev1.ServiceSpec
		pod  *corev1.Pod
		want corev1.IPFamily
		ip   string
	}{
		{"ipFamilies", corev1.ServiceSpec{IPFamilies: []corev1.IPFamily{corev1.IPv6Protocol}}, webPod(), corev1.IPv6Protocol, "fd00::5"},
		{"cluster IP", corev1.ServiceSpec{ClusterIP: "10.43.0.9"}, webPod(), corev1.IPv4Protocol, "10.42.0.5"},
		{"headless follows the pod", corev1.ServiceSpec{ClusterIP: "None"}, webPod(), corev1.IPv4Protocol, "10.42.0.5"},
		{"no pod", corev1.ServiceSpec{ClusterIP: "None"}, nil, corev1.IPv4Protocol, ""},
	}
	for _, tt := range tests {
		fam := Families(&corev1.Service{Spec: tt.svc}, tt.pod)[0]
		if fam != tt.want {
			t.Errorf("%s: family %s, want %s", tt.name, fam, tt.want)
		}
		if tt.pod == nil {
			continue
		}
		if got := PodIP(tt.pod, fam); got != tt.ip {
			t.Errorf("%s: ip %q, want %q", tt.name, got, tt.ip)
		}
	}
	onlyPodIP := webPod()
	onlyPodIP.Status.PodIPs = nil
	if got := PodIP(onlyPodIP, corev1.IPv4Protocol); got != "10.42.0.5" {
		t.Errorf("podIP without podIPs: got %q", got)
	}
	if got := PodIP(onlyPodIP, corev1.IPv6Protocol); got != "" {
		t.Errorf("IPv6 of an IPv4-only pod: got %q", got)
	}
}

func TestHostname(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}}
	p := webPod()
	p.Spec.Hostname, p.Spec.Subdomain = "db-0", "db"
	if got := Hostname(p, svc); got != "db-0" {
		t.Errorf("governing service: got %q", got)
	}
	other := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	if got := Hostname(p, other); got != "" {
		t.Errorf("other service: got %q", got)
	}
}

func TestChanged(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name string
		edit func(*corev1.Pod)
		want bool
	}{
		{"resync", func(*corev1.Pod) {}, true},
		{"irrelevant status", func(p *corev1.Pod) { p.ResourceVersion = "2"; p.Status.Message = "x" }, false},
		{"ready", func(p *corev1.Pod) {
			p.ResourceVersion = "2"
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}, true},
		{"labels", func(p *corev1.Pod) { p.ResourceVersion = "2"; p.Labels = map[string]string{"app": "db"} }, true},
		{"terminating", func(p *corev1.Pod) { p.ResourceVersion = "2"; p.DeletionTimestamp = &now }, true},
		{"ip", func(p *corev1.Pod) { p.ResourceVersion = "2"; p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.6"}} }, true},
	}
	for _, tt := range tests {
		cur := webPod()
		tt.edit(cur)
		if got := Changed(webPod(), cur); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestServicesForPod(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, svc := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "db"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: "ns"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "other"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}},
	} {
		if err := idx.Add(svc); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ServicesForPod(corelisters.NewServiceLister(idx), webPod())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "ns/web" {
		t.Errorf("got %v, want [ns/web]", got)
	}
}
