package registry

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func networkingTestIngress(mutate func(*networkingv1.Ingress)) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: networkingv1.IngressSpec{
			IngressClassName: new("traefik"),
			Rules: []networkingv1.IngressRule{{
				Host: "example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path: "/", PathType: new(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80},
						}},
					}},
				}},
			}},
		},
	}
	if mutate != nil {
		mutate(ing)
	}
	return ing
}

func TestIngressValidate(t *testing.T) {
	r := groupTestResource(t, "networking.k8s.io", "ingresses")
	path := func(ing *networkingv1.Ingress) *networkingv1.HTTPIngressPath {
		return &ing.Spec.Rules[0].HTTP.Paths[0]
	}
	for _, tc := range []struct {
		name   string
		mutate func(*networkingv1.Ingress)
		want   []string
	}{
		{name: "valid"},
		{name: "wildcard host", mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].Host = "*.example.com" }},
		{name: "no host", mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].Host = "" }},
		{name: "named port", mutate: func(ing *networkingv1.Ingress) {
			path(ing).Backend.Service.Port = networkingv1.ServiceBackendPort{Name: "http"}
		}},
		{name: "resource backend", mutate: func(ing *networkingv1.Ingress) {
			path(ing).Backend = networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
				APIGroup: new("k8s.example.com"), Kind: "StorageBucket", Name: "static",
			}}
		}},
		{name: "default backend only", mutate: func(ing *networkingv1.Ingress) {
			ing.Spec.DefaultBackend = &path(ing).Backend
			ing.Spec.Rules = nil
		}},
		{name: "nothing to route", mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules = nil },
			want: []string{"spec: Invalid value"}},
		{name: "ip host", mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].Host = "10.0.0.1" },
			want: []string{"spec.rules[0].host: Invalid value"}},
		{name: "inner wildcard", mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].Host = "foo.*.com" },
			want: []string{"spec.rules[0].host: Invalid value"}},
		{name: "upper-case host", mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].Host = "Example.com" },
			want: []string{"spec.rules[0].host: Invalid value"}},
		{name: "no paths", mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].HTTP.Paths = nil },
			want: []string{"spec.rules[0].http.paths: Required value"}},
		{name: "no pathType", mutate: func(ing *networkingv1.Ingress) { path(ing).PathType = nil },
			want: []string{"spec.rules[0].http.paths[0].pathType: Required value"}},
		{name: "bad pathType", mutate: func(ing *networkingv1.Ingress) { path(ing).PathType = new(networkingv1.PathType("Regex")) },
			want: []string{"spec.rules[0].http.paths[0].pathType: Unsupported value"}},
		{name: "relative prefix", mutate: func(ing *networkingv1.Ingress) { path(ing).Path = "api" },
			want: []string{"spec.rules[0].http.paths[0].path: Invalid value"}},
		{name: "exact with dot segment", mutate: func(ing *networkingv1.Ingress) {
			path(ing).PathType = new(networkingv1.PathTypeExact)
			path(ing).Path = "/a/../b"
		}, want: []string{"spec.rules[0].http.paths[0].path: Invalid value"}},
		{name: "implementation specific, empty path", mutate: func(ing *networkingv1.Ingress) {
			path(ing).PathType = new(networkingv1.PathTypeImplementationSpecific)
			path(ing).Path = ""
		}},
		{name: "no backend", mutate: func(ing *networkingv1.Ingress) { path(ing).Backend = networkingv1.IngressBackend{} },
			want: []string{"spec.rules[0].http.paths[0].backend: Invalid value"}},
		{name: "no service name", mutate: func(ing *networkingv1.Ingress) { path(ing).Backend.Service.Name = "" },
			want: []string{"spec.rules[0].http.paths[0].backend.service.name: Required value"}},
		{name: "no port", mutate: func(ing *networkingv1.Ingress) { path(ing).Backend.Service.Port = networkingv1.ServiceBackendPort{} },
			want: []string{"spec.rules[0].http.paths[0].backend: Required value"}},
		{name: "both port name and number", mutate: func(ing *networkingv1.Ingress) { path(ing).Backend.Service.Port.Name = "http" },
			want: []string{"spec.rules[0].http.paths[0].backend: Invalid value"}},
		{name: "port out of range", mutate: func(ing *networkingv1.Ingress) { path(ing).Backend.Service.Port.Number = 70000 },
			want: []string{"spec.rules[0].http.paths[0].backend.service.port.number: Invalid value"}},
		{name: "tls host", mutate: func(ing *networkingv1.Ingress) {
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"*.example.com", "bad_host"}, SecretName: "tls"}}
		}, want: []string{"spec.tls[0].hosts[1]: Invalid value"}},
		{name: "bad class name", mutate: func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = new("Traefik!") },
			want: []string{"spec.ingressClassName: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) { groupTestCheckErrs(t, r.Validate(networkingTestIngress(tc.mutate)), tc.want) })
	}
}

