package proxy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// BenchmarkProgramming programs 1,000 services of 10 endpoints each into a
// network namespace, then times single-endpoint changes from the new
// EndpointSlice to the rules applied (the service's part rebuilt, diffed
// and written in one transaction), reporting the p99 in milliseconds.
func BenchmarkProgramming(b *testing.B) {
	const services, endpoints = 1000, 10
	ns := newTestNetns(b)
	a := ns.applier()
	var svcs []*v1.Service
	var slices []*discoveryv1.EndpointSlice
	for i := range services {
		name := fmt.Sprintf("svc-%d", i)
		svc := service(name, fmt.Sprintf("10.43.%d.%d", i/250, i%250+1), port("http", v1.ProtocolTCP, 80, int32(30000+i)))
		svc.Spec.Type = v1.ServiceTypeNodePort
		svcs = append(svcs, svc)
		var eps []ep
		for j := range endpoints {
			eps = append(eps, ready(fmt.Sprintf("10.42.%d.%d", i/25, (i%25)*10+j+1)))
		}
		slices = append(slices, slice(name, name+"-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, eps...))
	}
	cidr := netip.MustParsePrefix("10.42.0.0/16")
	m := buildModel(svcs, slices, cidr)
	start := time.Now()
	if err := a.replace(m); err != nil {
		b.Fatalf("initial sync: %v", err)
	}
	fullSync := time.Since(start)

	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		k := rand.IntN(services)
		s := slices[k].DeepCopy()
		// Flip one endpoint between ready and not ready.
		e := &s.Endpoints[i%endpoints]
		notReady := e.Conditions.Ready != nil && !*e.Conditions.Ready
		e.Conditions.Ready = ptr(notReady)
		slices[k] = s
		t0 := time.Now()
		key := serviceKey("default", svcs[k].Name)
		np := servicePart(svcs[k], []*discoveryv1.EndpointSlice{s}, cidr)
		if err := a.update([]change{{Old: m.Services[key], New: np}}); err != nil {
			b.Fatalf("update: %v", err)
		}
		m.Services[key] = np
		durations = append(durations, time.Since(t0))
	}
	b.StopTimer()
	start = time.Now()
	if err := a.resync(m, m); err != nil {
		b.Fatalf("resync: %v", err)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "resync-ms")
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	p99 := durations[(len(durations)*99)/100] // index < len for any len >= 1
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(durations[len(durations)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(fullSync.Milliseconds()), "full-sync-ms")
}
