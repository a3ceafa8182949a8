package proxy

import (
	"net/netip"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var testCIDR = netip.MustParsePrefix("10.42.0.0/16")

func service(name, clusterIP string, ports ...v1.ServicePort) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec:       v1.ServiceSpec{Type: v1.ServiceTypeClusterIP, ClusterIP: clusterIP, Ports: ports},
	}
}

func port(name string, proto v1.Protocol, p, nodePort int32) v1.ServicePort {
	return v1.ServicePort{Name: name, Protocol: proto, Port: p, NodePort: nodePort, TargetPort: intstr.FromString(name)}
}

// ep is a test endpoint: its address and conditions (nil: unset).
type ep struct {
	addr                        string
	ready, serving, terminating *bool
}

func ready(addr string) ep { return ep{addr: addr} }

var yes, no = ptr(true), ptr(false)

func ptr[T any](v T) *T { return &v }

func slice(svc, name string, ports map[string]int32, proto v1.Protocol, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for n, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr(n), Port: ptr(p), Protocol: ptr(proto)})
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.addr},
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminating}})
	}
	return s
}

func svcChain(base string) string    { return objectName("service", base) }
func epChain(base, ep string) string { return objectName("endpoint", base+"__"+ep) }

func TestServicePart(t *testing.T) {
	const web = "default/web/tcp/http"
	tests := []struct {
		name    string
		svc     *v1.Service
		slices  []*discoveryv1.EndpointSlice
		cidr    netip.Prefix
		want    []string // lines the rendered part must contain
		notWant []string // substrings it must not contain
	}{{
		name:   "cluster IP with two ready endpoints",
		svc:    service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0)),
		slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.6"), ready("10.42.0.5"))},
		cidr:   testCIDR,
		want: []string{
			"element service-ips { 10.43.0.20 . tcp . 80 : goto " + svcChain(web) + " }",
			"chain " + svcChain(web) + " {",
			"\tip daddr 10.43.0.20 ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
			"\tnumgen random mod 2 vmap { 0 : goto " + epChain(web, "10.42.0.5/8080") + ", 1 : goto " + epChain(web, "10.42.0.6/8080") + " }",
			"chain " + epChain(web, "10.42.0.5/8080") + " {",
			"\tip saddr 10.42.0.5 jump mark-for-masquerade",
			"\tmeta l4proto tcp dnat to 10.42.0.5:8080",
		},
		notWant: []string{"no-endpoint", "external-", "affinity"},
	}, {
		name:    "no cluster CIDR: nothing masqueraded for leaving the cluster",
		svc:     service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0)),
		slices:  []*discoveryv1.EndpointSlice{slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5"))},
		want:    []string{"\tnumgen random mod 1 vmap { 0 : goto " + epChain(web, "10.42.0.5/8080") + " }"},
		notWant: []string{"ip saddr !="},
	}, {
		name: "no endpoints rejects cluster IP and node port",
		svc:  service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 30080)),
		cidr: testCIDR,
		want: []string{
			"element no-endpoint-services { 10.43.0.20 . tcp . 80 : goto reject-chain }",
			"element no-endpoint-nodeports { tcp . 30080 : goto reject-chain }",
		},
		notWant: []string{"chain service-", "service-ips"},
	}, {
		name: "not ready and not serving endpoints count as none",
		svc:  service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0)),
		slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP,
			ep{addr: "10.42.0.5", ready: no, serving: no, terminating: yes},
			ep{addr: "10.42.0.6", ready: no, serving: yes})},
		want: []string{"element no-endpoint-services { 10.43.0.20 . tcp . 80 : goto reject-chain }"},
	}, {
		name: "terminating serving endpoints only when none is ready",
		svc:  service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0)),
		slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP,
			ep{addr: "10.42.0.5", ready: no, serving: yes, terminating: yes},
			ep{addr: "10.42.0.7", ready: no, serving: no, terminating: yes})},
		want:    []string{"\tnumgen random mod 1 vmap { 0 : goto " + epChain(web, "10.42.0.5/8080") + " }"},
		notWant: []string{"10.42.0.7"},
	}, {
		name: "a ready endpoint wins over terminating ones",
		svc:  service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0)),
		slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP,
			ep{addr: "10.42.0.5", ready: no, serving: yes, terminating: yes},
			ep{addr: "10.42.0.6", ready: yes})},
		want:    []string{"\tnumgen random mod 1 vmap { 0 : goto " + epChain(web, "10.42.0.6/8080") + " }"},
		notWant: []string{"10.42.0.5"},
	}, {
		name: "named target port resolves per slice",
		svc:  service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0)),
		slices: []*discoveryv1.EndpointSlice{
			slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5")),
			slice("web", "web-2", map[string]int32{"http": 9090}, v1.ProtocolTCP, ready("10.42.1.5")),
			slice("other", "other-1", map[string]int32{"http": 7070}, v1.ProtocolTCP, ready("10.42.2.5")),
		},
		want: []string{
			"\tmeta l4proto tcp dnat to 10.42.0.5:8080",
			"\tmeta l4proto tcp dnat to 10.42.1.5:9090",
		},
		notWant: []string{"10.42.2.5"},
	}, {
		name: "a port of another protocol does not match",
		svc:  service("dns", "10.43.0.10", port("dns", v1.ProtocolUDP, 53, 0)),
		slices: []*discoveryv1.EndpointSlice{
			slice("dns", "dns-tcp", map[string]int32{"dns": 5353}, v1.ProtocolTCP, ready("10.42.0.9")),
			slice("dns", "dns-udp", map[string]int32{"dns": 53}, v1.ProtocolUDP, ready("10.42.0.8")),
		},
		want: []string{
			"element service-ips { 10.43.0.10 . udp . 53 : goto " + svcChain("default/dns/udp/dns") + " }",
			"\tmeta l4proto udp dnat to 10.42.0.8:53",
		},
		notWant: []string{"10.42.0.9"},
	}, {
		name:   "node port goes through an external chain that masquerades",
		svc:    service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 30080)),
		slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5"))},
		cidr:   testCIDR,
		want: []string{
			"element service-nodeports { tcp . 30080 : goto " + objectName("external", web) + " }",
			"chain " + objectName("external", web) + " {",
			"\tjump mark-for-masquerade",
			"\tgoto " + svcChain(web),
		},
	}, {
		name: "external and load-balancer IPs go through the external chain",
		svc: func() *v1.Service {
			s := service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0))
			s.Spec.ExternalIPs = []string{"192.168.50.10", "fd00::1"}
			s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "192.168.50.11"}, {IP: "192.168.50.10"}, {Hostname: "lb.example"}}
			return s
		}(),
		slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5"))},
		want: []string{
			"element service-ips { 192.168.50.10 . tcp . 80 : goto " + objectName("external", web) + " }",
			"element service-ips { 192.168.50.11 . tcp . 80 : goto " + objectName("external", web) + " }",
			"chain " + objectName("external", web) + " {",
		},
		notWant: []string{"fd00", "service-nodeports"},
	}, {
		name: "external IPs of a service without endpoints reject",
		svc: func() *v1.Service {
			s := service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0))
			s.Spec.ExternalIPs = []string{"192.168.50.10"}
			return s
		}(),
		want: []string{"element no-endpoint-services { 192.168.50.10 . tcp . 80 : goto reject-chain }"},
	}, {
		name: "session affinity: per-endpoint sets checked before the random pick",
		svc: func() *v1.Service {
			s := service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0))
			s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr(int32(60))}}
			return s
		}(),
		slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5"))},
		want: []string{
			"set " + objectName("affinity", web+"__10.42.0.5/8080") + " kind=2 timeout=1m0s",
			"\tip saddr @" + objectName("affinity", web+"__10.42.0.5/8080") + " goto " + epChain(web, "10.42.0.5/8080"),
			"\tupdate @" + objectName("affinity", web+"__10.42.0.5/8080") + " { ip saddr timeout 60s }",
		},
	}, {
		name:   "port without a name is named by its number",
		svc:    service("web", "10.43.0.20", v1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(8080)}),
		slices: []*discoveryv1.EndpointSlice{slice("web", "web-1", map[string]int32{"": 8080}, v1.ProtocolTCP, ready("10.42.0.5"))},
		want:   []string{"chain " + svcChain("default/web/tcp/80") + " {"},
	}, {
		name:    "headless service has no rules",
		svc:     service("web", "None", port("http", v1.ProtocolTCP, 80, 0)),
		slices:  []*discoveryv1.EndpointSlice{slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5"))},
		notWant: []string{"chain", "element"},
	}, {
		name: "IPv6 slices are ignored",
		svc:  service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0)),
		slices: []*discoveryv1.EndpointSlice{func() *discoveryv1.EndpointSlice {
			s := slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("fd00::5"))
			s.AddressType = discoveryv1.AddressTypeIPv6
			return s
		}()},
		want: []string{"element no-endpoint-services { 10.43.0.20 . tcp . 80 : goto reject-chain }"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var own []*discoveryv1.EndpointSlice
			for _, s := range tt.slices {
				if s.Labels[discoveryv1.LabelServiceName] == tt.svc.Name {
					own = append(own, s)
				}
			}
			got := servicePart(tt.svc, own, tt.cidr).String()
			lines := map[string]bool{}
			for _, l := range strings.Split(got, "\n") {
				lines[l] = true
			}
			for _, w := range tt.want {
				if !lines[w] {
					t.Errorf("missing line %q in\n%s", w, got)
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(got, nw) {
					t.Errorf("unexpected %q in\n%s", nw, got)
				}
			}
		})
	}
}

