package endpoints

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// pod returns a running pod with an IP and an "http" port.
func pod(name, ip string, ready bool, httpPort int32) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			NodeName:   "node-1",
			Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: httpPort}}}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
}

func service(edit func(*corev1.ServiceSpec)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: corev1.ServiceSpec{
			ClusterIP: "10.43.0.10", IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
		},
	}
	if edit != nil {
		edit(&svc.Spec)
	}
	return svc
}

func addr(p *corev1.Pod) corev1.EndpointAddress {
	return corev1.EndpointAddress{
		IP: p.Status.PodIP, NodeName: new("node-1"),
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: p.Name, UID: p.UID},
	}
}

func TestEndpointsFor(t *testing.T) {
	a := pod("a", "10.42.0.1", true, 8080)
	b := pod("b", "10.42.0.2", false, 8080)
	c := pod("c", "10.42.0.3", true, 9090) // "http" is another number here
	terminating := pod("t", "10.42.0.4", true, 8080)
	now := metav1.Now()
	terminating.DeletionTimestamp = &now
	noIP := pod("n", "", true, 8080)
	done := pod("d", "10.42.0.5", true, 8080)
	done.Status.Phase = corev1.PodSucceeded
	noName := pod("x", "10.42.0.6", true, 8080)
	noName.Spec.Containers[0].Ports[0].Name = "web"
	sub := func(pods ...*corev1.Pod) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, p := range pods {
			out = append(out, addr(p))
		}
		return out
	}
	http := func(port int32) []corev1.EndpointPort {
		return []corev1.EndpointPort{{Name: "http", Port: port, Protocol: corev1.ProtocolTCP}}
	}

	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []corev1.EndpointSubset
	}{
		{"no pods", service(nil), nil, nil},
		{"ready and not ready", service(nil), []*corev1.Pod{b, a}, []corev1.EndpointSubset{
			{Addresses: sub(a), NotReadyAddresses: sub(b), Ports: http(8080)},
		}},
		{"named port resolved per pod", service(nil), []*corev1.Pod{a, c}, []corev1.EndpointSubset{
			{Addresses: sub(a), Ports: http(8080)},
			{Addresses: sub(c), Ports: http(9090)},
		}},
		{"left out: terminating, no IP, terminal, unknown port name", service(nil),
			[]*corev1.Pod{a, terminating, noIP, done, noName}, []corev1.EndpointSubset{
				{Addresses: sub(a), Ports: http(8080)},
			}},
		{"publishNotReadyAddresses", service(func(s *corev1.ServiceSpec) { s.PublishNotReadyAddresses = true }),
			[]*corev1.Pod{a, b, terminating}, []corev1.EndpointSubset{
				{Addresses: sub(a, b, terminating), Ports: http(8080)},
			}},
		{"numeric target port", service(func(s *corev1.ServiceSpec) {
			s.Ports = []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(7000)}}
		}), []*corev1.Pod{a, c}, []corev1.EndpointSubset{
			{Addresses: sub(a, c), Ports: []corev1.EndpointPort{{Port: 7000, Protocol: corev1.ProtocolTCP}}},
		}},
		{"headless without ports", service(func(s *corev1.ServiceSpec) { s.ClusterIP = "None"; s.Ports = nil }),
			[]*corev1.Pod{a, b}, []corev1.EndpointSubset{
				{Addresses: sub(a), NotReadyAddresses: sub(b)},
			}},
		{"not headless without ports", service(func(s *corev1.ServiceSpec) { s.Ports = nil }), []*corev1.Pod{a}, nil},
	}
	for _, tt := range tests {
		got, truncated := endpointsFor(tt.svc, tt.pods)
		if truncated {
			t.Errorf("%s: truncated", tt.name)
		}
		if !apiequality.Semantic.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestEndpointsForHostname(t *testing.T) {
	svc := service(func(s *corev1.ServiceSpec) { s.ClusterIP = "None" })
	p := pod("web-0", "10.42.0.1", true, 8080)
	p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web"
	got, _ := endpointsFor(svc, []*corev1.Pod{p})
	if len(got) != 1 || len(got[0].Addresses) != 1 || got[0].Addresses[0].Hostname != "web-0" {
		t.Errorf("got %+v, want one address with hostname web-0", got)
	}
}

func TestEndpointsForTruncates(t *testing.T) {
	var pods []*corev1.Pod
	for i := range maxAddresses + 10 {
		pods = append(pods, pod(fmt.Sprintf("p%04d", i), fmt.Sprintf("10.42.%d.%d", i/250, i%250+1), i%2 == 0, 8080))
	}
	got, truncated := endpointsFor(service(nil), pods)
	if !truncated {
		t.Fatal("not truncated")
	}
	ready, notReady := len(got[0].Addresses), len(got[0].NotReadyAddresses)
	if ready+notReady != maxAddresses || ready != (maxAddresses+10)/2 {
		t.Errorf("kept %d ready + %d not ready, want all %d ready within %d", ready, notReady, (maxAddresses+10)/2, maxAddresses)
	}
}

func TestLabelsFor(t *testing.T) {
	svc := service(func(s *corev1.ServiceSpec) { s.ClusterIP = "None" })
	svc.Labels = map[string]string{"team": "a"}
	got := labelsFor(svc)
	want := map[string]string{"team": "a", labelHeadless: "", labelManagedBy: managedByValue}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
