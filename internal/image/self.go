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
	"syscall"

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

// SelfImageLoad makes SelfImageRef, built from a k1s binary, available
// in a node's containerd (namespace k8s.io), in two steps so that the
// slow part overlaps containerd's start: PrepareSelfImage hashes the
// binary and, unless the image was loaded already, writes its archive;
// Load imports it once containerd answers. A marker in the state dir
// remembers the binary last loaded: a restart with the binary unchanged
// on disk costs a stat, one with the same content in another file a hash
// of it, and a rebuilt binary under the same version is loaded again.
type SelfImageLoad struct {
	binary, stateDir string
	done             chan struct{}
	// Set before done closes:
	err     error
	had     string // the marker's content found
	want    string // the marker's content for this binary
	loaded  bool   // the marker says this binary's image was loaded
	archive string // the docker-archive written, unless loaded
}

// PrepareSelfImage starts preparing binary's image in the background.
// Load must follow (it removes the archive), or Close.
func PrepareSelfImage(binary, stateDir string) *SelfImageLoad {
	l := &SelfImageLoad{binary: binary, stateDir: stateDir, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		got, err := os.ReadFile(l.markerPath())
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			l.err = fmt.Errorf("k1s image: %w", err)
			return
		}
		l.had = string(got)
		// The marker is "REF DIGEST STAT": the same file unchanged since
		// (size, modification time, inode) is not hashed again.
		st, err := os.Stat(binary)
		if err != nil {
			l.err = fmt.Errorf("k1s image: %w", err)
			return
		}
		stat := fmt.Sprintf("%d-%d", st.Size(), st.ModTime().UnixNano())
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			stat += fmt.Sprintf("-%d-%d", sys.Dev, sys.Ino)
		}
		ref := SelfImageRef()
		had := strings.Fields(l.had)
		if len(had) == 3 && had[0] == ref && had[2] == stat {
			l.want, l.loaded = l.had, true
			return
		}
		sum, err := fileDigest(binary)
		if err != nil {
			l.err = fmt.Errorf("k1s image: %w", err)
			return
		}
		l.want = ref + " " + sum + " " + stat + "\n"
		if l.loaded = len(had) == 3 && had[0] == ref && had[1] == sum; !l.loaded {
			l.archive, l.err = l.writeArchive()
		}
	}()
	return l
}

func (l *SelfImageLoad) markerPath() string { return filepath.Join(l.stateDir, "k1s-image.digest") }

// writeArchive writes the image's docker-archive into the state dir.
func (l *SelfImageLoad) writeArchive() (string, error) {
	img, err := SelfImage(l.binary)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(l.stateDir, 0o700); err != nil {
		return "", fmt.Errorf("k1s image: %w", err)
	}
	f, err := os.CreateTemp(l.stateDir, "k1s-image-*.tar")
	if err != nil {
		return "", fmt.Errorf("k1s image: %w", err)
	}
	if err := WriteDockerArchive(f, SelfImageRef(), img); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("k1s image: %w", err)
	}
	return f.Name(), nil
}

// Load waits for the preparation and imports the image into the
// containerd at containerdAddress, unless the marker matches and present
// says containerd has the image already.
func (l *SelfImageLoad) Load(ctx context.Context, containerdAddress string, present func(ctx context.Context, ref string) (bool, error)) error {
	select {
	case <-l.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer l.Close()
	if l.err != nil {
		return l.err
	}
	ref := SelfImageRef()
	if l.loaded {
		ok, err := present(ctx, ref)
		if err != nil {
			return fmt.Errorf("k1s image: %w", err)
		}
		if ok {
			if l.had == l.want {
				return nil
			}
			return atomicfile.Write(l.markerPath(), []byte(l.want), 0o600) // the same binary, touched or copied
		}
		// Loaded once, gone since (containerd's state was removed).
		if l.archive, err = l.writeArchive(); err != nil {
			return err
		}
	}
	if err := Load(ctx, containerdAddress, "k8s.io", l.archive); err != nil {
		return err
	}
	return atomicfile.Write(l.markerPath(), []byte(l.want), 0o600)
}

// Close removes the archive, at once if the preparation is over, else
// when it is. Load calls it; call Close instead of Load, not as well.
// A nil SelfImageLoad (no image to load) has nothing to close.
func (l *SelfImageLoad) Close() {
	if l == nil {
		return
	}
	remove := func() {
		if l.archive != "" {
			os.Remove(l.archive)
		}
	}
	select {
	case <-l.done:
		remove()
	default:
		go func() {
			<-l.done
			remove()
		}()
	}
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