func TestIngressTable(t *testing.T) {
	r := groupTestResource(t, "networking.k8s.io", "ingresses")
	ing := networkingTestIngress(func(ing *networkingv1.Ingress) {
		ing.CreationTimestamp = metav1.NewTime(time.Now().Add(-3 * time.Hour))
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"example.com"}}}
		ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.168.10.20"}, {IP: "192.168.10.3"}}
	})
	groupTestCheckTable(t, r.Table, ing, "Class,Hosts,Address,Ports,Age",
		[]any{"traefik", "example.com", "192.168.10.20...", "80, 443", "3h"})

	rules := make([]networkingv1.IngressRule, 5)
	for i, h := range []string{"a.com", "b.com", "", "c.com", "d.com"} {
		rules[i].Host = h
	}
	if got, want := ingressHosts(rules), "a.com,b.com,c.com + 2 more..."; got != want {
		t.Errorf("ingressHosts = %q, want %q", got, want)
	}
	if got := ingressHosts(nil); got != "*" {
		t.Errorf("ingressHosts(nil) = %q, want *", got)
	}
}

func TestIngressClass(t *testing.T) {
	r := groupTestResource(t, "networking.k8s.io", "ingressclasses")
	if r.Namespaced {
		t.Errorf("ingressclasses are cluster-scoped")
	}
	mk := func(mutate func(*networkingv1.IngressClass)) *networkingv1.IngressClass {
		ic := &networkingv1.IngressClass{
			ObjectMeta: metav1.ObjectMeta{Name: "traefik"},
			Spec: networkingv1.IngressClassSpec{
				Controller: "traefik.io/ingress-controller",
				Parameters: &networkingv1.IngressClassParametersReference{APIGroup: new("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"},
			},
		}
		r.Default(ic)
		if mutate != nil {
			mutate(ic)
		}
		return ic
	}
	if got := *mk(nil).Spec.Parameters.Scope; got != networkingv1.IngressClassParametersReferenceScopeCluster {
		t.Errorf("default parameters scope = %q, want Cluster", got)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*networkingv1.IngressClass)
		want   []string
	}{
		{name: "valid"},
		{name: "controller without domain", mutate: func(ic *networkingv1.IngressClass) { ic.Spec.Controller = "traefik" },
			want: []string{"spec.controller: Invalid value"}},
		{name: "namespace with Cluster scope", mutate: func(ic *networkingv1.IngressClass) { ic.Spec.Parameters.Namespace = new("default") },
			want: []string{"spec.parameters.namespace: Forbidden"}},
		{name: "Namespace scope without namespace", mutate: func(ic *networkingv1.IngressClass) {
			ic.Spec.Parameters.Scope = new(networkingv1.IngressClassParametersReferenceScopeNamespace)
		}, want: []string{"spec.parameters.namespace: Required value"}},
		{name: "no kind", mutate: func(ic *networkingv1.IngressClass) { ic.Spec.Parameters.Kind = "" },
			want: []string{"spec.parameters.kind: Required value"}},
	} {
		t.Run(tc.name, func(t *testing.T) { groupTestCheckErrs(t, r.Validate(mk(tc.mutate)), tc.want) })
	}
	changed := mk(func(ic *networkingv1.IngressClass) { ic.Spec.Controller = "nginx.org/ingress-controller" })
	groupTestCheckErrs(t, r.ValidateUpdate(changed, mk(nil)), []string{"spec.controller: Invalid value"})
	groupTestCheckTable(t, r.Table, mk(nil), "Controller,Parameters,Age",
		[]any{"traefik.io/ingress-controller", "IngressParameters.k8s.example.com/external-lb", "<unknown>"})
}

