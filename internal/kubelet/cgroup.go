package kubelet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"
)

const cgroupMount = "/sys/fs/cgroup"

// podCgroup is the cgroupfs parent the runtime puts a pod's containers
// under; "" lets the runtime choose (CgroupRoot "-").
func (k *Kubelet) podCgroup(uid types.UID) string {
	if k.opts.CgroupRoot == "-" {
		return ""
	}
	return filepath.Join(k.opts.CgroupRoot, "pod"+string(uid))
}

// removePodCgroup removes the pod's cgroup directories in every mounted
// hierarchy (v1 controllers and the v2 unified tree): the runtime removes
// container cgroups but leaves their parent.
func (k *Kubelet) removePodCgroup(uid types.UID) error {
	rel := k.podCgroup(uid)
	if rel == "" {
		return nil
	}
	hierarchies, err := cgroupHierarchies()
	if err != nil {
		return nil
	}
	var errs []error
	for _, h := range hierarchies {
		if err := removeCgroupTree(filepath.Join(h, rel)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cgroupHierarchies lists the mounted cgroup trees: /sys/fs/cgroup itself
// on a pure v2 host, else each controller directory (and "unified").
func cgroupHierarchies() ([]string, error) {
	if _, err := os.Stat(filepath.Join(cgroupMount, "cgroup.controllers")); err == nil {
		return []string{cgroupMount}, nil
	}
	entries, err := os.ReadDir(cgroupMount)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(cgroupMount, e.Name()))
		}
	}
	return out, nil
}

// removeCgroupTree rmdirs a cgroup and its children, deepest first (cgroup
// directories cannot be removed recursively, only one by one).
func removeCgroupTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing cgroup %s: %w", dirs[i], err)
		}
	}
	return nil
}