func TestBuildModelGroupsSlicesByService(t *testing.T) {
	services := []*v1.Service{
		service("a", "10.43.0.1", port("http", v1.ProtocolTCP, 80, 0)),
		service("b", "10.43.0.2", port("http", v1.ProtocolTCP, 80, 0)),
		service("headless", "None", port("http", v1.ProtocolTCP, 80, 0)),
	}
	slices := []*discoveryv1.EndpointSlice{
		slice("a", "a-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.1")),
		slice("b", "b-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.2")),
	}
	m := buildModel(services, slices, testCIDR)
	if len(m.Services) != 2 {
		t.Fatalf("got %d service parts, want 2 (headless has none)", len(m.Services))
	}
	for key, addr := range map[string]string{"default/a": "10.42.0.1", "default/b": "10.42.0.2"} {
		if got := m.Services[key].String(); !strings.Contains(got, "dnat to "+addr+":8080") || strings.Count(got, "dnat to") != 1 {
			t.Errorf("%s: want exactly one dnat to %s, got\n%s", key, addr, got)
		}
	}
	if !strings.Contains(m.Skeleton.String(), "chain reject-chain {") {
		t.Errorf("skeleton lacks the reject chain:\n%s", m.Skeleton)
	}
}

func TestObjectNameFitsNftables(t *testing.T) {
	long := strings.Repeat("n", 63) + "/" + strings.Repeat("s", 63) + "/sctp/" + strings.Repeat("p", 15) + "__255.255.255.255/65535"
	name := objectName("endpoint", long)
	if len(name) > 255 {
		t.Errorf("name is %d bytes, nftables allows 255", len(name))
	}
	if objectName("endpoint", long) != name || objectName("endpoint", long+"x") == name {
		t.Errorf("names must be stable and distinct")
	}
}
