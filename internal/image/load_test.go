package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func TestFullImageName(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"busybox:1", "docker.io/library/busybox:1", true},
		{"library/busybox", "docker.io/library/busybox:latest", true},
		{"k1s.local/pause:3.10", "k1s.local/pause:3.10", true},
		{"localhost:5000/x", "localhost:5000/x:latest", true},
		{"localhost/x@sha256:abc", "localhost/x@sha256:abc", true},
		{"latest", "", false},
		{"", "", false},
		{":tag", "", false},
	}
	for _, tt := range tests {
		got, ok := fullImageName(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("fullImageName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNameManifests(t *testing.T) {
	tests := []struct {
		name    string
		index   string
		want    string // substring of the new index; "" means unchanged
		wantErr bool
	}{
		{"already named", `{"manifests":[{"annotations":{"io.containerd.image.name":"a.b/c:1"}}]}`, "", false},
		{"full ref name", `{"schemaVersion":2,"manifests":[{"digest":"sha256:1","annotations":{"org.opencontainers.image.ref.name":"a.b/c:1"}}]}`, `"io.containerd.image.name":"a.b/c:1"`, false},
		{"bare tag", `{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}`, "", true},
		{"no annotations", `{"manifests":[{"digest":"sha256:1"}]}`, "", true},
		{"no manifests", `{"manifests":[]}`, "", true},
		{"not json", `{`, "", true},
	}
	for _, tt := range tests {
		got, err := nameManifests([]byte(tt.index))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.name, err)
			continue
		}
		if tt.want == "" && got != nil {
			t.Errorf("%s: changed to %s", tt.name, got)
		}
		if tt.want != "" && !strings.Contains(string(got), tt.want) {
			t.Errorf("%s: %s lacks %s", tt.name, got, tt.want)
		}
		if tt.want != "" && !strings.Contains(string(got), `"schemaVersion":2`) {
			t.Errorf("%s: lost other fields: %s", tt.name, got)
		}
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	if _, err := exec.LookPath("ctr"); err != nil {
		t.Skip("ctr not installed")
	}
	dir := t.TempDir()
	// Any socket will do: the files are refused before ctr runs.
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		sock string
		path string
		want string
	}{
		{"missing", sock, filepath.Join(dir, "nope.tar"), "no such file"},
		{"no socket", filepath.Join(dir, "nope.sock"), write("x.tar", ""), "no containerd socket"},
		{"text", sock, write("text.tar", strings.Repeat("not a tarball\n", 100)), "not a tar archive"},
		{"empty", sock, write("empty.tar", ""), "neither a docker archive"},
		{"unnamed oci", sock, ociTar(t, dir, "latest"), "has no full name"},
	}
	for _, tt := range tests {
		err := Load(context.Background(), tt.sock, "k8s.io", tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line with %q", tt.name, err, tt.want)
		}
	}
}

// ociTar writes a tarred OCI layout holding one small image whose
// org.opencontainers.image.ref.name is refName.
func ociTar(t *testing.T, dir, refName string) string {
	t.Helper()
	img, err := Build("k1s.local/oci:1", []File{{Path: "hello", Data: []byte(refName)}}, ImageConfig{Cmd: []string{"/hello"}})
	if err != nil {
		t.Fatal(err)
	}
	lp := filepath.Join(dir, "layout-"+refName)
	p, err := layout.Write(lp, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{ociRefNameAnnotation: refName})); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, fmt.Sprintf("oci-%d.tar", len(refName)))
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(lp, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(lp, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// startContainerd runs a bare containerd (no CRI) in a short temporary
// directory and returns its socket path.
func startContainerd(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		t.Skip("containerd not installed")
	}
	if _, err := exec.LookPath("ctr"); err != nil {
		t.Skip("ctr not installed")
	}
	dir, err := os.MkdirTemp("", "k1si")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "c.sock")
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, filepath.Join(dir, "opt"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", filepath.Join(dir, "config.toml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logf.Close()
		syscall.Unmount(filepath.Join(dir, "root", "io.containerd.snapshotter.v1.overlayfs"), syscall.MNT_DETACH)
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return sock
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("containerd did not start: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func listImages(t *testing.T, sock string) string {
	t.Helper()
	out, err := exec.Command("ctr", "-a", sock, "-n", "k8s.io", "images", "ls", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("ctr images ls: %v: %s", err, out)
	}
	return string(out)
}

func TestLoadIntoContainerd(t *testing.T) {
	sock := startContainerd(t)
	ctx := context.Background()
	dir := t.TempDir()

	pause, err := PauseImage()
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadImage(ctx, sock, "k8s.io", PauseImageRef, pause); err != nil {
		t.Fatalf("docker archive: %v", err)
	}
	if err := Load(ctx, sock, "k8s.io", ociTar(t, dir, "k1s.local/oci:1")); err != nil {
		t.Fatalf("oci layout: %v", err)
	}
	// A docker archive under a short name lands under its normalized name.
	img, err := Build("busybox:k1s", []File{{Path: "x", Data: []byte("x")}}, ImageConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadImage(ctx, sock, "k8s.io", "busybox:k1s", img); err != nil {
		t.Fatal(err)
	}
	images := listImages(t, sock)
	for _, want := range []string{PauseImageRef, "k1s.local/oci:1", "docker.io/library/busybox:k1s"} {
		if !strings.Contains(images, want+"\n") {
			t.Errorf("%s not in images:\n%s", want, images)
		}
	}

}
