package image

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/k1s/k1s/internal/atomicfile"
	"github.com/k1s/k1s/internal/version"
)

// SelfImageRef names the image of this k1s build: the add-ons (cluster
// DNS, the Ingress controller) run from it, so the system runs on
// itself. The tag is the version with "+" (not allowed in tags) as "-".
func SelfImageRef() string {
	return "k1s.local/k1s:" + strings.ReplaceAll(version.Info().GitVersion, "+", "-")
}

// SelfImage builds an image holding binary (a k1s executable) as /k1s,
// its entrypoint. The binary must be statically linked: the image has no
// C library.
func SelfImage(binary string) (v1.Image, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("k1s image: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("k1s image: %s is dynamically linked; build it with CGO_ENABLED=0 (make build does)", binary)
		}
	}
	return Build(SelfImageRef(), []File{
		{Path: "/k1s", HostPath: binary, Mode: 0o755},
		{Path: "/tmp", Mode: os.ModeDir | 0o1777},
	}, ImageConfig{Entrypoint: []string{"/k1s"}})
}

// EnsureSelfImage makes SelfImageRef, built from binary, available in
// the containerd at containerdAddress (namespace k8s.io). A marker in
// stateDir remembers the binary's digest last loaded, so that an agent
// restart with the same binary costs one hash of it, and a rebuilt
// binary under the same version is loaded again. present says whether
// containerd has the image now.
func EnsureSelfImage(ctx context.Context, containerdAddress, binary, stateDir string, present func(ctx context.Context, ref string) (bool, error)) error {
	sum, err := fileDigest(binary)
	if err != nil {
		return fmt.Errorf("k1s image: %w", err)
	}
	ref := SelfImageRef()
	marker := filepath.Join(stateDir, "k1s-image.digest")
	want := ref + " " + sum + "\n"
	if got, err := os.ReadFile(marker); err == nil && string(got) == want {
		ok, err := present(ctx, ref)
		if err != nil {
			return fmt.Errorf("k1s image: %w", err)
		}
		if ok {
			return nil
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("k1s image: %w", err)
	}
	img, err := SelfImage(binary)
	if err != nil {
		return err
	}
	if err := LoadImage(ctx, containerdAddress, "k8s.io", ref, img); err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("k1s image: %w", err)
	}
	return atomicfile.Write(marker, []byte(want), 0o600)
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
