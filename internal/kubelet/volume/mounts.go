package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/kubelet/envvar"
)

// Mounts turns c's volumeMounts into CRI mounts. env is the container's
// environment, used to expand subPathExpr; it may be nil when no mount uses
// one. A subPath is created under the volume if missing and must not leave
// the volume, through ".." or through symlinks.
func (v Volumes) Mounts(c *v1.Container, env []*runtimeapi.KeyValue) ([]*runtimeapi.Mount, error) {
	mounts := make([]*runtimeapi.Mount, 0, len(c.VolumeMounts))
	for i := range c.VolumeMounts {
		vm := &c.VolumeMounts[i]
		vol, ok := v[vm.Name]
		if !ok {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		hostPath := vol.HostPath
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			var err error
			if sub, err = expandSubPath(vm.SubPathExpr, env); err != nil {
				return nil, fmt.Errorf("volumeMount %q of container %q: %w", vm.Name, c.Name, err)
			}
		}
		if sub != "" {
			var err error
			if hostPath, err = subPath(vol.HostPath, sub); err != nil {
				return nil, fmt.Errorf("volumeMount %q of container %q: %w", vm.Name, c.Name, err)
			}
		}
		prop, err := propagation(vm.MountPropagation, c)
		if err != nil {
			return nil, fmt.Errorf("volumeMount %q of container %q: %w", vm.Name, c.Name, err)
		}
		readOnly := vm.ReadOnly || vol.ReadOnly
		mounts = append(mounts, &runtimeapi.Mount{
			ContainerPath:     vm.MountPath,
			HostPath:          hostPath,
			Readonly:          readOnly,
			Propagation:       prop,
			RecursiveReadOnly: readOnly && vm.RecursiveReadOnly != nil && *vm.RecursiveReadOnly == v1.RecursiveReadOnlyEnabled,
		})
	}
	return mounts, nil
}

// expandSubPath expands $(VAR) in a subPathExpr; a reference to an undefined
// or empty variable is an error, as upstream.
func expandSubPath(expr string, env []*runtimeapi.KeyValue) (string, error) {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		vars[kv.GetKey()] = string(kv.GetValue())
	}
	missing := map[string]bool{}
	out := envvar.ExpandString(expr, func(name string) string {
		val := vars[name]
		if val == "" {
			missing[name] = true
		}
		return val
	})
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("subPathExpr %q: missing value for %s", expr, strings.Join(names, ", "))
	}
	return out, nil
}

// subPath returns the resolved path of sub under the volume at root, creating
// missing directories with the volume's mode. It rejects absolute paths, ".."
// elements and symlinks that lead outside the volume.
func subPath(root, sub string) (string, error) {
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("subPath %q must be a relative path", sub)
	}
	for _, el := range strings.Split(sub, "/") {
		if el == ".." {
			return "", fmt.Errorf("subPath %q must not contain '..'", sub)
		}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	rootInfo, err := os.Stat(realRoot)
	if err != nil {
		return "", err
	}
	// Walk one element at a time so that every symlink met is checked before
	// anything is created behind it.
	cur := realRoot
	for _, el := range strings.Split(filepath.Clean(sub), "/") {
		if el == "." || el == "" {
			continue
		}
		next := filepath.Join(cur, el)
		_, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(next, rootInfo.Mode().Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", err
			}
			if err := os.Chmod(next, rootInfo.Mode().Perm()); err != nil { // past the umask
				return "", err
			}
		} else if err != nil {
			return "", err
		}
		resolved, err := filepath.EvalSymlinks(next)
		if err != nil {
			return "", err
		}
		if realRoot != "/" && resolved != realRoot && !strings.HasPrefix(resolved, realRoot+"/") {
			return "", fmt.Errorf("subPath %q leads outside the volume (%s)", sub, resolved)
		}
		cur = resolved
	}
	return cur, nil
}

func propagation(mode *v1.MountPropagationMode, c *v1.Container) (runtimeapi.MountPropagation, error) {
	if mode == nil {
		return runtimeapi.MountPropagation_PROPAGATION_PRIVATE, nil
	}
	switch *mode {
	case v1.MountPropagationNone:
		return runtimeapi.MountPropagation_PROPAGATION_PRIVATE, nil
	case v1.MountPropagationHostToContainer:
		return runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER, nil
	case v1.MountPropagationBidirectional:
		if sc := c.SecurityContext; sc == nil || sc.Privileged == nil || !*sc.Privileged {
			return 0, errors.New("Bidirectional mount propagation is available only to privileged containers")
		}
		return runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL, nil
	}
	return 0, fmt.Errorf("invalid mount propagation mode %q", *mode)
}
