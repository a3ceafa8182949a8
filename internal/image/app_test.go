package image

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildAppImages(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles two programs")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	moduleDir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(moduleDir, "examples", "my-app")); err != nil {
		t.Skipf("no examples/my-app in %s", moduleDir)
	}
	images, err := BuildAppImages(context.Background(), goBin, moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref, entrypoint, port string
		extraDir              string
	}{
		{AppImageRef, "/my-app", "8080/tcp", ""},
		{AppDBImageRef, "/my-app-db", "5432/tcp", "data/"},
	}
	if len(images) != len(tests) {
		t.Errorf("got %d images, want %d", len(images), len(tests))
	}
	for _, tt := range tests {
		img, ok := images[tt.ref]
		if !ok {
			t.Errorf("no image %s", tt.ref)
			continue
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(cf.Config.Entrypoint, " "); got != tt.entrypoint {
			t.Errorf("%s: entrypoint = %q, want %q", tt.ref, got, tt.entrypoint)
		}
		if got := cf.Config.User; got != "65532:65532" {
			t.Errorf("%s: user = %q, want 65532:65532", tt.ref, got)
		}
		if _, ok := cf.Config.ExposedPorts[tt.port]; !ok {
			t.Errorf("%s: exposed ports = %v, want %s", tt.ref, cf.Config.ExposedPorts, tt.port)
		}

		entries := layerEntries(t, img)
		bin, ok := entries[strings.TrimPrefix(tt.entrypoint, "/")]
		if !ok {
			t.Errorf("%s: no %s in the layer", tt.ref, tt.entrypoint)
			continue
		}
		if bin.mode != 0o755 {
			t.Errorf("%s: %s mode %o, want 755", tt.ref, tt.entrypoint, bin.mode)
		}
		f, err := elf.NewFile(bytes.NewReader([]byte(bin.data)))
		if err != nil {
			t.Errorf("%s: %s is not an ELF executable: %v", tt.ref, tt.entrypoint, err)
			continue
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s: %s is dynamically linked", tt.ref, tt.entrypoint)
			}
		}
		if !strings.Contains(entries["etc/passwd"].data, "nonroot:x:65532:65532:") {
			t.Errorf("%s: /etc/passwd = %q", tt.ref, entries["etc/passwd"].data)
		}
		if e, ok := entries["tmp/"]; !ok || e.mode != 0o1777 {
			t.Errorf("%s: /tmp = %+v, %v", tt.ref, e, ok)
		}
		if tt.extraDir != "" {
			if e, ok := entries[tt.extraDir]; !ok || e.mode != 0o777 {
				t.Errorf("%s: /%s = %+v, %v", tt.ref, tt.extraDir, e, ok)
			}
		}
	}
}

func TestBuildAppImagesReportsCompileErrors(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = BuildAppImages(context.Background(), goBin, dir)
	if err == nil || !strings.Contains(err.Error(), "examples/my-app") {
		t.Errorf("BuildAppImages in a module without my-app: err = %v, want a go build failure", err)
	}
}
