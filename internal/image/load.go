package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Annotations containerd reads from an OCI layout's index.json.
const (
	containerdNameAnnotation = "io.containerd.image.name"
	ociRefNameAnnotation     = "org.opencontainers.image.ref.name"
)

// Load imports the docker-archive or OCI-layout tarball at tarPath (plain
// or gzip-compressed) into the containerd at containerdAddress (a socket
// path), in namespace (the CRI uses "k8s.io"), by running `ctr images
// import`. OCI layouts need a full image name per manifest: one without
// an io.containerd.image.name annotation gets it from a full
// org.opencontainers.image.ref.name (a copy of the tarball is rewritten),
// and is refused when it has neither.
func Load(ctx context.Context, containerdAddress, namespace, tarPath string) error {
	ctr, err := exec.LookPath("ctr")
	if err != nil {
		return fmt.Errorf("load %s: ctr (it ships with containerd) not found: %w", tarPath, err)
	}
	if fi, err := os.Stat(containerdAddress); err != nil || fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("load %s: no containerd socket at %s", tarPath, containerdAddress)
	}
	kind, index, err := inspectArchive(tarPath)
	if err != nil {
		return fmt.Errorf("load %s: %w", tarPath, err)
	}
	importPath := tarPath
	if kind == archiveOCI {
		changed, err := nameManifests(index)
		if err != nil {
			return fmt.Errorf("load %s: %w", tarPath, err)
		}
		if changed != nil {
			tmp, err := rewriteIndex(tarPath, changed)
			if err != nil {
				return fmt.Errorf("load %s: %w", tarPath, err)
			}
			defer os.Remove(tmp)
			importPath = tmp
		}
	}
	cmd := exec.CommandContext(ctx, ctr, "-a", containerdAddress, "-n", namespace, "images", "import", importPath)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("load %s: ctr images import: %s", tarPath, lastLine(out, err))
	}
	return nil
}

type archiveKind int

const (
	archiveDocker archiveKind = iota + 1
	archiveOCI
)

// inspectArchive tells a docker archive (manifest.json) from an OCI
// layout (oci-layout + index.json) and returns the OCI index.json.
func inspectArchive(tarPath string) (archiveKind, []byte, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	r, err := maybeGunzip(f)
	if err != nil {
		return 0, nil, err
	}
	tr := tar.NewReader(r)
	var hasManifest, hasLayout bool
	var index []byte
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, nil, fmt.Errorf("not a tar archive: %w", err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "manifest.json":
			hasManifest = true
		case "oci-layout":
			hasLayout = true
		case "index.json":
			if index, err = io.ReadAll(tr); err != nil {
				return 0, nil, fmt.Errorf("read index.json: %w", err)
			}
		}
	}
	switch {
	case hasManifest:
		return archiveDocker, nil, nil
	case hasLayout && index != nil:
		return archiveOCI, index, nil
	}
	return 0, nil, errors.New("neither a docker archive (manifest.json) nor an OCI layout (oci-layout, index.json)")
}

func maybeGunzip(f *os.File) (io.Reader, error) {
	br := bufio.NewReader(f)
	magic, _ := br.Peek(2)
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	}
	return br, nil
}

// nameManifests adds io.containerd.image.name annotations to the
// manifests of an OCI index that lack one. It returns the new index, or
// nil when nothing needed to change.
func nameManifests(index []byte) ([]byte, error) {
	var idx map[string]json.RawMessage
	if err := json.Unmarshal(index, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var manifests []map[string]any
	if err := json.Unmarshal(idx["manifests"], &manifests); err != nil {
		return nil, fmt.Errorf("index.json manifests: %w", err)
	}
	if len(manifests) == 0 {
		return nil, errors.New("index.json lists no images")
	}
	changed := false
	for i, m := range manifests {
		ann, _ := m["annotations"].(map[string]any)
		if name, _ := ann[containerdNameAnnotation].(string); name != "" {
			continue
		}
		ref, _ := ann[ociRefNameAnnotation].(string)
		full, ok := fullImageName(ref)
		if !ok {
			return nil, fmt.Errorf("image %d of the OCI layout has no full name: set the %s annotation, or %s to a full reference (got %q)",
				i, containerdNameAnnotation, ociRefNameAnnotation, ref)
		}
		if ann == nil {
			ann = map[string]any{}
			m["annotations"] = ann
		}
		ann[containerdNameAnnotation] = full
		changed = true
	}
	if !changed {
		return nil, nil
	}
	raw, err := json.Marshal(manifests)
	if err != nil {
		return nil, err
	}
	idx["manifests"] = raw
	return json.Marshal(idx)
}

// fullImageName normalizes ref the way the CRI does (busybox:1 ->
// docker.io/library/busybox:1). A bare tag such as "latest" is not a
// name and gives false.
func fullImageName(ref string) (string, bool) {
	if ref == "" || (!strings.Contains(ref, "/") && !strings.Contains(ref, ":") && !strings.Contains(ref, "@")) {
		return "", false
	}
	if strings.HasPrefix(ref, ":") || strings.HasPrefix(ref, "@") {
		return "", false
	}
	first, _, hasSlash := strings.Cut(ref, "/")
	switch {
	case !hasSlash:
		ref = "docker.io/library/" + ref
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		ref = "docker.io/" + ref
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if !strings.ContainsAny(last, ":@") {
		ref += ":latest"
	}
	return ref, true
}

// rewriteIndex copies the tarball to a temporary file with index.json
// replaced and returns the copy's path.
func rewriteIndex(tarPath string, index []byte) (string, error) {
	in, err := os.Open(tarPath)
	if err != nil {
		return "", err
	}
	defer in.Close()
	r, err := maybeGunzip(in)
	if err != nil {
		return "", err
	}
	out, err := os.CreateTemp("", "k1s-image-*.tar")
	if err != nil {
		return "", err
	}
	if err := copyWithIndex(tar.NewReader(r), out, index); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", err
	}
	if err := out.Close(); err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

func copyWithIndex(tr *tar.Reader, w io.Writer, index []byte) error {
	bw := bufio.NewWriter(w)
	tw := tar.NewWriter(bw)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if strings.TrimPrefix(h.Name, "./") == "index.json" {
			h.Size = int64(len(index))
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := tw.Write(index); err != nil {
				return err
			}
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// lastLine is the last non-empty line of a command's output, for a
// one-line error.
func lastLine(out []byte, err error) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return err.Error()
}

// LoadImage loads img into containerd under the name ref, through a
// temporary docker archive.
func LoadImage(ctx context.Context, containerdAddress, namespace, ref string, img v1.Image) error {
	f, err := os.CreateTemp("", "k1s-image-*.tar")
	if err != nil {
		return fmt.Errorf("load %s: %w", ref, err)
	}
	defer os.Remove(f.Name())
	if err := WriteDockerArchive(f, ref, img); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("load %s: %w", ref, err)
	}
	return Load(ctx, containerdAddress, namespace, f.Name())
}
