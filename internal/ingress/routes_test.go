package ingress

import (
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Fixtures shared by the unit tests and the end-to-end tests.

func ptr[T any](v T) *T { return &v }

type testPath struct {
	path    string
	typ     networkingv1.PathType
	service string
}

func ingressObj(ns, name string, class *string, host string, paths ...testPath) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       networkingv1.IngressSpec{IngressClassName: class},
	}
	rule := networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
	for _, p := range paths {
		rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{
			Path: p.path, PathType: ptr(p.typ), Backend: serviceBackend(p.service),
		})
	}
	if len(paths) > 0 {
		ing.Spec.Rules = []networkingv1.IngressRule{rule}
	}
	return ing
}

func serviceBackend(name string) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: name, Port: networkingv1.ServiceBackendPort{Number: 80},
	}}
}

func serviceObj(ns, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}
}

// sliceObj makes an EndpointSlice of a service with port "http" = port;
// every address is ready unless listed in notReady.
func sliceObj(ns, name, service string, port int32, addrs []string, notReady ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(port)}},
	}
	for _, a := range addrs {
		ready := true
		for _, n := range notReady {
			if n == a {
				ready = false
			}
		}
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(ready)}})
	}
	return s
}

func TestLookup(t *testing.T) {
	k1s := ptr("k1s")
	exact, prefix, impl := networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific
	old := ingressObj("ns", "old", k1s, "my-app.com",
		testPath{"/", prefix, "root"},
		testPath{"/foo", prefix, "foo-prefix"},
		testPath{"/foo", exact, "foo-exact"},
		testPath{"/foo/bar/", prefix, "foobar"},
		testPath{"/impl", impl, "impl"},
	)
	old.CreationTimestamp = metav1.NewTime(time.Unix(1000, 0))
	old.Spec.DefaultBackend = ptr(serviceBackend("default"))
	newer := ingressObj("ns", "newer", k1s, "my-app.com", testPath{"/foo", exact, "loser"})
	newer.CreationTimestamp = metav1.NewTime(time.Unix(2000, 0))
	newer.Spec.DefaultBackend = ptr(serviceBackend("default-loser"))
	wild := ingressObj("ns", "wild", k1s, "*.my-app.com", testPath{"/", prefix, "wild"})
	api := ingressObj("ns", "api", k1s, "api.my-app.com", testPath{"/v1", prefix, "api"})
	anyHost := ingressObj("ns", "any", k1s, "", testPath{"/catchall", prefix, "catchall"})
	other := ingressObj("ns", "other", ptr("nginx"), "other.com", testPath{"/", prefix, "other"})

	tb := buildTable(input{className: "k1s", ingresses: []*networkingv1.Ingress{newer, old, wild, api, anyHost, other}}, nil)
	tests := []struct {
		host, path string
		want       string // service, "" for 404
	}{
		{"my-app.com", "/", "root"},
		{"MY-APP.com:8080", "/x", "root"},
		{"my-app.com.", "/x", "root"},
		{"my-app.com", "/foo", "foo-exact"},
		{"my-app.com", "/foo/", "foo-prefix"},
		{"my-app.com", "/foo/baz", "foo-prefix"},
		{"my-app.com", "/foobar", "root"},
		{"my-app.com", "/foo/bar", "foobar"},
		{"my-app.com", "/foo/bar/", "foobar"},
		{"my-app.com", "/foo/bar/x", "foobar"},
		{"my-app.com", "/foo/barx", "foo-prefix"},
		{"my-app.com", "/impl/x", "impl"},
		{"api.my-app.com", "/v1", "api"},
		{"api.my-app.com", "/v1/users", "api"},
		{"api.my-app.com", "/v2", "wild"}, // no exact-host path: wildcard next
		{"www.my-app.com", "/anything", "wild"},
		{"a.b.my-app.com", "/anything", "default"}, // wildcard matches one label only
		{"x.com", "/catchall/y", "catchall"},
		{"x.com", "/nothing", "default"},
		{"other.com", "/", "default"}, // other class: not ours
	}
	for _, tt := range tests {
		got := ""
		if r := tb.lookup(tt.host, tt.path); r != nil {
			got = r.service
		}
		if got != tt.want {
			t.Errorf("lookup(%q, %q) = %q, want %q", tt.host, tt.path, got, tt.want)
		}
	}

	noDefault := buildTable(input{className: "k1s", ingresses: []*networkingv1.Ingress{api}}, nil)
	if r := noDefault.lookup("my-app.com", "/"); r != nil {
		t.Errorf("lookup without default backend = %q, want no route", r.service)
	}
}

