package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The workload the issue fixes: 16 concurrent client-go clients over
// 2,000 ConfigMaps, watch fan-out to 50 watchers, memory after 10,000
// ConfigMaps of about 1 KiB of data each.
const (
	clients     = 16
	objects     = 2000
	watchers    = 50
	manyObjects = 10000
	dataSize    = 1024
	// listRounds is how many unpaginated lists of the 2,000 objects the
	// list benchmark times.
	listRounds = 20
	// settle is how long the server sits idle before its RSS is read.
	settle = 10 * time.Second
	// sentAnnotation carries the writer's clock (UnixNano) just before the
	// create request, so watchers can time the delivery.
	sentAnnotation = "bench.k1s.io/sent-unix-nano"
)

// process is a `k1s server` started from K1S_BIN on its own data dir.
type process struct {
	b       *testing.B // the benchmark that started it
	cmd     *exec.Cmd
	done    chan error
	stopped bool
	log     string
	ready   time.Duration // from exec to the first 200 on /readyz
	client  kubernetes.Interface
	config  *rest.Config
}

// startK1s starts the server on dir (created if missing) and waits until
// /readyz answers 200. The server is stopped when the benchmark ends.
func startK1s(b *testing.B, dir string) *process {
	b.Helper()
	bin := os.Getenv("K1S_BIN")
	if bin == "" {
		b.Skip("K1S_BIN is not set; `make bench` sets it to the built binary")
	}
	kubeconfig := filepath.Join(dir, "kubeconfig.yaml")
	// A restart rewrites the kubeconfig with its new port: drop the old one
	// so it is not mistaken for the new server's.
	if err := os.Remove(kubeconfig); err != nil && !errors.Is(err, os.ErrNotExist) {
		b.Fatal(err)
	}
	logPath := filepath.Join(b.TempDir(), "k1s.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--https-listen-port", "0", "--disable-agent", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p := &process{b: b, cmd: cmd, done: make(chan error, 1), log: logPath}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting %s: %v", bin, err)
	}
	go func() { p.done <- cmd.Wait() }()
	b.Cleanup(p.stop)
	if err := p.waitReady(b.Context(), kubeconfig, start); err != nil {
		b.Fatalf("k1s server: %v\n%s", err, p.logTail())
	}
	return p
}

