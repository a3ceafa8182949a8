package dns

import (
	"testing"

	"github.com/miekg/dns"
	"k8s.io/client-go/kubernetes/fake"
)

// BenchmarkClusterQuery measures A queries for a cluster name over UDP on
// loopback, each parallel worker on its own socket.
func BenchmarkClusterQuery(b *testing.B) {
	up := startUpstream(b)
	s := startServer(b, fake.NewClientset(clusterObjects()...), up.addr)
	waitReady(b, s)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &dns.Client{Net: "udp"}
		conn, err := c.Dial(s.Addr())
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		m := new(dns.Msg)
		m.SetQuestion("db.default.svc.cluster.local.", dns.TypeA)
		for pb.Next() {
			r, _, err := c.ExchangeWithConn(m, conn)
			if err != nil {
				b.Error(err)
				return
			}
			if len(r.Answer) != 2 {
				b.Errorf("answer %v", r.Answer)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkZoneResolve measures the zone alone, from the informer-backed
// catalog, without the network.
func BenchmarkZoneResolve(b *testing.B) {
	up := startUpstream(b)
	s := startServer(b, fake.NewClientset(clusterObjects()...), up.addr)
	waitReady(b, s)
	b.ReportAllocs()
	for b.Loop() {
		if r := s.zone.resolve(s.catalog, "db.default.svc.cluster.local.", dns.TypeA); len(r.answer) != 2 {
			b.Fatalf("answer %v", r.answer)
		}
	}
}
