package ingress

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/k1s/k1s/internal/testcluster"
)

// benchRoleEnv, set in a copy of the test binary, makes it one of the
// benchmarks' processes instead of running tests (see TestMain).
const benchRoleEnv = "K1S_INGRESS_BENCH_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(benchRoleEnv); role != "" {
		if err := benchRole(role, os.Getenv("K1S_INGRESS_BENCH_ARG")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchRole runs one process of BenchmarkIngressVsDirect or
// BenchmarkLoopbackRoundTrip: it prints the address it serves on, then
// serves until its stdin closes.
//
//	backend: arg is the time each request takes
//	ingress: arg is the backend's port
//	relay:   arg is the backend's address
//	echo:    sends back what it reads
func benchRole(role, arg string) error {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	switch role {
	case "backend":
		work, err := time.ParseDuration(arg)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if work > 0 {
				time.Sleep(work)
			}
			io.WriteString(w, "hello from the backend\n")
		})}
		context.AfterFunc(ctx, func() { srv.Close() })
		fmt.Println(ln.Addr())
		if err := srv.Serve(ln); err != http.ErrServerClosed {
			return err
		}
		return nil
	case "ingress":
		port, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		client := fake.NewClientset(
			serviceObj(testNS, "bench"),
			sliceObj(testNS, "bench", "bench", int32(port), []string{"127.0.0.1"}),
			ingressObj(testNS, "bench", ptr("k1s"), "bench.com", testPath{"/", networkingv1.PathTypePrefix, "bench"}),
		)
		c, err := New(Options{Client: client, HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", Log: testcluster.Logger()})
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		select {
		case <-c.Ready():
		case err := <-done:
			return err
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if r := c.table.Load().lookup("bench.com", "/"); r != nil && !r.pool.empty() {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no route to the backend")
			}
		}
		fmt.Println(c.HTTPAddr())
		return <-done
	case "relay":
		return benchRelay(ctx, arg)
	case "echo":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		context.AfterFunc(ctx, func() { ln.Close() })
		fmt.Println(ln.Addr())
		conn, err := ln.Accept()
		if err != nil {
			return nil // closed
		}
		context.AfterFunc(ctx, func() { conn.Close() })
		buf := make([]byte, 64)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return nil
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				return nil
			}
		}
	}
	return fmt.Errorf("unknown role %q", role)
}

// BenchmarkLoopbackRoundTrip is what one hop costs on this machine: a
// 10-byte message to another process over loopback TCP and back, with a
// pause before each (a 200 µs sleep, about a millisecond here) so that
// the processors are idle in between, as they are between the steps of
// a request that waits on its backend. Through a proxy a request makes two
// hops more than it does directly.
func BenchmarkLoopbackRoundTrip(b *testing.B) {
	echo := startBenchProcess(b, "echo", "")
	conn, err := net.Dial("tcp", echo.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	msg, buf := []byte("0123456789"), make([]byte, 10)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		time.Sleep(200 * time.Microsecond)
		t0 := time.Now()
		if _, err := conn.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// benchRelay is the least any proxy does: it copies bytes between each
// client connection and a connection of its own to the backend, with one
// goroutine each way, the same system calls as the ingress and no HTTP.
// Its distance to direct is what a hop costs on this machine.
func benchRelay(ctx context.Context, backend string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { ln.Close() })
	fmt.Println(ln.Addr())
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer conn.Close()
			out, err := net.Dial("tcp", backend)
			if err != nil {
				return
			}
			defer out.Close()
			in, up := newSysConn(conn), newSysConn(out)
			go func() {
				io.CopyBuffer(struct{ io.Writer }{in}, struct{ io.Reader }{up}, make([]byte, 4<<10))
				conn.Close()
			}()
			io.CopyBuffer(struct{ io.Writer }{up}, struct{ io.Reader }{in}, make([]byte, 4<<10))
		}()
	}
}

// startHAProxy runs haproxy as an HTTP reverse proxy to the backend,
// configured as a tuned one is: two threads, keep-alive both ways,
// connections to the backend shared between clients.
func startHAProxy(b *testing.B, path, backend string) *benchProcess {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(b.TempDir(), "haproxy.cfg")
	err = os.WriteFile(cfg, []byte(fmt.Sprintf(`global
  nbthread 2
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend bench
  bind %s
  default_backend bench
backend bench
  http-reuse always
  server backend %s
`, addr, backend)), 0o644)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(path, "-db", "-f", cfg)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // should the benchmark die
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("haproxy does not listen on %s", addr)
		}
	}
	return &benchProcess{addr: addr, cmd: cmd}
}

// benchProcess is a running role of the benchmark.
type benchProcess struct {
	addr  string
	cmd   *exec.Cmd
	stdin io.Closer
}

func startBenchProcess(b *testing.B, role, arg string) *benchProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchRoleEnv+"="+role, "K1S_INGRESS_BENCH_ARG="+arg)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &benchProcess{cmd: cmd, stdin: stdin}
	b.Cleanup(p.stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("%s: %v", role, err)
	}
	p.addr = strings.TrimSpace(line)
	return p
}

