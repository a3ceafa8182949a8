package kubeletserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/k1s/k1s/internal/containerd"
	"github.com/k1s/k1s/internal/image"
	"github.com/k1s/k1s/internal/runtime/cri"
)

// criPods is the kubelet's view of one real container.
type criPods struct {
	ref     ContainerRef
	sandbox string
	rt      *cri.Runtime
}

func (p *criPods) Container(ctx context.Context, namespace, pod, container string) (ContainerRef, error) {
	if pod != "web" || (container != "" && container != "app") {
		return ContainerRef{}, ErrNotFound
	}
	return p.ref, nil
}

func (p *criPods) Sandbox(ctx context.Context, namespace, pod string) (string, error) {
	return p.sandbox, nil
}

func (p *criPods) ContainerRunning(ctx context.Context, containerID string) bool {
	st, err := p.rt.ContainerStatus(ctx, containerID)
	return err == nil && st.State == runtimeapi.ContainerState_CONTAINER_RUNNING
}

// TestContainerd runs logs, exec (WebSocket refused by containerd 1.6,
// then SPDY) and port-forward against a private containerd.
func TestContainerd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd")
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	if _, err := os.Stat(image.BusyboxPath); err != nil {
		t.Skipf("busybox-static not installed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	dir, err := os.MkdirTemp("", "k1s-ks") // short: the socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	sup, err := containerd.New(containerd.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	cdone := make(chan error, 1)
	go func() { cdone <- sup.Run(cctx) }()
	cgroupParent := "/k1s-ks-test-" + strconv.Itoa(os.Getpid())
	var rt *cri.Runtime
	var sandbox string
	t.Cleanup(func() {
		if sandbox != "" {
			sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := rt.StopPodSandbox(sctx, sandbox); err != nil {
				t.Errorf("cleanup: %v", err)
			}
			if err := rt.RemovePodSandbox(sctx, sandbox); err != nil {
				t.Errorf("cleanup: %v", err)
			}
			scancel()
		}
		if rt != nil {
			rt.Close()
		}
		ccancel()
		if err := <-cdone; err != nil {
			t.Errorf("containerd Run: %v", err)
		}
		removeCgroupTree(t, cgroupParent)
		if t.Failed() {
			if log, err := os.ReadFile(sup.LogPath()); err == nil && len(log) > 0 {
				t.Logf("containerd log (tail):\n%s", log[max(0, len(log)-3000):])
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := sup.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	const ref = "k1s.local/kubeletserver/busybox:test"
	img, err := image.BusyboxImage(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := image.LoadImage(ctx, sup.Address(), "k8s.io", ref, img); err != nil {
		t.Fatal(err)
	}
	rt, err = cri.New(sup.Endpoint())
	if err != nil {
		t.Fatal(err)
	}

	// A free host port for the pod's echo server (host network).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	logDir := filepath.Join(dir, "logs")
	os.MkdirAll(logDir, 0o755)
	sbConfig := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "ns", Uid: "uid-web"},
		LogDirectory: logDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: cgroupParent + "/pod-uid-web",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
			},
		},
	}
	sandbox, err = rt.RunPodSandbox(ctx, sbConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	script := "echo hello from app; echo oops >&2; exec nc -ll -p " + strconv.Itoa(port) + " -e cat"
	id, err := rt.CreateContainer(ctx, sandbox, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "app"},
		Image:    &runtimeapi.ImageSpec{Image: ref},
		Command:  []string{"/bin/sh", "-c", script},
		LogPath:  "app/0.log",
	}, sbConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	pods := &criPods{rt: rt, sandbox: sandbox, ref: ContainerRef{Name: "app", ContainerID: id, LogPath: filepath.Join(logDir, "app", "0.log")}}
	s, err := New(Options{Pods: pods, Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	t.Run("logs", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, body := get(t, srv.URL+"/containerLogs/ns/web/app")
			// stdout and stderr are separate pipes: either may come first.
			if code == 200 && (body == "hello from app\noops\n" || body == "oops\nhello from app\n") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("logs: %d %q", code, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("exec", func(t *testing.T) {
		cfg := &rest.Config{Host: srv.URL}
		q := neturl.Values{"command": {"sh", "-c", "cat; echo err >&2"}, "input": {"1"}, "output": {"1"}, "error": {"1"}}
		url := srv.URL + "/exec/ns/web/app?" + q.Encode()
		spdyExec, err := remotecommand.NewSPDYExecutor(cfg, "POST", mustURL(t, url))
		if err != nil {
			t.Fatal(err)
		}
		wsExec, err := remotecommand.NewWebSocketExecutor(cfg, "GET", url)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := remotecommand.NewFallbackExecutor(wsExec, spdyExec, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		start := time.Now()
		if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("via containerd\n"), Stdout: &stdout, Stderr: &stderr}); err != nil {
			t.Fatal(err)
		}
		t.Logf("exec took %v", time.Since(start))
		if stdout.String() != "via containerd\n" || stderr.String() != "err\n" {
			t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
		}
	})

	t.Run("portforward", func(t *testing.T) {
		cfg := &rest.Config{Host: srv.URL}
		u := mustURL(t, srv.URL+"/portForward/ns/web")
		transport, upgrader, err := spdy.RoundTripperFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", u)
		wsDialer, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
		if err != nil {
			t.Fatal(err)
		}
		dialer := portforward.NewFallbackDialer(wsDialer, spdyDialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
		stop, ready := make(chan struct{}), make(chan struct{})
		defer close(stop)
		fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stop, ready, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		fwErr := make(chan error, 1)
		go func() { fwErr <- fw.ForwardPorts() }()
		select {
		case <-ready:
		case err := <-fwErr:
			t.Fatalf("ForwardPorts: %v", err)
		case <-ctx.Done():
			t.Fatal("port-forward not ready")
		}
		ports, err := fw.GetPorts()
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := echoOnce(net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), "ping\n")
			if err == nil && got == "ping\n" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("echo through port-forward: %q, %v", got, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func echoOnce(addr, msg string) (string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(conn, msg); err != nil {
		return "", err
	}
	return bufio.NewReader(conn).ReadString('\n')
}

// removeCgroupTree removes the test's cgroup directories in every
// hierarchy (containerd leaves the pod-level parents).
func removeCgroupTree(t *testing.T, root string) {
	tops, _ := filepath.Glob("/sys/fs/cgroup/*" + root)
	for _, top := range tops {
		var dirs []string
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cleanup: remove cgroup %s: %v", dirs[i], err)
			}
		}
	}
}
