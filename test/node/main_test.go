package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k1s/k1s/internal/agent"
	"github.com/k1s/k1s/internal/image"
	"github.com/k1s/k1s/internal/localcluster"
	"github.com/k1s/k1s/internal/nodetoken"
	"github.com/k1s/k1s/internal/podnetwork"
	"github.com/k1s/k1s/internal/proxy"
	"github.com/k1s/k1s/internal/runtime/cri"
	"github.com/k1s/k1s/internal/server"
	"github.com/k1s/k1s/internal/testcluster"
)

const (
	nodeName   = "e2e-node"
	busybox    = "k1s.local/busybox:e2e"
	cgroupRoot = "/k1s-e2e"
	bridge     = "k1s-e2e0"
)

var (
	kubeconfig string
	serverURL  string
	token      string
	agentDir   string
	skipReason string
	stopAgent  func()
)

func TestMain(m *testing.M) {
	if reason := missing(); reason != "" {
		fmt.Println("node e2e: skipped:", reason)
		skipReason = reason
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "k1s-node-")
	if err != nil {
		panic(err)
	}
	code := run(m, dir)
	os.RemoveAll(dir)
	os.Exit(code)
}

// missing names what the machine lacks for these tests.
func missing() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	for _, bin := range []string{"containerd", "runc", "ctr", "kubectl"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " not installed"
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return "CNI plugins not installed"
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		return "busybox-static not installed"
	}
	return ""
}

func logger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("K1S_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func run(m *testing.M, dir string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Options{
			DataDir: filepath.Join(dir, "server"), HTTPSPort: 0, DisableAgent: true,
			NodeMonitorGracePeriod: 40 * time.Second,
			Logger:                 logger(),
			OnReady:                func(k string) { ready <- k },
		})
	}()
	select {
	case kubeconfig = <-ready:
	case err := <-done:
		fmt.Println("node e2e: server failed:", err)
		return 1
	case <-time.After(60 * time.Second):
		fmt.Println("node e2e: server not ready after 60s")
		return 1
	}
	defer func() { cancel(); <-done }()
	b, err := os.ReadFile(filepath.Join(dir, "server", nodetoken.FileName))
	if err != nil {
		fmt.Println("node e2e: no node token:", err)
		return 1
	}
	token = strings.TrimSpace(string(b))
	serverURL = serverFromKubeconfig(kubeconfig)
	agentDir = filepath.Join(dir, "agent")
	stop, err := startAgent(ctx)
	if err != nil {
		fmt.Println("node e2e: agent:", err)
		return 1
	}
	stopAgent = stop
	defer func() { stopAgent() }()
	img, err := image.BusyboxImage(busybox)
	if err != nil {
		fmt.Println("node e2e: building busybox image:", err)
		return 1
	}
	lctx, lcancel := context.WithTimeout(ctx, 60*time.Second)
	defer lcancel()
	if err := image.LoadImage(lctx, filepath.Join(agentDir, "containerd", "containerd.sock"), "k8s.io", busybox, img); err != nil {
		fmt.Println("node e2e: loading busybox image:", err)
		return 1
	}
	code := m.Run()
	if err := drainNode(ctx); err != nil {
		fmt.Println("node e2e: cleaning up:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// drainNode removes every pod and waits for the kubelet to tear their
// sandboxes down, so that no container, mount, veth or cgroup outlives
// the tests; what the kubelet could not remove is removed through CRI.
// It then stops the agent and removes the tests' cgroup root.
func drainNode(ctx context.Context) error {
	defer func() {
		stopAgent()
		if err := localcluster.RemoveCgroups(cgroupRoot); err != nil {
			fmt.Println("node e2e: removing the cgroups:", err)
		}
		exec.Command("ip", "link", "del", bridge).Run()
		// The agent's pod network programs this machine's netns.
		if err := podnetwork.Cleanup(); err != nil {
			fmt.Println("node e2e: removing the pod network's table:", err)
		}
		if err := proxy.Cleanup(""); err != nil {
			fmt.Println("node e2e: removing the proxy's table:", err)
		}
	}()
	kubectlRaw(ctx, "", "delete", "pods", "--all", "--all-namespaces", "--grace-period=0", "--force")
	rt, err := cri.New("unix://" + filepath.Join(agentDir, "containerd", "containerd.sock"))
	if err != nil {
		return err
	}
	defer rt.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		sbs, err := rt.ListPodSandbox(ctx, nil)
		if err != nil {
			return err
		}
		if len(sbs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, sb := range sbs {
				rt.StopPodSandbox(ctx, sb.Id)
				rt.RemovePodSandbox(ctx, sb.Id)
			}
			return fmt.Errorf("the kubelet left %d sandboxes behind", len(sbs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitRuntimeEmpty waits until the node's containerd holds no sandbox.
func waitRuntimeEmpty(t testing.TB) {
	t.Helper()
	rt, err := cri.New("unix://" + filepath.Join(agentDir, "containerd", "containerd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		sbs, err := rt.ListPodSandbox(context.Background(), nil)
		if err == nil && len(sbs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node still holds %d sandboxes", len(sbs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startAgent runs the node agent (joining with the node token) until the
// returned stop is called; stop waits for it.
func startAgent(ctx context.Context) (func(), error) {
	j, err := nodetoken.Join(ctx, nodetoken.JoinOptions{Server: serverURL, Token: token, Dir: filepath.Join(agentDir, "pki"), Log: logger()})
	if err != nil {
		return nil, err
	}
	creds, err := j.EnsureAgent(ctx, nodeName)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(actx, agent.Options{
			Config: creds.Node, ProxyConfig: creds.Proxy, ProvisionerConfig: creds.Provisioner,
			NodeName: nodeName, DataDir: agentDir, NodeIP: "127.0.0.1",
			KubeletPort: -1, PodCIDR: "10.42.200.0/24", CgroupRoot: cgroupRoot, BridgeName: bridge,
			Log: logger(), OnReady: func() { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("agent stopped: %v", err)
	case <-time.After(90 * time.Second):
		cancel()
		return nil, fmt.Errorf("agent not ready after 90s")
	}
	stopped := false
	return func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			fmt.Println("node e2e: agent:", err)
		}
	}, nil
}

func serverFromKubeconfig(path string) string {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "server: "); ok {
			return v
		}
	}
	return ""
}

func needNode(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

func kubectlRaw(ctx context.Context, stdin string, args ...string) (string, string, error) {
	return testcluster.Kubectl(ctx, kubeconfig, stdin, args...)
}

func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return testcluster.MustKubectl(t, kubeconfig, stdin, args...)
}

func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	testcluster.Eventually(t, timeout, f)
}

// jsonpath reads one field of an object with kubectl.
func jsonpath(t *testing.T, kind, name, path string) string {
	t.Helper()
	out, _, err := kubectlRaw(context.Background(), "", "get", kind, name, "-o", "jsonpath="+path)
	if err != nil {
		return ""
	}
	return out
}

// waitJSONPath polls a field until it equals want.
func waitJSONPath(t *testing.T, timeout time.Duration, kind, name, path, want string) {
	t.Helper()
	eventually(t, timeout, func() error {
		if got := jsonpath(t, kind, name, path); got != want {
			return fmt.Errorf("%s/%s %s = %q, want %q", kind, name, path, got, want)
		}
		return nil
	})
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
