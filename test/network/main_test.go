package network

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/k1s/k1s/internal/image"
	"github.com/k1s/k1s/internal/localcluster"
	"github.com/k1s/k1s/internal/nodetoken"
	"github.com/k1s/k1s/internal/testcluster"
)

const (
	bridgeName = "k1sn-br"
	hostAddr   = "10.201.0.1"
	busybox    = "k1s.local/busybox:network-e2e"
)

// node is one agent in its network namespace.
type node struct {
	name, netns, addr, dataDir, cgroupRoot, hostVeth string
	cmd                                              *exec.Cmd
	log                                              string
}

var (
	bin        string
	kubeconfig string
	skipReason string
	nodes      []*node
	workDir    string
)

func TestMain(m *testing.M) {
	if reason := missing(); reason != "" {
		fmt.Println("network e2e: skipped:", reason)
		skipReason = reason
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "k1s-net-")
	if err != nil {
		panic(err)
	}
	workDir = dir
	code := run(m)
	if code != 0 || os.Getenv("K1S_TEST_LOG") != "" {
		dumpLogs()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func missing() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	bin = os.Getenv("K1S_BIN")
	if bin == "" {
		return "K1S_BIN is not set; `make test` sets it to the built binary"
	}
	for _, b := range []string{"containerd", "runc", "ctr", "kubectl", "nsenter", "ip", "nft"} {
		if _, err := exec.LookPath(b); err != nil {
			return b + " not installed"
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

func run(m *testing.M) (code int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer teardown()
	if err := setupBridge(); err != nil {
		fmt.Println("network e2e:", err)
		return 1
	}
	port, err := freePort(hostAddr)
	if err != nil {
		fmt.Println("network e2e:", err)
		return 1
	}
	serverDir := filepath.Join(workDir, "server")
	server := exec.Command(bin, "server", "--data-dir", serverDir, "--bind-address", hostAddr,
		"--https-listen-port", strconv.Itoa(port), "--disable-agent", "--node-monitor-grace-period", "40s")
	if err := startLogged(server, filepath.Join(workDir, "server.log")); err != nil {
		fmt.Println("network e2e: server:", err)
		return 1
	}
	defer stopProcess(server)
	kubeconfig = filepath.Join(serverDir, "kubeconfig.yaml")
	url := "https://" + net.JoinHostPort(hostAddr, strconv.Itoa(port))
	var token string
	if err := poll(60*time.Second, func() error {
		b, err := os.ReadFile(filepath.Join(serverDir, nodetoken.FileName))
		if err != nil {
			return err
		}
		token = strings.TrimSpace(string(b))
		_, _, err = kubectlRaw(ctx, "", "get", "--raw", "/readyz")
		return err
	}); err != nil {
		fmt.Println("network e2e: server not ready:", err)
		return 1
	}
	img, err := image.BusyboxImage(busybox)
	if err != nil {
		fmt.Println("network e2e: busybox image:", err)
		return 1
	}
	for i := 1; i <= 2; i++ {
		n, err := addNode(ctx, i, url, token)
		if err != nil {
			fmt.Println("network e2e:", err)
			return 1
		}
		lctx, lcancel := context.WithTimeout(ctx, 90*time.Second)
		err = image.LoadImage(lctx, filepath.Join(n.dataDir, "containerd", "containerd.sock"), "k8s.io", busybox, img)
		lcancel()
		if err != nil {
			fmt.Println("network e2e: loading busybox on", n.name+":", err)
			return 1
		}
	}
	for _, n := range nodes {
		if err := poll(90*time.Second, func() error {
			out, _, err := kubectlRaw(ctx, "", "get", "node", n.name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			if err != nil || out != "True" {
				return fmt.Errorf("node %s Ready=%q (%v)", n.name, out, err)
			}
			return nil
		}); err != nil {
			fmt.Println("network e2e:", err)
			return 1
		}
	}
	// The add-ons run from the k1s image each agent loaded.
	if err := poll(3*time.Minute, func() error {
		out, _, err := kubectlRaw(ctx, "", "-n", "kube-system", "get", "deployment", "k1s-dns", "-o", "jsonpath={.status.readyReplicas}")
		if err != nil || out != "1" {
			return fmt.Errorf("cluster DNS ready replicas %q (%v)", out, err)
		}
		out, _, err = kubectlRaw(ctx, "", "-n", "kube-system", "get", "daemonset", "k1s-ingress", "-o", "jsonpath={.status.numberReady}")
		if err != nil || out != "2" {
			return fmt.Errorf("ingress controllers ready %q (%v)", out, err)
		}
		return nil
	}); err != nil {
		fmt.Println("network e2e: add-ons:", err)
		out, _, _ := kubectlRaw(ctx, "", "get", "pods", "-A", "-o", "wide")
		fmt.Println(out)
		out, _, _ = kubectlRaw(ctx, "", "-n", "kube-system", "get", "pods", "-o", "jsonpath={.items[*].metadata.name}")
		for _, p := range strings.Fields(out) {
			logs, errOut, _ := kubectlRaw(ctx, "", "-n", "kube-system", "logs", p, "--tail=30")
			fmt.Printf("==== logs of %s\n%s%s\n", p, logs, errOut)
		}
		out, _, _ = kubectlRaw(ctx, "", "-n", "kube-system", "get", "events")
		fmt.Println(out)
		return 1
	}
	code = m.Run()
	if err := drain(ctx); err != nil {
		fmt.Println("network e2e: cleaning up:", err)
		if code == 0 {
			code = 1
		}
	}
	if err := proxyCleanup(); err != nil {
		fmt.Println("network e2e: k1s proxy --cleanup:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// proxyCleanup stops the agents and checks that `k1s proxy --cleanup`
// leaves no table of the proxy's in the nodes' namespaces.
func proxyCleanup() error {
	for _, n := range nodes {
		stopProcess(n.cmd)
		n.cmd = nil
		before, err := inNode(n, "nft", "list", "tables")
		if err != nil {
			return fmt.Errorf("nft list tables: %v: %s", err, before)
		}
		if !strings.Contains(before, "k1s-proxy") {
			return fmt.Errorf("node %s had no k1s-proxy table to clean up: %q", n.name, before)
		}
		if out, err := inNode(n, bin, "proxy", "--cleanup"); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		after, err := inNode(n, "nft", "list", "tables")
		if err != nil {
			return fmt.Errorf("nft list tables: %v: %s", err, after)
		}
		if strings.Contains(after, "k1s-proxy") {
			return fmt.Errorf("node %s still has the table after cleanup: %q", n.name, after)
		}
	}
	return nil
}

// setupBridge makes the host's side of the node network.
func setupBridge() error {
	exec.Command("ip", "link", "del", bridgeName).Run() // a previous run's
	for _, args := range [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"addr", "add", hostAddr + "/24", "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// addNode creates node i's namespace and starts its agent there.
func addNode(ctx context.Context, i int, url, token string) (*node, error) {
	n := &node{
		name:       fmt.Sprintf("net-n%d", i),
		netns:      fmt.Sprintf("k1sn-n%d", i),
		addr:       fmt.Sprintf("10.201.0.%d", 10+i),
		dataDir:    filepath.Join(workDir, fmt.Sprintf("n%d", i)),
		cgroupRoot: fmt.Sprintf("/k1s-net-n%d", i),
		hostVeth:   fmt.Sprintf("k1sn-v%d", i),
	}
	nodes = append(nodes, n)
	exec.Command("ip", "netns", "del", n.netns).Run()
	for _, args := range [][]string{
		{"netns", "add", n.netns},
		{"link", "add", n.hostVeth, "type", "veth", "peer", "name", "eth0", "netns", n.netns},
		{"link", "set", n.hostVeth, "master", bridgeName},
		{"link", "set", n.hostVeth, "up"},
		{"-n", n.netns, "addr", "add", n.addr + "/24", "dev", "eth0"},
		{"-n", n.netns, "link", "set", "eth0", "up"},
		{"-n", n.netns, "link", "set", "lo", "up"},
		// No default route, so that nothing reaches beyond the test's
		// addresses; Service IPs need a route for the node's own
		// (hostNetwork) clients, whose packets are routed before the
		// proxy's DNAT, as a real node's default route gives them.
		{"-n", n.netns, "route", "add", "10.43.0.0/16", "via", hostAddr},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	n.cmd = exec.Command("nsenter", "--net=/var/run/netns/"+n.netns, bin, "agent",
		"--server", url, "--token", token, "--node-name", n.name, "--node-ip", n.addr,
		"--data-dir", n.dataDir, "--cgroup-root", n.cgroupRoot)
	n.log = filepath.Join(workDir, n.name+".log")
	if err := startLogged(n.cmd, n.log); err != nil {
		return nil, fmt.Errorf("agent %s: %w", n.name, err)
	}
	sock := filepath.Join(n.dataDir, "containerd", "containerd.sock")
	if err := poll(60*time.Second, func() error {
		if n.cmd.ProcessState != nil {
			return fmt.Errorf("agent %s exited", n.name)
		}
		_, err := os.Stat(sock)
		return err
	}); err != nil {
		return nil, err
	}
	return n, nil
}

// drain deletes every workload and pod and waits until the nodes'
// runtimes hold no sandbox, so that stopping the agents leaves nothing.
func drain(ctx context.Context) error {
	for _, ns := range []string{"default", "kube-system"} {
		kubectlRaw(ctx, "", "-n", ns, "delete", "deployments,daemonsets,statefulsets,replicasets", "--all", "--wait=false")
	}
	var err error
	for range 3 {
		kubectlRaw(ctx, "", "delete", "pods", "--all", "--all-namespaces", "--grace-period=0", "--force")
		err = poll(60*time.Second, func() error {
			for _, n := range nodes {
				out, _ := exec.Command("ctr", "-a", filepath.Join(n.dataDir, "containerd", "containerd.sock"), "-n", "k8s.io", "tasks", "ls", "-q").Output()
				if s := strings.TrimSpace(string(out)); s != "" {
					return fmt.Errorf("node %s still runs tasks %s", n.name, strings.ReplaceAll(s, "\n", " "))
				}
			}
			return nil
		})
		if err == nil {
			return nil
		}
	}
	return err
}

// teardown stops the agents and removes what the test made: whatever
// process still runs in a node's cgroups or under the work dir, mounts
// under it, the cgroups, the namespaces (with their veths and nftables
// tables) and the bridge.
func teardown() {
	var roots []string
	for _, n := range nodes {
		if n.cmd != nil {
			stopProcess(n.cmd)
		}
		roots = append(roots, n.cgroupRoot)
	}
	if err := localcluster.Reap(workDir, roots); err != nil {
		fmt.Println("network e2e: teardown:", err)
	}
	for _, n := range nodes {
		exec.Command("ip", "netns", "del", n.netns).Run()
		exec.Command("ip", "link", "del", n.hostVeth).Run()
	}
	// The pods' netns mounts are in the nodes' state dirs (unmounted
	// above with the rest).
	exec.Command("ip", "link", "del", bridgeName).Run()
}

func startLogged(cmd *exec.Cmd, logPath string) error {
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	go func() { cmd.Wait(); f.Close() }()
	return nil
}

// stopProcess sends SIGTERM and waits up to 30 s before SIGKILL.
func stopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(cmd.Process.Pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
}

func dumpLogs() {
	files, _ := filepath.Glob(filepath.Join(workDir, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.Split(string(b), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		fmt.Printf("==== %s (last lines)\n%s\n", filepath.Base(f), strings.Join(lines, "\n"))
	}
}

func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// poll calls f until it returns nil or timeout passes.
func poll(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func needCluster(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

func kubectlRaw(ctx context.Context, stdin string, args ...string) (string, string, error) {
	return testcluster.Kubectl(ctx, kubeconfig, stdin, args...)
}

func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return testcluster.MustKubectl(t, kubeconfig, stdin, args...)
}

func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	testcluster.Eventually(t, timeout, f)
}

// inNode runs a command in node n's network namespace (as the node
// itself would, not in a pod).
func inNode(n *node, args ...string) (string, error) {
	out, err := exec.Command("nsenter", append([]string{"--net=/var/run/netns/" + n.netns}, args...)...).CombinedOutput()
	return string(out), err
}