func TestIsOurs(t *testing.T) {
	ours := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "k1s"}, Spec: networkingv1.IngressClassSpec{Controller: ControllerName}}
	oursDefault := ours.DeepCopy()
	oursDefault.Annotations = map[string]string{defaultClassAnnotation: "true"}
	tests := []struct {
		name       string
		class      *string
		annotation string
		classes    []*networkingv1.IngressClass
		want       bool
	}{
		{"by class name", ptr("k1s"), "", nil, true},
		{"other class", ptr("nginx"), "", []*networkingv1.IngressClass{oursDefault}, false},
		{"no class, ours not default", nil, "", []*networkingv1.IngressClass{ours}, false},
		{"no class, ours default", nil, "", []*networkingv1.IngressClass{oursDefault}, true},
		{"legacy annotation", nil, "k1s", nil, true},
		{"legacy annotation other", nil, "nginx", []*networkingv1.IngressClass{oursDefault}, false},
	}
	for _, tt := range tests {
		ing := ingressObj("ns", "i", tt.class, "h", testPath{"/", networkingv1.PathTypePrefix, "s"})
		if tt.annotation != "" {
			ing.Annotations = map[string]string{legacyClassAnnotation: tt.annotation}
		}
		if got := isOurs(ing, "k1s", tt.classes); got != tt.want {
			t.Errorf("%s: isOurs = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEndpointResolution(t *testing.T) {
	svc := serviceObj("ns", "web")
	svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "admin", Port: 9000})
	ing := ingressObj("ns", "i", ptr("k1s"), "web.com", testPath{"/", networkingv1.PathTypePrefix, "web"})
	byName := ingressObj("ns", "j", ptr("k1s"), "admin.com")
	byName.Spec.Rules = []networkingv1.IngressRule{{Host: "admin.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
		Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Name: "admin"}},
		}}},
	}}}}
	missing := ingressObj("ns", "k", ptr("k1s"), "missing.com", testPath{"/", networkingv1.PathTypePrefix, "nope"})
	a := sliceObj("ns", "web-a", "web", 8080, []string{"10.42.0.1", "10.42.0.2"}, "10.42.0.2")
	a.Ports = append(a.Ports, discoveryv1.EndpointPort{Name: ptr("admin"), Port: ptr[int32](9090)})
	b := sliceObj("ns", "web-b", "web", 8080, []string{"10.42.1.1", "10.42.0.1"})
	in := input{className: "k1s", ingresses: []*networkingv1.Ingress{ing, byName, missing},
		services: []*corev1.Service{svc}, slices: []*discoveryv1.EndpointSlice{a, b}}
	tb := buildTable(in, nil)

	addrs := func(host string) string {
		r := tb.lookup(host, "/")
		if r == nil {
			return "404"
		}
		if r.pool.empty() {
			return "503"
		}
		var s []string
		for _, e := range r.pool.endpoints {
			s = append(s, e.addr)
		}
		return fmt.Sprint(s)
	}
	if got, want := addrs("web.com"), "[10.42.0.1:8080 10.42.1.1:8080]"; got != want {
		t.Errorf("web.com endpoints = %s, want %s", got, want)
	}
	if got, want := addrs("admin.com"), "[10.42.0.1:9090]"; got != want {
		t.Errorf("admin.com endpoints = %s, want %s", got, want)
	}
	if got, want := addrs("missing.com"), "503"; got != want {
		t.Errorf("missing.com endpoints = %s, want %s", got, want)
	}

	// A rebuild keeps the counters of endpoints that stay.
	e := tb.lookup("web.com", "/").pool.endpoints[0]
	e.outstanding.Add(3)
	tb2 := buildTable(in, tb)
	if got := tb2.lookup("web.com", "/").pool.endpoints[0]; got != e {
		t.Errorf("rebuilt endpoint %p, want the same %p", got, e)
	}
}

func TestPickLeastOutstanding(t *testing.T) {
	a, b, c := &endpoint{addr: "a"}, &endpoint{addr: "b"}, &endpoint{addr: "c"}
	p := &pool{endpoints: []*endpoint{a, b, c}}
	now := time.Unix(100, 0)
	counts := map[string]int{}
	for range 30 {
		counts[p.pick(nil, now).addr]++
	}
	if counts["a"] != 10 || counts["b"] != 10 || counts["c"] != 10 {
		t.Errorf("30 outstanding picks over 3 endpoints = %v, want 10 each", counts)
	}
	b.done()
	if got := p.pick(nil, now); got != b {
		t.Errorf("pick after b finished one = %s, want b", got.addr)
	}
	if got := p.pick([]*endpoint{a, b}, now); got != c {
		t.Errorf("pick excluding a, b = %s, want c", got.addr)
	}
	if got := p.pick([]*endpoint{a, b, c}, now); got != nil {
		t.Errorf("pick excluding all = %s, want none", got.addr)
	}
	// An ejected endpoint is chosen only when nothing else is left.
	fresh := &pool{endpoints: []*endpoint{{addr: "x"}, {addr: "y"}}}
	fresh.endpoints[0].eject(now)
	fresh.endpoints[1].outstanding.Add(5)
	if got := fresh.pick(nil, now); got.addr != "y" {
		t.Errorf("pick with x ejected = %s, want y", got.addr)
	}
	if got := fresh.pick([]*endpoint{fresh.endpoints[1]}, now); got.addr != "x" {
		t.Errorf("pick with only ejected x left = %v, want x", got)
	}
	if got := fresh.pick(nil, now.Add(ejectFor+time.Second)); got.addr != "x" {
		t.Errorf("pick after ejection ended = %s, want x", got.addr)
	}
}

func TestCertificateBySNI(t *testing.T) {
	exactCert, wildCert := &tls.Certificate{}, &tls.Certificate{}
	tb := &table{
		certs:     map[string]*tls.Certificate{"my-app.com": exactCert, "api.my-app.com": exactCert},
		wildCerts: map[string]*tls.Certificate{"my-app.com": wildCert},
	}
	tests := []struct {
		sni  string
		want *tls.Certificate
	}{
		{"my-app.com", exactCert},
		{"API.my-app.com", exactCert},
		{"www.my-app.com", wildCert},
		{"a.www.my-app.com", nil},
		{"other.com", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := tb.certificate(tt.sni); got != tt.want {
			t.Errorf("certificate(%q) = %p, want %p", tt.sni, got, tt.want)
		}
	}
}