// waitReady polls for the kubeconfig the server writes, then for /readyz,
// anonymously, trusting the cluster CA.
func (p *process) waitReady(ctx context.Context, kubeconfig string, start time.Time) error {
	deadline := time.Now().Add(60 * time.Second)
	var probe *http.Client
	for {
		select {
		case err := <-p.done:
			p.done <- err
			if err == nil {
				err = errors.New("exit status 0")
			}
			return fmt.Errorf("exited before ready: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("not ready after 60s")
		}
		if probe == nil {
			if cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig); err == nil {
				p.config = cfg
				rt, err := rest.TransportFor(&rest.Config{Host: cfg.Host, TLSClientConfig: rest.TLSClientConfig{CAData: cfg.CAData}})
				if err != nil {
					return err
				}
				probe = &http.Client{Transport: rt, Timeout: time.Second}
			}
		}
		if probe != nil && readyz(probe, p.config.Host) {
			p.ready = time.Since(start)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	probe.CloseIdleConnections()
	// client-go defaults apart from the rate limit, which is off.
	p.config.QPS = -1
	client, err := kubernetes.NewForConfig(p.config)
	if err != nil {
		return err
	}
	p.client = client
	return nil
}

func readyz(c *http.Client, host string) bool {
	resp, err := c.Get(host + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop sends SIGTERM and waits for the server to exit; it kills it after 20s.
func (p *process) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		p.b.Errorf("k1s server did not stop within 20s of SIGTERM\n%s", p.logTail())
		p.done <- <-p.done
	}
}

func (p *process) logTail() string {
	data, _ := os.ReadFile(p.log)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// memory is the server's resident memory in MiB from /proc/PID/status.
// Etcd runs inside the same process, so it is included.
type memory struct {
	rss  float64 // VmRSS
	anon float64 // RssAnon: Go heap, stacks
	file float64 // RssFile: the binary and etcd's mmapped bbolt file
	peak float64 // VmHWM, the high-water mark of rss
}

func (p *process) memory(b *testing.B) memory {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("reading server memory: %v", err)
	}
	field := func(name string) float64 {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, name+":"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				if err != nil {
					b.Fatalf("parsing %s %q: %v", name, line, err)
				}
				return kb / 1024
			}
		}
		b.Fatalf("no %s in /proc/%d/status", name, p.cmd.Process.Pid)
		return 0
	}
	return memory{rss: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile"), peak: field("VmHWM")}
}

// idleMemory lets the server sit idle, then reads its memory. The Go
// runtime hands memory freed after a load back to the OS in steps over
// several seconds (seen: 130 MB, then 122 MB after 3 s, 116 MB after 6.5 s,
// flat for the next minute), so RSS is read after 10 s.
func (p *process) idleMemory(b *testing.B) memory {
	time.Sleep(settle)
	return p.memory(b)
}

// cpuTime is the CPU time (user+system) the server has used so far, from
// /proc/PID/stat in clock ticks of 10ms (USER_HZ is 100 on Linux).
func (p *process) cpuTime(b *testing.B) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("reading server CPU time: %v", err)
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			b.Fatalf("parsing /proc/%d/stat: %v", p.cmd.Process.Pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// result is the latency of each operation of a workload and its wall time.
type result struct {
	lat     []time.Duration
	elapsed time.Duration
	// cpu and clientCPU are the CPU time of the server and of this
	// process (the clients) over the workload, when measured.
	cpu, clientCPU time.Duration
}

func (r *result) add(o result) {
	r.lat = append(r.lat, o.lat...)
	r.elapsed += o.elapsed
	r.cpu += o.cpu
	r.clientCPU += o.clientCPU
}

// measure runs a workload and adds the CPU time the server and the
// clients spent on it.
func (p *process) measure(b *testing.B, workload func() result) result {
	before, clientBefore := p.cpuTime(b), clientCPUTime()
	r := workload()
	r.cpu, r.clientCPU = p.cpuTime(b)-before, clientCPUTime()-clientBefore
	return r
}

// clientCPUTime is the CPU time (user+system) this process has used.
func clientCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (r result) opsPerSec() float64 { return float64(len(r.lat)) / r.elapsed.Seconds() }

// percentileMS is the q-quantile (0 < q <= 1) of the latencies, in ms.
func (r result) percentileMS(q float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return float64(s[max(i, 0)]) / float64(time.Millisecond)
}

// report prints throughput, latency percentiles and the CPU time per
// operation in µs of the server and of the clients (less sensitive than
// throughput to other load on the machine). ns/op, the time of a whole
// fixed workload, says nothing here and is suppressed.
func (r result) report(b *testing.B) {
	b.ReportMetric(r.opsPerSec(), "ops/s")
	b.ReportMetric(r.percentileMS(0.50), "p50-ms")
	b.ReportMetric(r.percentileMS(0.99), "p99-ms")
	b.ReportMetric(float64(r.cpu.Microseconds())/float64(len(r.lat)), "srv-cpu-us/op")
	b.ReportMetric(float64(r.clientCPU.Microseconds())/float64(len(r.lat)), "cli-cpu-us/op")
	b.ReportMetric(0, "ns/op")
}

// runClients runs op for i in [0, n) on `clients` goroutines and times each call.
func runClients(ctx context.Context, n int, op func(ctx context.Context, i int) error) (result, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	start := time.Now()
	for range clients {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return nil
				}
				t := time.Now()
				if err := op(ctx, i); err != nil {
					return err
				}
				lat[i] = time.Since(t)
			}
		})
	}
	err := g.Wait()
	return result{lat: lat, elapsed: time.Since(start)}, err
}

func configMapName(i int) string { return fmt.Sprintf("cm-%05d", i) }

func newConfigMap(i int) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: configMapName(i), Labels: map[string]string{"app": "bench"}},
		Data:       map[string]string{"payload": strings.Repeat("0123456789abcdef", dataSize/16)},
	}
}

