package dns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k1s/k1s/internal/testcluster"
)

// fakeUpstream is a resolver on loopback that knows a few names and
// counts the questions it gets, by network and name.
type fakeUpstream struct {
	addr string
	mu   sync.Mutex
	seen map[string]int // "udp example.com."
}

const bigRecords = 100 // big.example.'s A records: more than fit in 1232 bytes

func startUpstream(t testing.TB) *fakeUpstream {
	t.Helper()
	pc, ln, err := listenDNS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &fakeUpstream{addr: pc.LocalAddr().String(), seen: map[string]int{}}
	handler := dns.HandlerFunc(u.serve)
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- serveUntil(ctx, srv) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("fake upstream: %v", err)
			}
		})
	}
	return u
}

func (u *fakeUpstream) serve(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	netw := w.RemoteAddr().Network()
	u.mu.Lock()
	u.seen[netw+" "+strings.ToLower(q.Name)]++
	u.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		return r
	}
	switch strings.ToLower(q.Name) {
	case "example.com.":
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, rr("example.com. 60 IN A 192.0.2.1"))
		}
	case "big.example.":
		for i := range bigRecords {
			m.Answer = append(m.Answer, rr(fmt.Sprintf("big.example. 60 IN A 192.0.2.%d", i+1)))
		}
	default:
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, rr("example. 60 IN SOA ns.example. hostmaster.example. 1 2 3 4 10"))
	}
	if netw == "udp" {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

func (u *fakeUpstream) count(key string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[key]
}

// startServer runs a Server on loopback until the test ends and waits
// until it is ready.
func startServer(t testing.TB, client kubernetes.Interface, upstream string) *Server {
	t.Helper()
	s, err := New(Options{
		Client: client, Listen: "127.0.0.1:0", HealthAddr: "127.0.0.1:0",
		Upstreams: []string{upstream}, Log: testcluster.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

func waitReady(t testing.TB, s *Server) {
	t.Helper()
	testcluster.Eventually(t, 20*time.Second, func() error {
		if !s.Ready() {
			return errors.New("not ready")
		}
		return nil
	})
}

func exchange(t testing.TB, addr, netw, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: netw, Timeout: 3 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], netw, err)
	}
	return r
}

// answerOf renders an answer section as sorted "name type rdata" lines.
func answerOf(m *dns.Msg) string {
	s := rrStrings(m.Answer)
	slices.Sort(s)
	return strings.Join(s, "; ")
}

func ptr[T any](v T) *T { return &v }

func clusterObjects() []runtime.Object {
	tcp := corev1.ProtocolTCP
	return []runtime.Object{
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
			Spec: corev1.ServiceSpec{
				ClusterIP: "10.43.0.20", ClusterIPs: []string{"10.43.0.20"},
				Ports: []corev1.ServicePort{{Name: "http", Protocol: tcp, Port: 80}},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db"},
			Spec: corev1.ServiceSpec{
				ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone},
				Ports: []corev1.ServicePort{{Name: "pg", Protocol: tcp, Port: 5432}},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
		},
		&discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: "default", Name: "db-abcde",
				Labels: map[string]string{discoveryv1.LabelServiceName: "db"},
			},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.42.1.6"}, Hostname: ptr("db-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
				{Addresses: []string{"10.42.1.7"}, Hostname: ptr("db-1"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
				{Addresses: []string{"10.42.1.8"}, Hostname: ptr("db-2"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
			},
			Ports: []discoveryv1.EndpointPort{{Name: ptr("pg"), Protocol: &tcp, Port: ptr(int32(5432))}},
		},
	}
}

// TestServer runs the server over a real api-server and a fake upstream.
func TestServer(t *testing.T) {
	client := kubernetes.NewForConfigOrDie(testcluster.StartAPIServer(t))
	ctx := context.Background()
	for _, obj := range clusterObjects() {
		var err error
		switch o := obj.(type) {
		case *corev1.Service:
			_, err = client.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *discoveryv1.EndpointSlice:
			_, err = client.DiscoveryV1().EndpointSlices(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	up := startUpstream(t)
	s := startServer(t, client, up.addr)
	waitReady(t, s)

	tests := []struct {
		name   string
		qtype  uint16
		rcode  int
		answer string
	}{
		{"web.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "web.default.svc.cluster.local. A 10.43.0.20"},
		{"web.default.svc.cluster.local.", dns.TypeAAAA, dns.RcodeSuccess, ""},
		{"db.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "db.default.svc.cluster.local. A 10.42.1.6; db.default.svc.cluster.local. A 10.42.1.7"},
		{"db-1.db.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "db-1.db.default.svc.cluster.local. A 10.42.1.7"},
		{"db-2.db.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, ""},
		{"_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess, "_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local."},
		{"_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			"_pg._tcp.db.default.svc.cluster.local. SRV 0 50 5432 db-0.db.default.svc.cluster.local.; _pg._tcp.db.default.svc.cluster.local. SRV 0 50 5432 db-1.db.default.svc.cluster.local."},
		{"20.0.43.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, "20.0.43.10.in-addr.arpa. PTR web.default.svc.cluster.local."},
		{"6.1.42.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, "6.1.42.10.in-addr.arpa. PTR db-0.db.default.svc.cluster.local."},
		{"ext.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, "example.com. A 192.0.2.1; ext.default.svc.cluster.local. CNAME example.com."},
		{"10-42-0-9.default.pod.cluster.local.", dns.TypeA, dns.RcodeSuccess, "10-42-0-9.default.pod.cluster.local. A 10.42.0.9"},
		{"missing.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, ""},
		{"example.com.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, ""},
	}
	for _, netw := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(netw+"/"+tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
				r := exchange(t, s.Addr(), netw, tt.name, tt.qtype)
				if r.Rcode != tt.rcode {
					t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
				if got := answerOf(r); got != tt.answer {
					t.Errorf("answer = %q\n want %q", got, tt.answer)
				}
				if len(r.Answer) > 1 && r.Answer[0].Header().Rrtype != dns.TypeCNAME && strings.Contains(tt.answer, "CNAME") {
					t.Errorf("answer %v does not start with the CNAME", r.Answer)
				}
				if tt.answer == "" {
					if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
						t.Errorf("authority = %v, want the zone's SOA", r.Ns)
					}
				}
				if tt.rcode == dns.RcodeSuccess && tt.answer != "" && r.Answer[0].Header().Ttl != 5 {
					t.Errorf("TTL = %d, want 5", r.Answer[0].Header().Ttl)
				}
			})
		}
	}

	t.Run("updates propagate", func(t *testing.T) {
		slice, err := client.DiscoveryV1().EndpointSlices("default").Get(ctx, "db-abcde", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		slice.Endpoints[2].Conditions.Ready = ptr(true)
		if _, err := client.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		testcluster.Eventually(t, 10*time.Second, func() error {
			r := exchange(t, s.Addr(), "udp", "db-2.db.default.svc.cluster.local.", dns.TypeA)
			if got, want := answerOf(r), "db-2.db.default.svc.cluster.local. A 10.42.1.8"; got != want {
				return fmt.Errorf("answer %q, want %q", got, want)
			}
			return nil
		})
		if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testcluster.Eventually(t, 10*time.Second, func() error {
			if r := exchange(t, s.Addr(), "udp", "web.default.svc.cluster.local.", dns.TypeA); r.Rcode != dns.RcodeNameError {
				return fmt.Errorf("deleted service: rcode %s", dns.RcodeToString[r.Rcode])
			}
			return nil
		})
	})

	t.Run("forwarding and cache", func(t *testing.T) {
		first := exchange(t, s.Addr(), "udp", "example.com.", dns.TypeA)
		if got, want := answerOf(first), "example.com. A 192.0.2.1"; got != want {
			t.Fatalf("answer = %q, want %q", got, want)
		}
		if first.Authoritative {
			t.Error("forwarded answer is marked authoritative")
		}
		second := exchange(t, s.Addr(), "tcp", "EXAMPLE.com.", dns.TypeA)
		if answerOf(second) == "" || second.Answer[0].Header().Ttl > 60 {
			t.Errorf("cached answer = %v", second.Answer)
		}
		// The CNAME test above may have asked first; either way one question.
		if got := up.count("udp example.com."); got != 1 {
			t.Errorf("upstream asked %d times for example.com., want 1", got)
		}
		for range 2 {
			if r := exchange(t, s.Addr(), "udp", "nowhere.example.", dns.TypeA); r.Rcode != dns.RcodeNameError {
				t.Errorf("nowhere.example.: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
			}
		}
		if got := up.count("udp nowhere.example."); got != 1 {
			t.Errorf("upstream asked %d times for nowhere.example., want 1 (negative cache)", got)
		}
	})

	t.Run("truncated upstream answer retried over TCP", func(t *testing.T) {
		r := exchange(t, s.Addr(), "tcp", "big.example.", dns.TypeA)
		if len(r.Answer) != bigRecords || r.Truncated {
			t.Errorf("got %d records (truncated %v), want %d", len(r.Answer), r.Truncated, bigRecords)
		}
		if up.count("udp big.example.") != 1 || up.count("tcp big.example.") != 1 {
			t.Errorf("upstream saw udp %d, tcp %d; want 1 and 1", up.count("udp big.example."), up.count("tcp big.example."))
		}
		// Over UDP without EDNS0 the client gets the 512-byte truncated form.
		if r := exchange(t, s.Addr(), "udp", "big.example.", dns.TypeA); !r.Truncated {
			t.Errorf("UDP answer of %d records not truncated", len(r.Answer))
		}
	})

	t.Run("health and metrics", func(t *testing.T) {
		for path, want := range map[string]string{
			"/healthz": "ok",
			"/readyz":  "ok",
			"/metrics": `k1s_dns_requests_total{rcode="NXDOMAIN",source="cluster"}`,
		} {
			body := httpGet(t, "http://"+s.HealthAddr()+path, http.StatusOK)
			if !strings.Contains(body, want) {
				t.Errorf("%s does not contain %q", path, want)
			}
		}
		body := httpGet(t, "http://"+s.HealthAddr()+"/metrics", http.StatusOK)
		for _, want := range []string{`k1s_dns_requests_total{rcode="NOERROR",source="forward"}`, "k1s_dns_cache_hits_total"} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics does not contain %q", want)
			}
		}
	})
}

func httpGet(t testing.TB, url string, wantStatus int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Errorf("GET %s: %d %s, want %d", url, resp.StatusCode, b, wantStatus)
	}
	return string(b)
}

// TestNotReadyUntilSynced holds the Service list until the test releases
// it: until then cluster names are SERVFAIL and /readyz fails, while
// forwarding already works.
func TestNotReadyUntilSynced(t *testing.T) {
	client := fake.NewClientset(clusterObjects()...)
	release := make(chan struct{})
	client.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-release
		return false, nil, nil
	})
	up := startUpstream(t)
	s := startServer(t, client, up.addr)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	if r := exchange(t, s.Addr(), "udp", "web.default.svc.cluster.local.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("before sync: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	httpGet(t, "http://"+s.HealthAddr()+"/readyz", http.StatusServiceUnavailable)
	if r := exchange(t, s.Addr(), "udp", "example.com.", dns.TypeA); answerOf(r) != "example.com. A 192.0.2.1" {
		t.Errorf("forwarding before sync: %v", r)
	}

	close(release)
	waitReady(t, s)
	httpGet(t, "http://"+s.HealthAddr()+"/readyz", http.StatusOK)
	if r := exchange(t, s.Addr(), "udp", "web.default.svc.cluster.local.", dns.TypeA); answerOf(r) != "web.default.svc.cluster.local. A 10.43.0.20" {
		t.Errorf("after sync: %v", r)
	}
}

func TestOptionsValidation(t *testing.T) {
	client := fake.NewClientset()
	tests := []struct {
		name string
		o    Options
	}{
		{"no client", Options{Upstreams: []string{"127.0.0.1"}}},
		{"bad domain", Options{Client: client, Domain: "a..b", Upstreams: []string{"127.0.0.1"}}},
		{"bad TTL", Options{Client: client, TTL: time.Millisecond, Upstreams: []string{"127.0.0.1"}}},
		{"bad upstream", Options{Client: client, Upstreams: []string{"not an address"}}},
		{"bad listen", Options{Client: client, Listen: "nowhere", Upstreams: []string{"127.0.0.1"}}},
	}
	for _, tt := range tests {
		if _, err := New(tt.o); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}
