package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/image"
	"github.com/k1s/k1s/internal/mountinfo"
)

// requireRuntime skips unless this machine can run pods.
func requireRuntime(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, bin := range []string{"containerd", "ctr", "runc", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			t.Skipf("CNI plugin %s not installed", p)
		}
	}
}

// shortTempDir is a temporary directory short enough for unix sockets
// (t.TempDir() paths can pass 108 bytes). It is removed at the end of
// the test, after lazily unmounting whatever is still mounted in it.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "k1sc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, m := range mountsUnder(dir) {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
				t.Logf("unmount %s: %v", m, err)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// mountsUnder lists mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	points, _ := mountinfo.Points()
	out := mountinfo.Under(points, dir)
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// removeCgroup removes a cgroupfs parent like /k1sctest/pod-1 from every
// hierarchy (v1 controllers and the v2 unified one).
func removeCgroup(t testing.TB, parent string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, root := range roots {
		for p := filepath.Join(root, parent); p != root && p != "/"; p = filepath.Dir(p) {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Logf("remove cgroup %s: %v", p, err)
				break
			}
		}
	}
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

func ppid(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may hold spaces.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	n, _ := strconv.Atoi(fields[1])
	return n
}

// waitFor polls cond every 20ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startRun(t testing.TB, c *Containerd) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	readyCtx, readyCancel := context.WithTimeout(ctx, 30*time.Second)
	defer readyCancel()
	if err := c.WaitReady(readyCtx); err != nil {
		log, _ := os.ReadFile(c.LogPath())
		t.Fatalf("WaitReady: %v\ncontainerd log:\n%s", err, log)
	}
	return stop
}

// TestRunPodsAndRestart starts a private containerd, runs a pod sandbox
// on a pod CIDR, kills containerd and sees it come back with the pod
// still there, stops it and sees the pod survive, then cleans up
// through a second Run.
func TestRunPodsAndRestart(t *testing.T) {
	requireRuntime(t)
	const podCIDR, bridge = "10.244.217.0/24", "k1sct0"
	dir := shortTempDir(t)
	t.Cleanup(func() { exec.Command("ip", "link", "del", bridge).Run() })
	cgroupParent := fmt.Sprintf("/k1sctest/pod-%d", os.Getpid())
	t.Cleanup(func() { removeCgroup(t, cgroupParent) })

	c, err := New(Options{DataDir: dir, PodCIDR: podCIDR, BridgeName: bridge, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	c.minBackoff = 50 * time.Millisecond
	stop := startRun(t, c)
	if got, want := c.Endpoint(), "unix://"+filepath.Join(dir, "containerd", "containerd.sock"); got != want {
		t.Errorf("Endpoint() = %s, want %s", got, want)
	}

	conn, err := grpc.NewClient(c.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt, images := runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	st, err := images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: image.PauseImageRef}})
	if err != nil || st.GetImage() == nil {
		t.Fatalf("pause image status = %v, %v", st, err)
	}

	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "p", Uid: "uid-k1sctest", Namespace: "default"},
		Hostname:     "p",
		LogDirectory: filepath.Join(dir, "pods"),
		Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: cgroupParent},
	}
	run, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		log, _ := os.ReadFile(c.LogPath())
		t.Fatalf("RunPodSandbox: %v\n%s", err, log)
	}
	id := run.PodSandboxId
	removed := false
	pausePID := 0
	t.Cleanup(func() {
		// The test failed half-way: take the pod down by hand.
		if !removed && pausePID > 0 {
			shim := ppid(pausePID)
			syscall.Kill(pausePID, syscall.SIGKILL)
			if shim > 1 {
				syscall.Kill(shim, syscall.SIGKILL)
			}
		}
	})

	status, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Pid int }
	if err := json.Unmarshal([]byte(status.Info["info"]), &info); err != nil || info.Pid == 0 {
		t.Fatalf("sandbox info: %v: %s", err, status.Info["info"])
	}
	pausePID = info.Pid
	ip, err := netip.ParseAddr(status.GetStatus().GetNetwork().GetIp())
	if err != nil || !netip.MustParsePrefix(podCIDR).Contains(ip) {
		t.Errorf("sandbox IP %q (%v), want one in %s", status.GetStatus().GetNetwork().GetIp(), err, podCIDR)
	}

	// A container from a locally built busybox image runs in the pod.
	const busybox = "k1s.local/busybox:k1sctest"
	bb, err := image.BusyboxImage(busybox, image.File{Path: "/etc/motd", Data: []byte("hello from k1s\n")})
	if err != nil {
		t.Fatal(err)
	}
	if err := image.LoadImage(ctx, c.Address(), "k8s.io", busybox, bb); err != nil {
		t.Fatal(err)
	}
	created, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: id,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
			Image:    &runtimeapi.ImageSpec{Image: busybox},
			Command:  []string{"sh", "-c", "cat /etc/motd > /tmp/out; exec sleep 1000"},
			LogPath:  "c.log",
		},
		SandboxConfig: cfg,
	})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	execCat := func() string {
		t.Helper()
		var out string
		waitFor(t, 10*time.Second, "the container's output", func() bool {
			resp, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: created.ContainerId, Cmd: []string{"cat", "/tmp/out"}, Timeout: 5})
			if err != nil {
				t.Fatalf("ExecSync: %v", err)
			}
			out = string(resp.Stdout)
			return resp.ExitCode == 0
		})
		return out
	}
	if got := execCat(); got != "hello from k1s\n" {
		t.Errorf("container wrote %q", got)
	}

	// Killed, containerd comes back by itself, and the pod is still there.
	pid1 := c.currentPID()
	if err := syscall.Kill(pid1, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a restarted containerd", func() bool { p := c.currentPID(); return p != 0 && p != pid1 })
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	status, err = rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil || status.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("after restart: status %v, %v", status.GetStatus().GetState(), err)
	}

	if got := execCat(); got != "hello from k1s\n" {
		t.Errorf("after restart: container wrote %q", got)
	}

	// Stopped, containerd is gone and the pod keeps running.
	pid2 := c.currentPID()
	shim := ppid(pausePID)
	stop()
	if alive(pid2) {
		t.Errorf("containerd %d still running after Run returned", pid2)
	}
	if !alive(pausePID) || !alive(shim) {
		t.Errorf("pod did not survive containerd's stop: pause %d alive %v, shim %d alive %v", pausePID, alive(pausePID), shim, alive(shim))
	}
	if _, err := os.Stat(c.pidPath()); !os.IsNotExist(err) {
		t.Errorf("pid file left after a clean stop: %v", err)
	}

	// A second Run over the same data dir finds the pod and removes it.
	startRun(t, c)
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	removed = true
	waitFor(t, 10*time.Second, "the pod's processes to end", func() bool { return !alive(pausePID) && !alive(shim) })
}

