package image

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func digest(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestBuildIsDeterministic(t *testing.T) {
	files := []File{{Path: "/a/b", Data: []byte("x")}, {Path: "c", Link: "a/b"}}
	cfg := ImageConfig{Entrypoint: []string{"/a/b"}, Env: []string{"A=1"}}
	img1, err := Build("k1s.local/t:1", files, cfg)
	if err != nil {
		t.Fatal(err)
	}
	img2, err := Build("k1s.local/t:1", []File{files[1], files[0]}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := digest(t, img2), digest(t, img1); got != want {
		t.Errorf("same inputs: digest %s, want %s", got, want)
	}
	img3, err := Build("k1s.local/t:1", []File{{Path: "/a/b", Data: []byte("y")}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, img3) == digest(t, img1) {
		t.Errorf("different content gave the same digest")
	}
	cf, err := img1.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != runtime.GOARCH || cf.OS != "linux" || cf.Config.Entrypoint[0] != "/a/b" || cf.Config.Env[0] != "A=1" {
		t.Errorf("config = %+v", cf)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		ref   string
		files []File
	}{
		{"bad ref", "UPPER/case::x", nil},
		{"empty path", "k1s.local/t:1", []File{{Path: "/"}}},
		{"missing host file", "k1s.local/t:1", []File{{Path: "x", HostPath: "/nonexistent/k1s"}}},
		{"host dir", "k1s.local/t:1", []File{{Path: "x", HostPath: "/"}}},
	}
	for _, tt := range tests {
		if _, err := Build(tt.ref, tt.files, ImageConfig{}); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

type entry struct {
	typ  byte
	mode int64
	link string
	data string
}

func layerEntries(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if !h.ModTime.Equal(time.Unix(0, 0)) || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: mtime %v uid %d gid %d", h.Name, h.ModTime, h.Uid, h.Gid)
		}
		got[h.Name] = entry{h.Typeflag, h.Mode, h.Linkname, string(data)}
	}
}

func TestLayerEntries(t *testing.T) {
	host := filepath.Join(t.TempDir(), "exe")
	if err := os.WriteFile(host, []byte("#!"), 0o750); err != nil {
		t.Fatal(err)
	}
	img, err := Build("k1s.local/t:1", []File{
		{Path: "/usr/bin/tool", HostPath: host},
		{Path: "/usr/bin/tool2", HostPath: host, Mode: 0o700},
		{Path: "etc/conf", Data: []byte("k=v")},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/bin/sh", Link: "busybox"},
		{Path: "/etc/conf", Data: []byte("k=w"), Mode: 0o600}, // later wins
	}, ImageConfig{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]entry{
		"usr/":          {tar.TypeDir, 0o755, "", ""},
		"usr/bin/":      {tar.TypeDir, 0o755, "", ""},
		"usr/bin/tool":  {tar.TypeReg, 0o750, "", "#!"},
		"usr/bin/tool2": {tar.TypeReg, 0o700, "", "#!"},
		"etc/":          {tar.TypeDir, 0o755, "", ""},
		"etc/conf":      {tar.TypeReg, 0o600, "", "k=w"},
		"tmp/":          {tar.TypeDir, 0o1777, "", ""},
		"bin/":          {tar.TypeDir, 0o755, "", ""},
		"bin/sh":        {tar.TypeSymlink, 0o777, "busybox", ""},
	}
	got := layerEntries(t, img)
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %+v (present %v), want %+v", name, g, ok, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d: %v", len(got), len(want), got)
	}
}

func TestBusyboxImage(t *testing.T) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		t.Skip("busybox-static not installed")
	}
	img, err := BusyboxImage("k1s.local/busybox:test", File{Path: "/srv/index.html", Data: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	got := layerEntries(t, img)
	for _, name := range []string{"bin/busybox", "bin/sh", "bin/wget", "bin/nc", "srv/index.html", "etc/passwd"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	if got["bin/busybox"].mode != 0o755 {
		t.Errorf("busybox mode %o", got["bin/busybox"].mode)
	}
}

func TestWriteDockerArchive(t *testing.T) {
	img, err := Build("busybox:k1s", []File{{Path: "f", Data: []byte("x")}}, ImageConfig{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "img.tar")
	if err := WriteDockerArchiveFile(path, "busybox:k1s", img); err != nil {
		t.Fatal(err)
	}
	kind, _, err := inspectArchive(path)
	if err != nil || kind != archiveDocker {
		t.Fatalf("inspect = %v, %v", kind, err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no manifest.json: %v", err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 || len(m[0].RepoTags) != 1 || m[0].RepoTags[0] != "busybox:k1s" {
			t.Errorf("RepoTags = %+v", m)
		}
		return
	}
}

func TestPauseELF(t *testing.T) {
	for _, tt := range []struct {
		arch    string
		machine elf.Machine
	}{{"amd64", elf.EM_X86_64}, {"arm64", elf.EM_AARCH64}} {
		exe, err := pauseELF(tt.arch)
		if err != nil {
			t.Fatal(err)
		}
		f, err := elf.NewFile(bytes.NewReader(exe))
		if err != nil {
			t.Fatalf("%s: %v", tt.arch, err)
		}
		if f.Machine != tt.machine || f.Type != elf.ET_EXEC || len(f.Progs) != 1 || f.Entry != f.Progs[0].Vaddr+120 {
			t.Errorf("%s: machine %v type %v progs %d entry %#x", tt.arch, f.Machine, f.Type, len(f.Progs), f.Entry)
		}
		if f.Progs[0].Filesz != uint64(len(exe)) {
			t.Errorf("%s: segment covers %d of %d bytes", tt.arch, f.Progs[0].Filesz, len(exe))
		}
	}
	if _, err := pauseELF("riscv64"); err == nil {
		t.Errorf("riscv64: no error")
	}
}

// TestPauseRuns executes the generated pause program on this machine: it
// must block, survive SIGCHLD, and exit 0 on SIGTERM or SIGINT, also as
// PID 1 of a PID namespace.
func TestPauseRuns(t *testing.T) {
	exe, err := pauseELF(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	sigtimedwait := map[string]string{"amd64": "128", "arm64": "137"}[runtime.GOARCH]
	path := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(path, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sig syscall.Signal
		// pid1 runs it as the init of a new PID namespace, as in a pod,
		// where the kernel drops signals init does not handle or block.
		pid1 bool
	}{
		{syscall.SIGTERM, false},
		{syscall.SIGINT, false},
		{syscall.SIGTERM, true},
	}
	for _, tt := range tests {
		sig := tt.sig
		cmd := exec.Command(path)
		if tt.pid1 {
			if os.Geteuid() != 0 {
				continue
			}
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Signals sent before it blocked them would kill it: wait until
		// it sits in rt_sigtimedwait.
		for deadline := time.Now().Add(5 * time.Second); ; {
			sc, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", cmd.Process.Pid))
			if err == nil && strings.HasPrefix(string(sc), sigtimedwait+" ") {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("pause is not in rt_sigtimedwait: /proc/PID/syscall = %q, %v", sc, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		select {
		case err := <-done:
			t.Fatalf("pause exited on its own: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		cmd.Process.Signal(syscall.SIGCHLD)
		select {
		case err := <-done:
			t.Fatalf("pause exited on SIGCHLD: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		cmd.Process.Signal(sig)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("exit on %v: %v", sig, err)
			}
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("pause ignored %v", sig)
		}
	}
}

func TestPauseImage(t *testing.T) {
	img, err := PauseImage()
	if err != nil {
		t.Fatal(err)
	}
	got := layerEntries(t, img)
	if e := got["pause"]; e.typ != tar.TypeReg || e.mode != 0o755 || len(e.data) > 300 {
		t.Errorf("pause entry = typ %c mode %o size %d", e.typ, e.mode, len(e.data))
	}
	cf, _ := img.ConfigFile()
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/pause" {
		t.Errorf("entrypoint = %v", cf.Config.Entrypoint)
	}
}
