package dns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeCatalog is a catalog held in maps.
type fakeCatalog struct {
	services []*corev1.Service
	eps      map[string][]endpoint // namespace/service
}

func (f *fakeCatalog) service(namespace, name string) *corev1.Service {
	for _, s := range f.services {
		if s.Namespace == namespace && s.Name == name {
			return s
		}
	}
	return nil
}

func (f *fakeCatalog) hasServices(namespace string) bool {
	return slices.ContainsFunc(f.services, func(s *corev1.Service) bool { return s.Namespace == namespace })
}

func (f *fakeCatalog) endpoints(namespace, service string) []endpoint {
	return mergeEndpoints(slices.Clone(f.eps[namespace+"/"+service]))
}

func (f *fakeCatalog) servicesByIP(addr netip.Addr) []*corev1.Service {
	var out []*corev1.Service
	for _, s := range f.services {
		if slices.Contains(clusterIPs(s), addr) {
			out = append(out, s)
		}
	}
	return out
}

func (f *fakeCatalog) endpointsByIP(addr netip.Addr) []ownedEndpoint {
	var out []ownedEndpoint
	for key, eps := range f.eps {
		ns, svc, _ := strings.Cut(key, "/")
		for _, e := range eps {
			if e.addr == addr {
				out = append(out, ownedEndpoint{namespace: ns, service: svc, endpoint: e})
			}
		}
	}
	return out
}

func svc(ns, name string, mutate func(*corev1.ServiceSpec)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	mutate(&s.Spec)
	return s
}

func testCatalog() *fakeCatalog {
	web := []endpointPort{{name: "http", protocol: "tcp", port: 8080}}
	return &fakeCatalog{
		services: []*corev1.Service{
			svc("default", "web", func(s *corev1.ServiceSpec) {
				s.ClusterIP, s.ClusterIPs = "10.43.0.20", []string{"10.43.0.20", "fd43::20"}
				s.Ports = []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}, {Protocol: corev1.ProtocolUDP, Port: 53}}
			}),
			svc("default", "db", func(s *corev1.ServiceSpec) {
				s.ClusterIP = corev1.ClusterIPNone
				s.Ports = []corev1.ServicePort{{Name: "pg", Protocol: corev1.ProtocolTCP, Port: 5432}}
			}),
			svc("default", "ext", func(s *corev1.ServiceSpec) {
				s.Type, s.ExternalName = corev1.ServiceTypeExternalName, "example.com"
			}),
		},
		eps: map[string][]endpoint{
			"default/web": {{addr: netip.MustParseAddr("10.42.0.5"), ready: true, ports: web}},
			"default/db": {
				{addr: netip.MustParseAddr("10.42.1.7"), hostname: "db-1", ready: true, ports: []endpointPort{{name: "pg", protocol: "tcp", port: 5433}}},
				{addr: netip.MustParseAddr("10.42.1.6"), hostname: "db-0", ready: true, ports: []endpointPort{{name: "pg", protocol: "tcp", port: 5433}}},
				{addr: netip.MustParseAddr("10.42.1.8"), hostname: "db-2", ready: false},
				{addr: netip.MustParseAddr("10.42.1.9"), ready: true},
			},
		},
	}
}

// rrStrings renders records without their TTLs' column noise: "name type rdata".
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		f := strings.Fields(rr.String())
		out = append(out, f[0]+" "+strings.Join(f[3:], " "))
	}
	return out
}

