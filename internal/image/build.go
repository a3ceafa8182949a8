package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one entry of an image's single layer. Exactly one of Data,
// HostPath and Link is used, in that order of precedence: Link makes a
// symlink, HostPath copies a file from this machine, otherwise Data is
// the content. A Mode with fs.ModeDir makes a directory.
type File struct {
	// Path inside the image, absolute or relative to /.
	Path string
	// Data is the file's content.
	Data []byte
	// HostPath names a file on this machine whose content is copied.
	HostPath string
	// Link, when set, makes the entry a symlink pointing at Link.
	Link string
	// Mode holds permission bits (default 0644, or the host file's
	// permissions for HostPath) and fs.ModeDir for directories.
	Mode fs.FileMode
}

// ImageConfig is the part of an OCI image config a k1s image sets.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
}

// epoch is the modification time of every layer entry, so that the same
// inputs always give the same layer digest.
func epoch() time.Time { return time.Unix(0, 0).UTC() }

// Build makes a one-layer linux image for this machine's architecture
// from files. Parent directories are added as needed. The result depends
// only on the inputs: building twice gives the same digest. ref is only
// validated here; it names the image when written or loaded.
func Build(ref string, files []File, config ImageConfig) (v1.Image, error) {
	if _, err := name.ParseReference(ref); err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	layerTar, err := layerTar(files)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	// Stored, not deflated: these images go from this machine into a
	// containerd on this machine, where compressing a 100 MB binary costs
	// seconds of every node's start and saves nothing.
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressionLevel(gzip.NoCompression))
	if err != nil {
		return nil, fmt.Errorf("image %s: layer: %w", ref, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Config.Entrypoint = config.Entrypoint
	cf.Config.Cmd = config.Cmd
	cf.Config.Env = config.Env
	cf.Config.WorkingDir = config.WorkingDir
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, nil
}

// WriteDockerArchive writes img as a docker-archive tarball (the format
// of `docker save`) tagged ref.
func WriteDockerArchive(w io.Writer, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image tag %q: %w", ref, err)
	}
	if err := tarball.Write(tag, img, w); err != nil {
		return fmt.Errorf("write image %s: %w", ref, err)
	}
	return nil
}

// WriteDockerArchiveFile is WriteDockerArchive into a new file at path.
func WriteDockerArchiveFile(path, ref string, img v1.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteDockerArchive(f, ref, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// layerTar renders files as an uncompressed tar, sorted by path, with
// parent directories, root ownership and fixed times.
func layerTar(files []File) ([]byte, error) {
	entries := map[string]*tar.Header{}
	contents := map[string][]byte{}
	addDirs := func(p string) {
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = dirHeader(d, 0o755)
			}
		}
	}
	for _, f := range files {
		p := strings.TrimPrefix(path.Clean("/"+f.Path), "/")
		if p == "" {
			return nil, errors.New("file with empty path")
		}
		addDirs(p)
		switch {
		case f.Mode.IsDir():
			entries[p] = dirHeader(p, perm(f.Mode, 0o755))
			delete(contents, p)
		case f.Link != "":
			entries[p] = &tar.Header{Typeflag: tar.TypeSymlink, Name: p, Linkname: f.Link, Mode: 0o777, ModTime: epoch(), Format: tar.FormatPAX}
			delete(contents, p)
		default:
			data, mode := f.Data, perm(f.Mode, 0o644)
			if f.HostPath != "" {
				fi, err := os.Stat(f.HostPath)
				if err != nil {
					return nil, err
				}
				if !fi.Mode().IsRegular() {
					return nil, fmt.Errorf("%s: not a regular file", f.HostPath)
				}
				if data, err = os.ReadFile(f.HostPath); err != nil {
					return nil, err
				}
				mode = perm(f.Mode, int64(fi.Mode().Perm()))
			}
			entries[p] = &tar.Header{Typeflag: tar.TypeReg, Name: p, Size: int64(len(data)), Mode: mode, ModTime: epoch(), Format: tar.FormatPAX}
			contents[p] = data
		}
	}
	names := make([]string, 0, len(entries))
	for p := range entries {
		names = append(names, p)
	}
	sort.Strings(names)
	// One allocation of the whole layer: growing a buffer by doubling
	// to the size of a 100 MB binary costs more than the rest together.
	size := 1024 * (len(names) + 2)
	for _, c := range contents {
		size += len(c) + 1024
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	tw := tar.NewWriter(buf)
	for _, p := range names {
		if err := tw.WriteHeader(entries[p]); err != nil {
			return nil, err
		}
		if _, err := tw.Write(contents[p]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func dirHeader(p string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: mode, ModTime: epoch(), Format: tar.FormatPAX}
}

// perm converts the permission, setuid/setgid and sticky bits of m into
// tar mode bits, or returns def when m has none.
func perm(m fs.FileMode, def int64) int64 {
	if m.Perm() == 0 && m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0 {
		return def
	}
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}
