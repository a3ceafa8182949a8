package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// BenchmarkHollowNodes runs `k1s simulate` against a `k1s server`:
// K1S_HOLLOW_NODES hollow nodes (default 1,000; the memory target
// is for 5,000, see docs/benchmarks.md) in one process register
// and turn Ready; then 2,000 pods are created, scheduled and run on them.
// Reported: the simulate process's resident memory (target: 5,000 nodes
// within 4 GiB), time until every node is Ready, and pods/s from create
// to Running.
func BenchmarkHollowNodes(b *testing.B) {
	nodes := 1000
	if v := os.Getenv("K1S_HOLLOW_NODES"); v != "" {
		nodes, _ = strconv.Atoi(v)
	}
	const pods = 2000
	dir := b.TempDir()
	server := startK1s(b, dir)
	token, err := os.ReadFile(filepath.Join(dir, "node-token"))
	if err != nil {
		b.Fatal(err)
	}
	logPath := filepath.Join(b.TempDir(), "simulate.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	start := time.Now()
	cmd := exec.Command(os.Getenv("K1S_BIN"), "simulate", "--server", server.config.Host,
		"--token", strings.TrimSpace(string(token)), "--nodes", strconv.Itoa(nodes), "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	sim := &process{b: b, cmd: cmd, done: make(chan error, 1), log: logPath}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { sim.done <- cmd.Wait() }()
	b.Cleanup(sim.stop)
	ctx := context.Background()
	c := server.client
	waitFor(b, sim, 10*time.Minute, func() (bool, string) {
		l, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, n := range l.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == nodes, fmt.Sprintf("%d of %d nodes ready", ready, nodes)
	})
	registered := time.Since(start)
	mem := sim.memory(b)

	createNamespace(b, c, "hollow")
	t0 := time.Now()
	_, err = runClients(ctx, pods, func(ctx context.Context, i int) error {
		_, err := c.CoreV1().Pods("hollow").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i)},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](0), Containers: []corev1.Container{{
				Name: "c", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
			}}},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	waitFor(b, sim, 10*time.Minute, func() (bool, string) {
		l, err := c.CoreV1().Pods("hollow").List(ctx, metav1.ListOptions{ResourceVersion: "0", FieldSelector: "status.phase=Running"})
		if err != nil {
			return false, err.Error()
		}
		return len(l.Items) == pods, fmt.Sprintf("%d of %d pods running", len(l.Items), pods)
	})
	podsPerSec := float64(pods) / time.Since(t0).Seconds()
	after := sim.memory(b)
	b.ReportMetric(float64(nodes), "nodes")
	b.ReportMetric(registered.Seconds(), "s-to-all-ready")
	b.ReportMetric(mem.rss, "MiB-rss-idle")
	b.ReportMetric(after.rss, "MiB-rss-with-pods")
	b.ReportMetric(podsPerSec, "pods/s-to-running")
	b.ReportMetric(server.memory(b).rss, "MiB-server-rss")
}

// waitFor polls cond every second until it holds, failing after timeout
// or when the simulate process exits.
func waitFor(b *testing.B, sim *process, timeout time.Duration, cond func() (bool, string)) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		select {
		case err := <-sim.done:
			sim.done <- err
			b.Fatalf("simulate exited: %v\n%s", err, sim.logTail())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %v: %s\n%s", timeout, msg, sim.logTail())
		}
		time.Sleep(time.Second)
	}
}
