package ingress

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
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
//
// CPU time (user+system, of the whole process: load generator, backend
// and, for the ingress phases, the ingress) is reported per request for
// each side; their difference is what the ingress costs, a figure much
// less sensitive to other load on the machine than the rates.
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
	// that took and each request's latency. With a rate, the clients send
	// on a fixed schedule at that many requests a second in all (an open
	// loop: latency under a steady load, not at saturation); without,
	// each sends its next request as soon as it has the answer.
	phase := func(addr string, n int, rate float64) (time.Duration, []time.Duration) {
		latencies := make([][]time.Duration, clients)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range clients {
			share := n / clients
			if i < n%clients {
				share++
			}
			wg.Go(func() {
				var interval time.Duration
				if rate > 0 {
					interval = time.Duration(float64(clients) / rate * float64(time.Second))
				}
				// Clients start spread over one interval.
				next := start.Add(interval * time.Duration(i) / clients)
				for range share {
					if interval > 0 {
						time.Sleep(time.Until(next))
						next = next.Add(interval)
					}
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
	var ingressTime, directTime, ingressCPU, directCPU time.Duration
	var ingressLat, directLat []time.Duration
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		cpu0 := processCPU()
		d, l := phase(c.HTTPAddr(), n, 0)
		cpu1 := processCPU()
		ingressTime, ingressLat, ingressCPU = ingressTime+d, append(ingressLat, l...), ingressCPU+cpu1-cpu0
		d, l = phase(backendSrv.Listener.Addr().String(), n, 0)
		directTime, directLat, directCPU = directTime+d, append(directLat, l...), directCPU+processCPU()-cpu1
	}
	// Then a steady load of half what the ingress served at saturation,
	// the same each way, for latency under load (b.N/4 requests each
	// way, in alternating rounds).
	steady := float64(len(ingressLat)) / ingressTime.Seconds() / 2
	var ingressSteady, directSteady []time.Duration
	for r := range rounds {
		n := b.N / 4 / rounds
		if r < b.N/4%rounds {
			n++
		}
		_, l := phase(c.HTTPAddr(), n, steady)
		ingressSteady = append(ingressSteady, l...)
		_, l = phase(backendSrv.Listener.Addr().String(), n, steady)
		directSteady = append(directSteady, l...)
	}
	b.StopTimer()
	pct := func(l []time.Duration, p int) float64 {
		if len(l) == 0 {
			return 0
		}
		slices.Sort(l)
		return float64(l[len(l)*p/100].Microseconds())
	}
	p99 := func(l []time.Duration) float64 { return pct(l, 99) }
	b.ReportMetric(steady, "steady-req/s")
	b.ReportMetric(pct(ingressSteady, 50), "steady-ingress-p50-µs")
	b.ReportMetric(pct(directSteady, 50), "steady-direct-p50-µs")
	b.ReportMetric(p99(ingressSteady), "steady-ingress-p99-µs")
	b.ReportMetric(p99(directSteady), "steady-direct-p99-µs")
	ingressRate := float64(len(ingressLat)) / ingressTime.Seconds()
	directRate := float64(len(directLat)) / directTime.Seconds()
	b.ReportMetric(ingressRate, "ingress-req/s")
	b.ReportMetric(directRate, "direct-req/s")
	b.ReportMetric(p99(ingressLat), "ingress-p99-µs")
	b.ReportMetric(p99(directLat), "direct-p99-µs")
	b.ReportMetric(ingressRate/directRate, "throughput-ratio")
	b.ReportMetric(float64(ingressCPU.Microseconds())/float64(len(ingressLat)), "ingress-cpu-µs/req")
	b.ReportMetric(float64(directCPU.Microseconds())/float64(len(directLat)), "direct-cpu-µs/req")
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
