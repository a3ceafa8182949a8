package fake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/runtime"
)

// errImageNotFound is what pulling a missing image, or creating a container
// from an image not pulled, wraps.
var errImageNotFound = fmt.Errorf("image %w", runtime.ErrNotFound)

// fakeImageSize is what ImageStatus reports for every image; the kubelet's
// image accounting wants a non-zero size.
const fakeImageSize = 1 << 20

func (r *Runtime) PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, podSandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	ref := image.GetImage()
	if ref == "" {
		return "", errors.New("fake runtime: pull: empty image reference")
	}
	name := normalizeImage(ref)
	if _, missing := r.missing[name]; missing || strings.Contains(ref, "doesnotexist") {
		return "", fmt.Errorf("fake runtime: pull %q: %w", ref, errImageNotFound)
	}
	id := imageID(name)
	r.mu.Lock()
	r.images[name] = id
	r.mu.Unlock()
	return id, nil
}

// LoadImage makes ref present without a pull, as `k1s image load` does
// on a real node; a missing image (Options.MissingImages) becomes present.
func (r *Runtime) LoadImage(ref string) {
	name := normalizeImage(ref)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.images[name] = imageID(name)
}

func (r *Runtime) ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec) (*runtimeapi.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := normalizeImage(image.GetImage())
	if _, ok := r.images[name]; !ok {
		// By ID, as the kubelet asks with the imageRef PullImage returned.
		name = ""
		for n, id := range r.images {
			if id == image.GetImage() {
				name = n
				break
			}
		}
		if name == "" {
			return nil, nil
		}
	}
	return imageStatus(name, r.images[name]), nil
}

func (r *Runtime) ListImages(ctx context.Context) ([]*runtimeapi.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*runtimeapi.Image, 0, len(r.images))
	for name, id := range r.images {
		out = append(out, imageStatus(name, id))
	}
	slices.SortFunc(out, func(a, b *runtimeapi.Image) int { return strings.Compare(a.Spec.Image, b.Spec.Image) })
	return out, nil
}

// lookupImage returns the ID of a pulled image, by reference or ID.
// Callers hold r.mu.
func (r *Runtime) lookupImage(ref string) (string, bool) {
	if id, ok := r.images[normalizeImage(ref)]; ok {
		return id, true
	}
	for _, id := range r.images {
		if id == ref {
			return id, true
		}
	}
	return "", false
}

func imageStatus(name, id string) *runtimeapi.Image {
	img := &runtimeapi.Image{
		Id:   id,
		Size: fakeImageSize,
		Spec: &runtimeapi.ImageSpec{Image: name},
	}
	if strings.Contains(name, "@") {
		img.RepoDigests = []string{name}
	} else {
		img.RepoTags = []string{name}
	}
	return img
}

func imageID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// normalizeImage spells a reference the way containerd stores it: a registry
// host ("docker.io" by default, with "library/" for single-component names)
// and a tag (":latest" by default) unless it has a digest.
func normalizeImage(ref string) string {
	if ref == "" || strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	name, digest, hasDigest := strings.Cut(ref, "@")
	host, rest, hasHost := strings.Cut(name, "/")
	if !hasHost || (!strings.ContainsAny(host, ".:") && host != "localhost") {
		host, rest = "docker.io", name
		if !strings.Contains(rest, "/") {
			rest = "library/" + rest
		}
	}
	name = host + "/" + rest
	if hasDigest {
		return name + "@" + digest
	}
	if !strings.Contains(rest[strings.LastIndex(rest, "/")+1:], ":") {
		name += ":latest"
	}
	return name
}