// TestStopStale: a process recorded in the pid file whose command line
// names our config (a containerd left by a k1s that was killed) is
// stopped before Run starts containerd; any other process is left alone.
func TestStopStale(t *testing.T) {
	tail, err := exec.LookPath("tail")
	if err != nil {
		t.Skip("no tail")
	}
	dir := t.TempDir()
	c, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c.stopTimeout = 5 * time.Second
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantKilled bool
	}{
		{"our containerd", []string{"containerd", "--config", c.configPath()}, true},
		{"someone else", []string{"containerd", "--config", "/etc/containerd/config.toml"}, false},
	}
	for _, tt := range tests {
		// tail follows /dev/null forever (the other "files" do not
		// exist) with args in its command line.
		cmd := exec.Command(tail, append([]string{"-f", "--", "/dev/null"}, tt.args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if err := os.WriteFile(c.pidPath(), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c.stopStale()
		// stopStale returns once its target is gone: a killed process
		// is reaped at once; a spared one gets 200ms to show it lives.
		wait := 200 * time.Millisecond
		if tt.wantKilled {
			wait = 30 * time.Second // a generous bound for a loaded machine
		}
		select {
		case <-exited:
			if !tt.wantKilled {
				t.Errorf("%s: killed", tt.name)
			}
		case <-time.After(wait):
			if tt.wantKilled {
				t.Errorf("%s: still running", tt.name)
			}
		}
		cmd.Process.Kill()
		<-exited
	}
	for _, pidfile := range []string{"garbage", "0", ""} {
		os.WriteFile(c.pidPath(), []byte(pidfile), 0o644)
		c.stopStale() // must not signal anything
	}
}

// TestReplacesLeftoverContainerd: Run stops a real containerd that an
// earlier k1s started for the same data dir and never stopped (it would
// hold containerd's database lock), then starts its own.
func TestReplacesLeftoverContainerd(t *testing.T) {
	requireRuntime(t)
	dir := shortTempDir(t)
	c, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.setup(); err != nil {
		t.Fatal(err)
	}
	left, exited, err := c.start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { left.Process.Kill() })
	startRun(t, c)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("leftover containerd %d still running", left.Process.Pid)
	}
	if pid := c.currentPID(); pid == 0 || pid == left.Process.Pid {
		t.Errorf("running containerd pid %d, leftover %d", pid, left.Process.Pid)
	}
}
