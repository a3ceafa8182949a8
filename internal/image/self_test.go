package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSelfImage(t *testing.T) {
	static, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox-static is not installed")
	}
	img, err := SelfImage(static)
	if err != nil {
		t.Fatalf("SelfImage(%s): %v", static, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/k1s" {
		t.Errorf("entrypoint = %q, want /k1s", got)
	}
	if ref := SelfImageRef(); !strings.HasPrefix(ref, "k1s.local/k1s:v1.37.0-k1s.") {
		t.Errorf("SelfImageRef = %q", ref)
	}

	dynamic, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls")
	}
	if _, err := SelfImage(dynamic); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("SelfImage(%s) = %v, want a dynamically-linked refusal", dynamic, err)
	}
}

// TestPrepareSelfImage: the marker decides whether the image is built
// again. A binary unchanged on disk is not even hashed; the same content
// in a new file is hashed and found loaded; anything else is built into
// an archive, which Close removes.
func TestPrepareSelfImage(t *testing.T) {
	static, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox-static is not installed")
	}
	content, err := os.ReadFile(static)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "k1s")
	if err := os.WriteFile(bin, content, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	prepare := func() *SelfImageLoad {
		l := PrepareSelfImage(bin, state)
		<-l.done
		if l.err != nil {
			t.Fatal(l.err)
		}
		return l
	}

	first := prepare()
	if first.loaded || first.archive == "" {
		t.Fatalf("no marker: loaded %v, archive %q; want an archive to load", first.loaded, first.archive)
	}
	first.Close()
	if _, err := os.Stat(first.archive); !os.IsNotExist(err) {
		t.Errorf("archive %s left after Close: %v", first.archive, err)
	}
	// What Load writes once containerd has the image.
	if err := os.WriteFile(first.markerPath(), []byte(first.want), 0o600); err != nil {
		t.Fatal(err)
	}

	if again := prepare(); !again.loaded || again.archive != "" || again.want != first.want {
		t.Errorf("unchanged binary: loaded %v, archive %q, marker %q; want loaded as %q", again.loaded, again.archive, again.want, first.want)
	}

	// The same content in a new file (a copy, a reinstall): hashed, loaded.
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, content, 0o755); err != nil {
		t.Fatal(err)
	}
	copied := prepare()
	if !copied.loaded || copied.archive != "" || copied.want == first.want {
		t.Errorf("copied binary: loaded %v, archive %q, marker %q; want loaded, with a new marker", copied.loaded, copied.archive, copied.want)
	}

	// Other content: built again.
	if err := os.WriteFile(bin, append(content, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	changed := prepare()
	if changed.loaded || changed.archive == "" {
		t.Errorf("changed binary: loaded %v, archive %q; want an archive to load", changed.loaded, changed.archive)
	}
	changed.Close()
}
