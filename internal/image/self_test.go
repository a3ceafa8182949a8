package image

import (
	"os/exec"
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
