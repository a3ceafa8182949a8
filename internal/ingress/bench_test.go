package ingress

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/k1s/k1s/internal/testcluster"
)

// BenchmarkIngressVsDirect sends the same requests from 8 concurrent
// keep-alive clients through the ingress and straight to the loopback
// backend, in alternating rounds, and reports both throughputs and 99th
// percentile latencies. b.N requests go each way.
//
// "empty" answers at once: every side is CPU-bound on the same cores,
// so the ingress's extra hop (a server and a client of its own) shows
// at full weight. "1ms" is a backend that spends a millisecond per
// request, as a real application does: what the ingress adds to it.
func BenchmarkIngressVsDirect(b *testing.B) {
	for _, work := range []time.Duration{0, time.Millisecond} {
		name := "empty"
		if work > 0 {
			name = work.String()
		}
		b.Run(name, func(b *testing.B) { benchmarkIngressVsDirect(b, work) })
	}
}

func benchmarkIngressVsDirect(b *testing.B, work time.Duration) {
	backendSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if work > 0 {
			time.Sleep(work)
		}
		io.WriteString(w, "hello from the backend\n")
	}))
	defer backendSrv.Close()
	port := int32(backendSrv.Listener.Addr().(*net.TCPAddr).Port)

	client := fake.NewClientset(
		serviceObj(testNS, "bench"),
		sliceObj(testNS, "bench", "bench", port, []string{"127.0.0.1"}),
		ingressObj(testNS, "bench", ptr("k1s"), "bench.com", testPath{"/", networkingv1.PathTypePrefix, "bench"}),
	)
	c, err := New(Options{Client: client, HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", Log: testcluster.Logger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	}()
	select {
	case <-c.Ready():
	case err := <-done:
		b.Fatal(err)
	}
	waitFor := time.Now().Add(10 * time.Second)
	for r := c.table.Load().lookup("bench.com", "/"); r == nil || r.pool.empty(); r = c.table.Load().lookup("bench.com", "/") {
		if time.Now().After(waitFor) {
			b.Fatal("no route to the backend")
		}
		time.Sleep(10 * time.Millisecond)
	}

	const clients, rounds = 8, 10
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: 2 * clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	// phase sends n requests from the clients to addr and returns how long
	// that took and each request's latency.
	phase := func(addr string, n int) (time.Duration, []time.Duration) {
		latencies := make([][]time.Duration, clients)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range clients {
			share := n / clients
			if i < n%clients {
				share++
			}
			wg.Go(func() {
				for range share {
					req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
					req.Host = "bench.com"
					t0 := time.Now()
					resp, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					latencies[i] = append(latencies[i], time.Since(t0))
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start), slices.Concat(latencies...)
	}

	// Alternate short phases so that both sides see the same load from
	// whatever else runs on the machine.
	var ingressTime, directTime time.Duration
	var ingressLat, directLat []time.Duration
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		d, l := phase(c.HTTPAddr(), n)
		ingressTime, ingressLat = ingressTime+d, append(ingressLat, l...)
		d, l = phase(backendSrv.Listener.Addr().String(), n)
		directTime, directLat = directTime+d, append(directLat, l...)
	}
	b.StopTimer()
	p99 := func(l []time.Duration) float64 {
		if len(l) == 0 {
			return 0
		}
		slices.Sort(l)
		return float64(l[len(l)*99/100].Microseconds())
	}
	ingressRate := float64(len(ingressLat)) / ingressTime.Seconds()
	directRate := float64(len(directLat)) / directTime.Seconds()
	b.ReportMetric(ingressRate, "ingress-req/s")
	b.ReportMetric(directRate, "direct-req/s")
	b.ReportMetric(p99(ingressLat), "ingress-p99-µs")
	b.ReportMetric(p99(directLat), "direct-p99-µs")
	b.ReportMetric(ingressRate/directRate, "throughput-ratio")
}