func createNamespace(b *testing.B, c kubernetes.Interface, name string) {
	b.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.CoreV1().Namespaces().Create(b.Context(), ns, metav1.CreateOptions{}); err != nil {
		b.Fatalf("creating namespace %s: %v", name, err)
	}
}

// createConfigMaps creates n ConfigMaps in a new namespace.
func createConfigMaps(b *testing.B, c kubernetes.Interface, ns string, n int) result {
	b.Helper()
	createNamespace(b, c, ns)
	cms := c.CoreV1().ConfigMaps(ns)
	r, err := runClients(b.Context(), n, func(ctx context.Context, i int) error {
		_, err := cms.Create(ctx, newConfigMap(i), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		b.Fatalf("create: %v", err)
	}
	return r
}

func getConfigMaps(b *testing.B, c kubernetes.Interface, ns string) result {
	b.Helper()
	cms := c.CoreV1().ConfigMaps(ns)
	r, err := runClients(b.Context(), objects, func(ctx context.Context, i int) error {
		_, err := cms.Get(ctx, configMapName(i), metav1.GetOptions{})
		return err
	})
	if err != nil {
		b.Fatalf("get: %v", err)
	}
	return r
}

// getUpdateConfigMaps reads each object and writes it back changed: the
// read-modify-write every controller does. Each object has one writer, so
// there are no conflicts.
func getUpdateConfigMaps(b *testing.B, c kubernetes.Interface, ns string, round int) result {
	b.Helper()
	cms := c.CoreV1().ConfigMaps(ns)
	r, err := runClients(b.Context(), objects, func(ctx context.Context, i int) error {
		cm, err := cms.Get(ctx, configMapName(i), metav1.GetOptions{})
		if err != nil {
			return err
		}
		cm.Data["round"] = strconv.Itoa(round)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		b.Fatalf("get+update: %v", err)
	}
	return r
}

// listConfigMaps lists the namespace unpaginated `rounds` times on each of
// `concurrency` clients.
func listConfigMaps(b *testing.B, c kubernetes.Interface, ns string, concurrency, rounds int) result {
	b.Helper()
	cms := c.CoreV1().ConfigMaps(ns)
	var r result
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(b.Context())
	start := time.Now()
	for range concurrency {
		g.Go(func() error {
			for range rounds {
				t := time.Now()
				list, err := cms.List(ctx, metav1.ListOptions{})
				if err != nil {
					return err
				}
				d := time.Since(t)
				if len(list.Items) != objects {
					return fmt.Errorf("list returned %d items, want %d", len(list.Items), objects)
				}
				mu.Lock()
				r.lat = append(r.lat, d)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("list: %v", err)
	}
	r.elapsed = time.Since(start)
	return r
}

func deleteConfigMaps(b *testing.B, c kubernetes.Interface, ns string) result {
	b.Helper()
	cms := c.CoreV1().ConfigMaps(ns)
	r, err := runClients(b.Context(), objects, func(ctx context.Context, i int) error {
		return cms.Delete(ctx, configMapName(i), metav1.DeleteOptions{})
	})
	if err != nil {
		b.Fatalf("delete: %v", err)
	}
	return r
}

// watchFanOut opens 50 watches on a new namespace, creates 2,000
// ConfigMaps in it from 16 clients, and times every delivery: from the
// writer's clock just before its create request to the watcher's clock
// when client-go hands it the decoded event. It returns the deliveries and
// the writes.
func watchFanOut(b *testing.B, c kubernetes.Interface, ns string) (deliveries, writes result) {
	b.Helper()
	createNamespace(b, c, ns)
	cms := c.CoreV1().ConfigMaps(ns)
	ctx, cancel := context.WithTimeout(b.Context(), 3*time.Minute)
	defer cancel()
	ws := make([]watch.Interface, watchers)
	for i := range ws {
		w, err := cms.Watch(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatalf("watch %d: %v", i, err)
		}
		defer w.Stop()
		ws[i] = w
	}
	lats := make([][]time.Duration, watchers)
	var g errgroup.Group
	for i, w := range ws {
		g.Go(func() error {
			lat := make([]time.Duration, 0, objects)
			for len(lat) < objects {
				select {
				case ev, ok := <-w.ResultChan():
					if !ok {
						return fmt.Errorf("watcher %d: closed after %d events", i, len(lat))
					}
					now := time.Now()
					cm, isCM := ev.Object.(*corev1.ConfigMap)
					if ev.Type != watch.Added || !isCM {
						return fmt.Errorf("watcher %d: unexpected %s event %T", i, ev.Type, ev.Object)
					}
					sent, err := strconv.ParseInt(cm.Annotations[sentAnnotation], 10, 64)
					if err != nil {
						return fmt.Errorf("watcher %d: %s: %w", i, cm.Name, err)
					}
					lat = append(lat, now.Sub(time.Unix(0, sent)))
				case <-ctx.Done():
					return fmt.Errorf("watcher %d: %d of %d events: %w", i, len(lat), objects, ctx.Err())
				}
			}
			lats[i] = lat
			return nil
		})
	}
	start := time.Now()
	writes, err := runClients(ctx, objects, func(ctx context.Context, i int) error {
		cm := newConfigMap(i)
		cm.Annotations = map[string]string{sentAnnotation: strconv.FormatInt(time.Now().UnixNano(), 10)}
		_, err := cms.Create(ctx, cm, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		b.Fatalf("watch writers: %v", err)
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	deliveries.elapsed = time.Since(start)
	for _, l := range lats {
		deliveries.lat = append(deliveries.lat, l...)
	}
	return deliveries, writes
}

// BenchmarkStartup times exec to /readyz on a fresh data dir (certificates
// and etcd bootstrap included) and on a restart of the same dir, and
// reads the idle memory after the first start: RSS, and of it anon (Go
// heap and stacks) and file (mostly the binary's pages).
func BenchmarkStartup(b *testing.B) {
	var fresh, restart, idle, anon, file []float64
	for range b.N {
		dir := b.TempDir()
		p := startK1s(b, dir)
		fresh = append(fresh, ms(p.ready))
		m := p.idleMemory(b)
		idle, anon, file = append(idle, m.rss), append(anon, m.anon), append(file, m.file)
		p.stop()
		p = startK1s(b, dir)
		restart = append(restart, ms(p.ready))
		p.stop()
	}
	b.ReportMetric(median(fresh), "ready-ms")
	b.ReportMetric(median(restart), "restart-ready-ms")
	b.ReportMetric(median(idle), "idle-rss-MB")
	b.ReportMetric(median(anon), "idle-anon-MB")
	b.ReportMetric(median(file), "idle-file-MB")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkCreate(b *testing.B) {
	p := startK1s(b, b.TempDir())
	var r result
	for i := range b.N {
		r.add(p.measure(b, func() result { return createConfigMaps(b, p.client, fmt.Sprintf("create-%d", i), objects) }))
	}
	r.report(b)
}

func BenchmarkGet(b *testing.B) {
	p := startK1s(b, b.TempDir())
	createConfigMaps(b, p.client, "get", objects)
	var r result
	for range b.N {
		r.add(p.measure(b, func() result { return getConfigMaps(b, p.client, "get") }))
	}
	r.report(b)
}

// BenchmarkGetUpdate reports get+update pairs per second; the latencies
// and CPU time are of the pair.
func BenchmarkGetUpdate(b *testing.B) {
	p := startK1s(b, b.TempDir())
	createConfigMaps(b, p.client, "update", objects)
	var r result
	for i := range b.N {
		r.add(p.measure(b, func() result { return getUpdateConfigMaps(b, p.client, "update", i) }))
	}
	r.report(b)
}

// BenchmarkList times unpaginated lists of the 2,000 ConfigMaps, one
// client at a time and 16 at once.
func BenchmarkList(b *testing.B) {
	p := startK1s(b, b.TempDir())
	createConfigMaps(b, p.client, "list", objects)
	for _, concurrency := range []int{1, clients} {
		b.Run(fmt.Sprintf("clients=%d", concurrency), func(b *testing.B) {
			rounds := listRounds
			if concurrency > 1 {
				rounds = 4
			}
			var r result
			for range b.N {
				r.add(p.measure(b, func() result { return listConfigMaps(b, p.client, "list", concurrency, rounds) }))
			}
			r.report(b)
		})
	}
}

// BenchmarkWatch reports watch delivery latency to 50 watchers while 16
// clients create 2,000 ConfigMaps: p50/p99 over all 100,000 deliveries,
// deliveries per second, the write throughput under that fan-out and the
// server's CPU time per delivery.
func BenchmarkWatch(b *testing.B) {
	p := startK1s(b, b.TempDir())
	var deliveries, writes result
	for i := range b.N {
		before, clientBefore := p.cpuTime(b), clientCPUTime()
		d, w := watchFanOut(b, p.client, fmt.Sprintf("watch-%d", i))
		d.cpu, d.clientCPU = p.cpuTime(b)-before, clientCPUTime()-clientBefore
		deliveries.add(d)
		writes.add(w)
	}
	b.ReportMetric(deliveries.percentileMS(0.50), "p50-ms")
	b.ReportMetric(deliveries.percentileMS(0.99), "p99-ms")
	b.ReportMetric(deliveries.opsPerSec(), "events/s")
	b.ReportMetric(writes.opsPerSec(), "writes/s")
	b.ReportMetric(float64(deliveries.cpu.Microseconds())/float64(len(deliveries.lat)), "srv-cpu-us/event")
	b.ReportMetric(float64(deliveries.clientCPU.Microseconds())/float64(len(deliveries.lat)), "cli-cpu-us/event")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkDelete(b *testing.B) {
	p := startK1s(b, b.TempDir())
	var r result
	for i := range b.N {
		ns := fmt.Sprintf("delete-%d", i)
		createConfigMaps(b, p.client, ns, objects)
		r.add(p.measure(b, func() result { return deleteConfigMaps(b, p.client, ns) }))
	}
	r.report(b)
}

// BenchmarkMemory reads the server's RSS (api-server and embedded etcd:
// one process) idle after start, after the whole load of the benchmarks
// above, and after 10,000 more ConfigMaps of 1 KiB data; each read follows
// 10 s idle. Of the RSS, anon is the Go heap and stacks, file the binary
// and etcd's mmapped database; peak is the high-water mark over the run.
func BenchmarkMemory(b *testing.B) {
	var idle, load, loadAnon, loadFile, many, anon, file, peak []float64
	for range b.N {
		p := startK1s(b, b.TempDir())
		idle = append(idle, p.idleMemory(b).rss)

		createConfigMaps(b, p.client, "load", objects)
		getConfigMaps(b, p.client, "load")
		getUpdateConfigMaps(b, p.client, "load", 1)
		listConfigMaps(b, p.client, "load", 1, listRounds)
		listConfigMaps(b, p.client, "load", clients, 4)
		watchFanOut(b, p.client, "load-watch")
		deleteConfigMaps(b, p.client, "load")
		deleteConfigMaps(b, p.client, "load-watch")
		m := p.idleMemory(b)
		load, loadAnon, loadFile = append(load, m.rss), append(loadAnon, m.anon), append(loadFile, m.file)

		createConfigMaps(b, p.client, "many", manyObjects)
		m = p.idleMemory(b)
		many, anon, file, peak = append(many, m.rss), append(anon, m.anon), append(file, m.file), append(peak, m.peak)
		p.stop()
	}
	b.ReportMetric(median(idle), "idle-rss-MB")
	b.ReportMetric(median(load), "load-rss-MB")
	b.ReportMetric(median(loadAnon), "load-anon-MB")
	b.ReportMetric(median(loadFile), "load-file-MB")
	b.ReportMetric(median(many), "10k-rss-MB")
	b.ReportMetric(median(anon), "10k-anon-MB")
	b.ReportMetric(median(file), "10k-file-MB")
	b.ReportMetric(median(peak), "peak-rss-MB")
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
