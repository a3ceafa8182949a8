package node

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k1s/k1s/internal/image"
)

// `k1s image load` makes a docker-archive available to pods without a
// registry.
func TestImageLoadCommand(t *testing.T) {
	needNode(t)
	bin := os.Getenv("K1S_BIN")
	if bin == "" {
		t.Skip("K1S_BIN is not set; `make test` sets it to the built binary")
	}
	const ref = "k1s.local/loaded:v1"
	img, err := image.BusyboxImage(ref)
	if err != nil {
		t.Fatal(err)
	}
	tar := filepath.Join(t.TempDir(), "loaded.tar")
	if err := image.WriteDockerArchiveFile(tar, ref, img); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "image", "load", "--data-dir", agentDir, tar).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "loaded") {
		t.Fatalf("k1s image load: %v\n%s", err, out)
	}
	// A file that is not an image gets one readable line.
	bad := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(bad, []byte("not a tarball"), 0o644)
	out, err = exec.Command(bin, "image", "load", "--data-dir", agentDir, bad).CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("loading garbage: err %v, output %q (want one line)", err, out)
	}

	y := strings.Replace(podYAML("fromtar", "Always", "sleep 600", ""), "image: "+busybox, "image: "+ref, 1)
	mustKubectl(t, strings.Replace(y, "imagePullPolicy: Never", "imagePullPolicy: IfNotPresent", 1), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "pod", "fromtar", "--grace-period=0", "--force")
	})
	waitJSONPath(t, 60*time.Second, "pod", "fromtar", "{.status.phase}", "Running")
}
