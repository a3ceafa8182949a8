package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	k1sdemo "github.com/k1s/k1s/internal/demo"
	"github.com/k1s/k1s/internal/localcluster"
	"github.com/k1s/k1s/internal/testcluster"
)

const (
	nodes     = 3
	namespace = "my-app"
	// demoSteps is how many steps `k1s demo` runs; with three nodes none
	// may be skipped.
	demoSteps = 7
)

// prerequisites returns the k1s binary, or skips the test saying what is
// missing.
func prerequisites(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	bin := os.Getenv("K1S_BIN")
	if bin == "" {
		t.Skip("K1S_BIN is not set; `make test` sets it to the built binary")
	}
	for _, b := range []string{"go", "containerd", "runc", "ctr", "kubectl", "nsenter", "ip", "nft"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skip(b + " not installed")
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("CNI plugins not installed")
	}
	return bin
}

// k1s runs the k1s binary and returns its output. The output goes
// through a file, not a pipe: `k1s up` leaves processes running that
// must not hold the test's end of a pipe open.
func k1s(ctx context.Context, t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	out, err := os.CreateTemp(t.TempDir(), "k1s-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	runErr := cmd.Run()
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("k1s %s: %v after %s", strings.Join(args, " "), errOrOK(runErr), time.Since(start).Round(100*time.Millisecond))
	return string(b), runErr
}

func errOrOK(err error) any {
	if err == nil {
		return "ok"
	}
	return err
}

// mustK1s is k1s that fails the test on an error.
func mustK1s(ctx context.Context, t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := k1s(ctx, t, bin, args...)
	if err != nil {
		t.Fatalf("k1s %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lineLogger passes each line written to it to t.Log.
type lineLogger struct {
	t    *testing.T
	mu   sync.Mutex
	buf  bytes.Buffer
	all  bytes.Buffer
	done bool
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line) // incomplete: keep it for the next write
			return len(p), nil
		}
		if !l.done {
			l.t.Log(strings.TrimRight(line, "\n"))
		}
	}
}

func (l *lineLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// TestDemo is issue 8's end to end: k1s up with three nodes, k1s demo,
// k1s status, k1s down leaving nothing behind, k1s up resuming with the
// data intact, k1s down --purge.
func TestDemo(t *testing.T) {
	bin := prerequisites(t)
	moduleDir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	dataDir, err := os.MkdirTemp("", "k1s-demo-")
	if err != nil {
		t.Fatal(err)
	}
	before := snapshotHost(t)
	port := freePort(t)
	// Every port of the cluster is free now: whatever else this machine
	// runs on the defaults (6443, 80, 443) stays out of the test.
	ports := []string{"--api-port", strconv.Itoa(freePort(t)),
		"--ingress-http-port", strconv.Itoa(port), "--ingress-https-port", strconv.Itoa(freePort(t))}
	t.Cleanup(func() {
		if _, err := os.Stat(dataDir); err != nil {
			return // purged: the test got to its end
		}
		if t.Failed() {
			dumpCluster(t, dataDir)
		}
		out, err := k1s(context.Background(), t, bin, "down", "--purge", "--data-dir", dataDir)
		if err != nil {
			t.Errorf("cleaning up: k1s down --purge: %v\n%s", err, out)
		}
	})

	// A three-node cluster; `k1s up` returns once it is ready.
	mustK1s(ctx, t, bin, append([]string{"up", "--nodes", strconv.Itoa(nodes), "--data-dir", dataDir}, ports...)...)
	state, err := localcluster.Load(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(state.Nodes) != nodes || state.IngressHTTPPort != port {
		t.Fatalf("state: %d nodes, Ingress port %d; want %d nodes, port %d", len(state.Nodes), state.IngressHTTPPort, nodes, port)
	}

	// The demo: its steps are the assertions.
	out := &lineLogger{t: t}
	t.Cleanup(func() { out.mu.Lock(); out.done = true; out.mu.Unlock() })
	err = k1sdemo.Run(ctx, k1sdemo.Options{
		DataDir: dataDir, ModuleDir: moduleDir, K1sBinary: bin, Namespace: namespace, Out: out,
	})
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	if got := strings.Count(out.String(), "  ✓ "); got != demoSteps {
		t.Errorf("%d steps passed, want all %d (none skipped with %d nodes)", got, demoSteps, nodes)
	}
	ingress := k1sdemo.NewIngress(port)
	r, err := ingress.Get(ctx, "/kv/"+k1sdemo.Key)
	if err != nil {
		t.Fatalf("reading the demo's key: %v", err)
	}
	value := r.Body
	if !strings.HasPrefix(value, "written by k1s demo at ") {
		t.Errorf("the demo's key holds %q", value)
	}

	if out, err := k1s(ctx, t, bin, "status", "--data-dir", dataDir); err != nil {
		t.Errorf("k1s status: %v\n%s", err, out)
	}

	// Down: nothing of the cluster is left on the host, but its data is.
	mustK1s(ctx, t, bin, "down", "--data-dir", dataDir)
	for _, l := range leftovers(t, before, state, dataDir) {
		t.Errorf("after k1s down: %s", l)
	}
	if _, err := os.Stat(filepath.Join(dataDir, localcluster.StateFile)); err != nil {
		t.Fatalf("k1s down without --purge removed the state: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Up again, as a user would type it again: the same cluster, the
	// application and its data back.
	mustK1s(ctx, t, bin, append([]string{"up", "--data-dir", dataDir}, ports...)...)
	resumed, err := localcluster.Load(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.IngressHTTPPort != port || len(resumed.Nodes) != nodes {
		t.Errorf("resumed with %d nodes and Ingress port %d; want %d, %d", len(resumed.Nodes), resumed.IngressHTTPPort, nodes, port)
	}
	checkObjects(ctx, t, resumed.Kubeconfig)
	testcluster.Eventually(t, 3*time.Minute, func() error {
		r, err := ingress.Get(ctx, "/kv/"+k1sdemo.Key)
		if err != nil {
			return err
		}
		if r.Body != value {
			return fmt.Errorf("%s = %q after the restart, want %q", k1sdemo.Key, r.Body, value)
		}
		return nil
	})

	// The demo again, on the resumed cluster that has the application:
	// its steps are idempotent.
	if testing.Short() {
		t.Log("-short: not running the demo a second time")
	} else {
		second := &lineLogger{t: t}
		t.Cleanup(func() { second.mu.Lock(); second.done = true; second.mu.Unlock() })
		err = k1sdemo.Run(ctx, k1sdemo.Options{
			DataDir: dataDir, ModuleDir: moduleDir, K1sBinary: bin, Namespace: namespace, Out: second,
		})
		if err != nil {
			t.Fatalf("demo, second run: %v", err)
		}
		if got := strings.Count(second.String(), "  ✓ "); got != demoSteps {
			t.Errorf("second run: %d steps passed, want all %d", got, demoSteps)
		}
	}

	// Purge: the data dir goes too.
	mustK1s(ctx, t, bin, "down", "--purge", "--data-dir", dataDir)
	if _, err := os.Stat(dataDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after k1s down --purge the data dir is still there: %v", err)
	}
	for _, l := range leftovers(t, before, resumed, dataDir) {
		t.Errorf("after k1s down --purge: %s", l)
	}
}

// checkObjects checks that the application's objects survived the
// restart.
func checkObjects(ctx context.Context, t *testing.T, kubeconfig string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := metav1.GetOptions{}
	checks := []struct {
		what string
		get  func() error
	}{
		{"namespace " + namespace, func() error { _, err := cs.CoreV1().Namespaces().Get(ctx, namespace, get); return err }},
		{"deployment my-app", func() error { _, err := cs.AppsV1().Deployments(namespace).Get(ctx, "my-app", get); return err }},
		{"statefulset db", func() error { _, err := cs.AppsV1().StatefulSets(namespace).Get(ctx, "db", get); return err }},
		{"service my-app", func() error { _, err := cs.CoreV1().Services(namespace).Get(ctx, "my-app", get); return err }},
		{"service db-service", func() error { _, err := cs.CoreV1().Services(namespace).Get(ctx, "db-service", get); return err }},
		{"configmap my-app-config", func() error {
			_, err := cs.CoreV1().ConfigMaps(namespace).Get(ctx, "my-app-config", get)
			return err
		}},
		{"secret db-credentials", func() error {
			_, err := cs.CoreV1().Secrets(namespace).Get(ctx, "db-credentials", get)
			return err
		}},
		{"ingress my-app", func() error {
			_, err := cs.NetworkingV1().Ingresses(namespace).Get(ctx, "my-app", get)
			return err
		}},
		{"persistentvolumeclaim data-db-0", func() error {
			pvc, err := cs.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, "data-db-0", get)
			if err == nil && pvc.Spec.VolumeName == "" {
				return errors.New("not bound")
			}
			return err
		}},
	}
	// The api-server answers once `k1s up` returns; allow a moment for a
	// connection refused while it settles.
	for _, c := range checks {
		testcluster.Eventually(t, 30*time.Second, func() error {
			err := c.get()
			if apierrors.IsNotFound(err) {
				t.Fatalf("after the restart: %s is gone", c.what)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", c.what, err)
			}
			return nil
		})
	}
}

// dumpCluster logs what helps understand a failure: the pods, the
// events and the last lines of every log in the data dir.
func dumpCluster(t *testing.T, dataDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if state, err := localcluster.Load(dataDir); err == nil {
		for _, args := range [][]string{
			{"get", "nodes,pods", "-A", "-o", "wide"},
			{"get", "events", "-A", "--sort-by", ".lastTimestamp"},
		} {
			out, errOut, _ := testcluster.Kubectl(ctx, state.Kubeconfig, "", args...)
			t.Logf("kubectl %s:\n%s%s", strings.Join(args, " "), out, errOut)
		}
	}
	filepath.WalkDir(dataDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".log") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("==== %s (last %d lines)\n%s", p, len(lines), strings.Join(lines, "\n"))
		return nil
	})
}
