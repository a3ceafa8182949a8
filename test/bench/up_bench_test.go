package bench

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// BenchmarkUp times `k1s up` of a one-node cluster until it returns
// (the node Ready, DNS and the ingress serving): on a fresh data dir
// (the k1s image is loaded into the node's new containerd) and resumed
// after `k1s down`. Needs root and containerd.
func BenchmarkUp(b *testing.B) {
	bin := os.Getenv("K1S_BIN")
	if bin == "" || os.Geteuid() != 0 {
		b.Skip("needs root and K1S_BIN (make bench)")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		b.Skip("containerd not installed")
	}
	port := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	}
	run := func(args ...string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			b.Fatalf("k1s %v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	var fresh, resumed []float64
	for range b.N {
		dir := b.TempDir()
		fresh = append(fresh, run("up", "--data-dir", dir, "--api-port", port(), "--ingress-http-port", port(), "--ingress-https-port", port()).Seconds())
		run("down", "--data-dir", dir)
		resumed = append(resumed, run("up", "--data-dir", dir).Seconds())
		run("down", "--data-dir", dir, "--purge")
	}
	b.ReportMetric(median(fresh), "up-s")
	b.ReportMetric(median(resumed), "resume-s")
	b.ReportMetric(0, "ns/op")
}