func (p *benchProcess) stop() {
	p.stdin.Close()
	p.cmd.Wait()
}

// cpu is the CPU time the process's threads have used so far
// (schedstat's nanoseconds, finer than stat's ticks).
func (p *benchProcess) cpu() time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", p.cmd.Process.Pid))
	var sum time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		ns, _ := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
		sum += time.Duration(ns)
	}
	return sum
}

// BenchmarkIngressVsDirect sends the same requests from 8 concurrent
// keep-alive clients through the ingress and straight to the backend, in
// alternating rounds, and reports each route's throughput and 99th
// percentile latency. b.N requests go each route.
//
// As deployed, the backend (the pod), the ingress and the load generator
// are separate processes on loopback: the backend and the ingress are
// copies of this test binary (see benchRole), the load generator is the
// benchmark itself. A third route goes through a bare TCP relay
// (benchRelay), the least any proxy does, and with K1S_BENCH_HAPROXY set
// to an haproxy binary a fourth through HAProxy, for reference.
//
// "empty" answers at once: every side is CPU-bound on the same cores,
// so the ingress's extra hop (a server and a client of its own) shows
// at full weight. "1ms" is a backend that spends a millisecond per
// request, as a real application does: what the ingress adds to it.
//
// CPU time (of the three processes) is reported per request for each
// side; their difference is what the ingress costs, a figure much less
// sensitive to other load on the machine than the rates.
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
	backend := startBenchProcess(b, "backend", work.String())
	_, port, err := net.SplitHostPort(backend.addr)
	if err != nil {
		b.Fatal(err)
	}
	relay := startBenchProcess(b, "relay", backend.addr)
	ingress := startBenchProcess(b, "ingress", port)

	// The ways to the backend, measured in turn. Each one's CPU is that
	// of the load generator, the backend and its proxy's process.
	type route struct {
		name  string
		addr  string
		proxy *benchProcess // nil for direct

		time, cpu, proxyCPU time.Duration
		lat, steady         []time.Duration
	}
	routes := []*route{
		{name: "direct", addr: backend.addr},
		{name: "relay", addr: relay.addr, proxy: relay},
		{name: "ingress", addr: ingress.addr, proxy: ingress},
	}
	if path := os.Getenv("K1S_BENCH_HAPROXY"); path != "" {
		hp := startHAProxy(b, path, backend.addr)
		routes = append(routes, &route{name: "haproxy", addr: hp.addr, proxy: hp})
	}
	direct, ing := routes[0], routes[2]
	cpu := func(r *route) (total, proxy time.Duration) {
		total = processCPU() + backend.cpu()
		if r.proxy != nil {
			proxy = r.proxy.cpu()
		}
		return total + proxy, proxy
	}

	const clients, rounds = 8, 10
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: len(routes) * clients}
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
	share := func(total, round int) int {
		n := total / rounds
		if round < total%rounds {
			n++
		}
		return n
	}

	// Alternate short phases so that every route sees the same load from
	// whatever else runs on the machine.
	b.ResetTimer()
	for round := range rounds {
		for _, r := range routes {
			cpu0, proxy0 := cpu(r)
			d, l := phase(r.addr, share(b.N, round), 0)
			cpu1, proxy1 := cpu(r)
			r.time, r.lat = r.time+d, append(r.lat, l...)
			r.cpu, r.proxyCPU = r.cpu+cpu1-cpu0, r.proxyCPU+proxy1-proxy0
		}
	}
	// Then a steady load of half what the ingress served at saturation,
	// the same on every route, for latency under load rather than
	// queueing (b.N/4 requests each, in alternating rounds).
	steady := float64(len(ing.lat)) / ing.time.Seconds() / 2
	for round := range rounds {
		for _, r := range routes {
			_, l := phase(r.addr, share(b.N/4, round), steady)
			r.steady = append(r.steady, l...)
		}
	}
	b.StopTimer()

	pct := func(l []time.Duration, p int) float64 {
		if len(l) == 0 {
			return 0
		}
		slices.Sort(l)
		return float64(l[len(l)*p/100].Microseconds())
	}
	b.ReportMetric(steady, "steady-req/s")
	rate := func(r *route) float64 { return float64(len(r.lat)) / r.time.Seconds() }
	for _, r := range routes {
		b.ReportMetric(rate(r), r.name+"-req/s")
		b.ReportMetric(pct(r.lat, 99), r.name+"-p99-µs")
		b.ReportMetric(pct(r.steady, 50), "steady-"+r.name+"-p50-µs")
		b.ReportMetric(pct(r.steady, 99), "steady-"+r.name+"-p99-µs")
		b.ReportMetric(float64(r.cpu.Microseconds())/float64(len(r.lat)), r.name+"-cpu-µs/req")
		if r.proxy != nil {
			b.ReportMetric(float64(r.proxyCPU.Microseconds())/float64(len(r.lat)), r.name+"-own-cpu-µs/req")
			b.ReportMetric(rate(r)/rate(direct), r.name+"-throughput-ratio")
		}
	}
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
