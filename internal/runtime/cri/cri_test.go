package cri

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/containerd"
	"github.com/k1s/k1s/internal/image"
	"github.com/k1s/k1s/internal/mountinfo"
	"github.com/k1s/k1s/internal/runtime"
	"github.com/k1s/k1s/internal/runtime/runtimetest"
)

// TestConformance runs the runtime suite against a private containerd child.
func TestConformance(t *testing.T) {
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

	endpoint := startContainerd(t)
	busyboxRef := serveBusybox(t)
	rt, err := New(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })

	cgroupRoot := "/k1s-test-" + randomHex()
	logRoot := t.TempDir()
	t.Cleanup(func() { removeCgroups(t, cgroupRoot) })
	t.Cleanup(func() { removeLeftoverSandboxes(t, rt) })

	env := runtimetest.Env{
		Image:        busyboxRef,
		MissingImage: "127.0.0.1:1/k1s/doesnotexist:v1", // refused at once, no DNS
		Sandbox: func(t *testing.T, config *runtimeapi.PodSandboxConfig) {
			uid := config.Metadata.Uid
			config.LogDirectory = filepath.Join(logRoot, uid)
			if err := os.MkdirAll(config.LogDirectory, 0o755); err != nil {
				t.Fatal(err)
			}
			// Host network: no CNI, nothing to clean up on the host.
			config.Linux = &runtimeapi.LinuxPodSandboxConfig{
				CgroupParent: cgroupRoot + "/pod-" + uid,
				SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
					NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
				},
			}
		},
		Container:   func(b runtimetest.Behaviour) *runtimeapi.ContainerConfig { return busyboxContainer(busyboxRef, b) },
		ExecCommand: busyboxExec,
		ExecOutput:  true,
		WritesLogs:  true,
	}
	runtimetest.Run(t, func(t *testing.T) (runtime.Runtime, runtimetest.Env) { return rt, env })
}

// busyboxContainer scripts b in busybox sh. The running case traps SIGTERM
// so that stopping takes no grace period (sh as PID 1 ignores SIGTERM).
func busyboxContainer(ref string, b runtimetest.Behaviour) *runtimeapi.ContainerConfig {
	script := `[ -n "$K1S_STDOUT" ] && echo "$K1S_STDOUT"; `
	if b.Exit {
		script += "exit " + strconv.Itoa(int(b.ExitCode))
	} else {
		script += "trap 'exit 0' TERM; sleep 3600 & wait"
	}
	config := &runtimeapi.ContainerConfig{
		Image:   &runtimeapi.ImageSpec{Image: ref},
		Command: []string{"/bin/sh", "-c", script},
	}
	if b.Stdout != "" {
		config.Envs = []*runtimeapi.KeyValue{{Key: "K1S_STDOUT", Value: []byte(b.Stdout)}}
	}
	return config
}

func busyboxExec(stdout string, exitCode int32) []string {
	return []string{"/bin/sh", "-c", `printf %s "$0"; exit ` + strconv.Itoa(int(exitCode)), stdout}
}

// startContainerd runs a private containerd (package containerd) with all
// its state in a temporary directory, waits until it holds the pause image,
// and stops it at cleanup, checking that no shim and no mount outlives it.
func startContainerd(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "k1s-cri") // t.TempDir() can be too long for a socket path
	if err != nil {
		t.Fatal(err)
	}
	sup, err := containerd.New(containerd.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("containerd Run: %v", err)
		}
		killShims(t, sup.Address())
		unmountUnder(t, dir)
		if t.Failed() {
			if log, err := os.ReadFile(sup.LogPath()); err == nil {
				t.Logf("containerd log (last 4 KiB):\n%s", tail(log, 4096))
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	waitCtx, waitCancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer waitCancel()
	if err := sup.WaitReady(waitCtx); err != nil {
		select {
		case err := <-done:
			t.Fatalf("containerd Run returned: %v", err)
		default:
		}
		t.Fatal(err)
	}
	return sup.Endpoint()
}

// serveBusybox serves a busybox image from an in-process registry on
// loopback, so that PullImage really pulls (containerd speaks plain HTTP to
// 127.0.0.1), and returns its reference.
func serveBusybox(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	const repo, tag = "k1s/busybox", "runtimetest"
	ref := host + "/" + repo + ":" + tag
	img, err := image.BusyboxImage(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := push(srv.URL, repo, tag, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

// push uploads img with the registry API's monolithic blob uploads.
func push(base, repo, tag string, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		digest, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if err := send(http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+digest.String(), "application/octet-stream", data); err != nil {
			return err
		}
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		return err
	}
	if err := send(http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+configDigest.String(), "application/octet-stream", config); err != nil {
		return err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return err
	}
	return send(http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, string(mediaType), manifest)
}

func send(method, url, contentType string, body []byte) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, msg)
	}
	return nil
}

// removeLeftoverSandboxes removes sandboxes a failed test left behind, so
// that containerd stops with no shims.
func removeLeftoverSandboxes(t *testing.T, rt *Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"k1s.test/suite": "runtimetest"}})
	if err != nil {
		t.Errorf("cleanup: ListPodSandbox: %v", err)
		return
	}
	for _, s := range list {
		t.Errorf("cleanup: sandbox %s (%s) left behind", s.Id, s.Metadata.GetName())
		if err := rt.RemovePodSandbox(ctx, s.Id); err != nil {
			t.Errorf("cleanup: RemovePodSandbox(%s): %v", s.Id, err)
		}
	}
}

// killShims kills containerd-shim processes serving sock: they outlive
// containerd when a task was not deleted.
func killShims(t *testing.T, sock string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if !strings.Contains(args[0], "containerd-shim") || !slices.Contains(args, sock) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		t.Errorf("cleanup: shim %d (%s) outlived containerd", pid, strings.Join(args, " "))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// unmountUnder detaches mounts under dir (deepest first) and reports them:
// containerd unmounts rootfs and shm when sandboxes are removed.
func unmountUnder(t *testing.T, dir string) {
	points, err := mountinfo.Points()
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	mounts := mountinfo.Under(points, dir)
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mounts {
		t.Errorf("cleanup: mount %s left behind", m)
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			t.Errorf("cleanup: unmount %s: %v", m, err)
		}
	}
}

// removeCgroups removes the test's cgroup tree in every hierarchy. The
// pod-level directories are expected: containerd removes only its leaves.
func removeCgroups(t *testing.T, root string) {
	tops, _ := filepath.Glob("/sys/fs/cgroup/*" + root)
	for _, top := range tops {
		var dirs []string
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cleanup: remove cgroup %s: %v", dirs[i], err)
			}
		}
	}
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