func TestNetworkPolicy(t *testing.T) {
	r := groupTestResource(t, "networking.k8s.io", "networkpolicies")
	mk := func(mutate func(*networkingv1.NetworkPolicy)) *networkingv1.NetworkPolicy {
		np := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Port: new(intstr.FromInt32(5432))}},
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
			}},
		}}
		if mutate != nil {
			mutate(np)
		}
		r.Default(np)
		return np
	}
	np := mk(nil)
	if p := np.Spec.Ingress[0].Ports[0].Protocol; p == nil || *p != corev1.ProtocolTCP {
		t.Errorf("port protocol = %v, want TCP", p)
	}
	if got := np.Spec.PolicyTypes; len(got) != 1 || got[0] != networkingv1.PolicyTypeIngress {
		t.Errorf("policyTypes = %v, want [Ingress]", got)
	}
	withEgress := mk(func(np *networkingv1.NetworkPolicy) { np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}} })
	if got := withEgress.Spec.PolicyTypes; len(got) != 2 {
		t.Errorf("policyTypes with egress = %v, want [Ingress Egress]", got)
	}

	for _, tc := range []struct {
		name   string
		mutate func(*networkingv1.NetworkPolicy)
		want   []string
	}{
		{name: "valid"},
		{name: "port range", mutate: func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress[0].Ports[0].EndPort = new(int32(5440))
		}},
		{name: "endPort below port", mutate: func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress[0].Ports[0].EndPort = new(int32(80))
		}, want: []string{"spec.ingress[0].ports[0].endPort: Invalid value"}},
		{name: "endPort with named port", mutate: func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress[0].Ports[0].Port = new(intstr.FromString("postgres"))
			np.Spec.Ingress[0].Ports[0].EndPort = new(int32(80))
		}, want: []string{"spec.ingress[0].ports[0].endPort: Invalid value"}},
		{name: "bad protocol", mutate: func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress[0].Ports[0].Protocol = new(corev1.Protocol("ICMP"))
		}, want: []string{"spec.ingress[0].ports[0].protocol: Unsupported value"}},
		{name: "empty peer", mutate: func(np *networkingv1.NetworkPolicy) { np.Spec.Ingress[0].From[0] = networkingv1.NetworkPolicyPeer{} },
			want: []string{"spec.ingress[0].from[0]: Required value"}},
		{name: "ipBlock", mutate: func(np *networkingv1.NetworkPolicy) {
			np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{
				IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}},
			}}}}
		}},
		{name: "ipBlock with bad except", mutate: func(np *networkingv1.NetworkPolicy) {
			np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{
				IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.0.0.0/8"}},
			}}}}
		}, want: []string{"spec.egress[0].to[0].ipBlock.except[0]: Invalid value"}},
		{name: "ipBlock and selector", mutate: func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress[0].From[0].IPBlock = &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}
		}, want: []string{"spec.ingress[0].from[0]: Forbidden"}},
		{name: "bad policy type", mutate: func(np *networkingv1.NetworkPolicy) {
			np.Spec.PolicyTypes = []networkingv1.PolicyType{"Sideways"}
		}, want: []string{"spec.policyTypes[0]: Unsupported value"}},
	} {
		t.Run(tc.name, func(t *testing.T) { groupTestCheckErrs(t, r.Validate(mk(tc.mutate)), tc.want) })
	}
	groupTestCheckTable(t, r.Table, np, "Pod-Selector,Age", []any{"app=db", "<unknown>"})
}