func TestZoneResolve(t *testing.T) {
	z := newZone("cluster.local", 5, 1)
	cat := testCatalog()
	tests := []struct {
		name    string
		qtype   uint16
		forward bool
		rcode   int
		answer  string // records joined with "; "
		extra   string
		chase   string
	}{
		{name: "web.default.svc.cluster.local.", qtype: dns.TypeA, answer: "web.default.svc.cluster.local. A 10.43.0.20"},
		{name: "WEB.Default.svc.Cluster.Local.", qtype: dns.TypeA, answer: "WEB.Default.svc.Cluster.Local. A 10.43.0.20"},
		{name: "web.default.svc.cluster.local.", qtype: dns.TypeAAAA, answer: "web.default.svc.cluster.local. AAAA fd43::20"},
		{name: "web.default.svc.cluster.local.", qtype: dns.TypeMX},
		{name: "db.default.svc.cluster.local.", qtype: dns.TypeA, answer: "db.default.svc.cluster.local. A 10.42.1.6; db.default.svc.cluster.local. A 10.42.1.7; db.default.svc.cluster.local. A 10.42.1.9"},
		{name: "db.default.svc.cluster.local.", qtype: dns.TypeAAAA},
		{name: "db-1.db.default.svc.cluster.local.", qtype: dns.TypeA, answer: "db-1.db.default.svc.cluster.local. A 10.42.1.7"},
		{name: "10-42-1-9.db.default.svc.cluster.local.", qtype: dns.TypeA, answer: "10-42-1-9.db.default.svc.cluster.local. A 10.42.1.9"},
		{name: "db-2.db.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError}, // not ready
		{name: "db-9.db.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: "_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local.",
			extra:  "web.default.svc.cluster.local. A 10.43.0.20; web.default.svc.cluster.local. AAAA fd43::20"},
		{name: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeA},
		{name: "_http._udp.web.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError},
		{name: "_tcp.web.default.svc.cluster.local.", qtype: dns.TypeA},
		{name: "_udp.web.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError}, // its UDP port has no name
		{name: "_pg._tcp.db.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: "_pg._tcp.db.default.svc.cluster.local. SRV 0 50 5433 db-0.db.default.svc.cluster.local.; _pg._tcp.db.default.svc.cluster.local. SRV 0 50 5433 db-1.db.default.svc.cluster.local.",
			extra:  "db-0.db.default.svc.cluster.local. A 10.42.1.6; db-1.db.default.svc.cluster.local. A 10.42.1.7"},
		{name: "ext.default.svc.cluster.local.", qtype: dns.TypeA, answer: "ext.default.svc.cluster.local. CNAME example.com.", chase: "example.com."},
		{name: "ext.default.svc.cluster.local.", qtype: dns.TypeCNAME, answer: "ext.default.svc.cluster.local. CNAME example.com."},
		{name: "nope.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "default.svc.cluster.local.", qtype: dns.TypeA},
		{name: "empty.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "svc.cluster.local.", qtype: dns.TypeA},
		{name: "example.com.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "a.b.c.example.com.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "foo.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "cluster.local.", qtype: dns.TypeSOA, answer: "cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"},
		{name: "cluster.local.", qtype: dns.TypeNS, answer: "cluster.local. NS ns.dns.cluster.local."},
		{name: "cluster.local.", qtype: dns.TypeA},
		{name: "dns-version.cluster.local.", qtype: dns.TypeTXT, answer: `dns-version.cluster.local. TXT "1.1.0"`},
		{name: "10-42-3-4.kube-system.pod.cluster.local.", qtype: dns.TypeA, answer: "10-42-3-4.kube-system.pod.cluster.local. A 10.42.3.4"},
		{name: "fd42--5.default.pod.cluster.local.", qtype: dns.TypeAAAA, answer: "fd42--5.default.pod.cluster.local. AAAA fd42::5"},
		{name: "10-42-3-4.kube-system.pod.cluster.local.", qtype: dns.TypeAAAA},
		{name: "10-42-3.kube-system.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "20.0.43.10.in-addr.arpa.", qtype: dns.TypePTR, answer: "20.0.43.10.in-addr.arpa. PTR web.default.svc.cluster.local."},
		{name: "7.1.42.10.in-addr.arpa.", qtype: dns.TypePTR, answer: "7.1.42.10.in-addr.arpa. PTR db-1.db.default.svc.cluster.local."},
		{name: "9.1.42.10.in-addr.arpa.", qtype: dns.TypePTR, answer: "9.1.42.10.in-addr.arpa. PTR 10-42-1-9.db.default.svc.cluster.local."},
		{name: "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.d.f.ip6.arpa.", qtype: dns.TypePTR,
			answer: "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.d.f.ip6.arpa. PTR web.default.svc.cluster.local."},
		{name: "5.0.42.10.in-addr.arpa.", qtype: dns.TypePTR, forward: true}, // endpoint of a cluster IP Service
		{name: "8.8.8.8.in-addr.arpa.", qtype: dns.TypePTR, forward: true},
		{name: "42.10.in-addr.arpa.", qtype: dns.TypeSOA, forward: true},
		{name: "example.com.", qtype: dns.TypeA, forward: true},
		{name: "local.", qtype: dns.TypeA, forward: true},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
			r := z.resolve(cat, tt.name, tt.qtype)
			if r.forward != tt.forward {
				t.Fatalf("forward = %v, want %v", r.forward, tt.forward)
			}
			if tt.forward {
				return
			}
			if r.rcode != tt.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.rcode], dns.RcodeToString[tt.rcode])
			}
			if got := strings.Join(rrStrings(r.answer), "; "); got != tt.answer {
				t.Errorf("answer = %q\n want %q", got, tt.answer)
			}
			if got := strings.Join(rrStrings(r.extra), "; "); got != tt.extra {
				t.Errorf("extra = %q\n want %q", got, tt.extra)
			}
			if r.chase != tt.chase {
				t.Errorf("chase = %q, want %q", r.chase, tt.chase)
			}
			// Negative answers (NXDOMAIN and NODATA) carry the SOA.
			if wantSOA := len(r.answer) == 0; wantSOA != (len(r.ns) == 1) {
				t.Errorf("authority = %v, want the SOA: %v", r.ns, wantSOA)
			}
			for _, rr := range r.answer {
				if rr.Header().Ttl != 5 {
					t.Errorf("TTL of %v, want 5", rr)
				}
			}
		})
	}
}

func TestZonePublishNotReady(t *testing.T) {
	z := newZone("cluster.local", 5, 1)
	for name, mutate := range map[string]func(*corev1.Service){
		"spec":       func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true },
		"annotation": func(s *corev1.Service) { s.Annotations = map[string]string{tolerateUnreadyAnnotation: "true"} },
	} {
		cat := testCatalog()
		mutate(cat.service("default", "db"))
		r := z.resolve(cat, "db-2.db.default.svc.cluster.local.", dns.TypeA)
		if got, want := strings.Join(rrStrings(r.answer), "; "), "db-2.db.default.svc.cluster.local. A 10.42.1.8"; got != want {
			t.Errorf("%s: answer = %q, want %q", name, got, want)
		}
	}
}

func TestReverseAddr(t *testing.T) {
	tests := []struct {
		name string
		want string // "" when not an address
	}{
		{"4.3.2.1.in-addr.arpa.", "1.2.3.4"},
		{"4.3.2.in-addr.arpa.", ""},
		{"04.3.2.1.in-addr.arpa.", ""},
		{"256.3.2.1.in-addr.arpa.", ""},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.", "::1"},
		{"g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.", ""},
	}
	for _, tt := range tests {
		a, ok := reverseAddr(tt.name)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("reverseAddr(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestMergeEndpoints(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	got := mergeEndpoints([]endpoint{
		{addr: netip.MustParseAddr("10.0.0.2")},
		{addr: a, ready: false},
		{addr: a, ready: true, hostname: "h"},
	})
	if len(got) != 2 || got[0].addr != a || !got[0].ready || got[0].hostname != "h" {
		t.Errorf("merged = %+v", got)
	}
}
