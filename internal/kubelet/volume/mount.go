package volume

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"syscall"

	"github.com/k1s/k1s/internal/mountinfo"
)

// mountTmpfs mounts a tmpfs on dir unless one is already there. size 0 means
// the kernel's default.
func (m *Manager) mountTmpfs(dir string, size int64) error {
	points, err := mountinfo.Points()
	if err != nil {
		return err
	}
	if slices.Contains(points, dir) {
		return nil
	}
	opts := "mode=0755"
	if size > 0 {
		opts += ",size=" + strconv.FormatInt(size, 10)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	m.log.Debug("mounted tmpfs", "dir", dir, "size", size)
	return nil
}

// unmountAll unmounts every mount point at or under dir, deepest first, and
// fails if any remains.
func unmountAll(dir string) error {
	points, err := mountinfo.Points()
	if err != nil {
		return err
	}
	under := mountinfo.Under(points, dir)
	// Deepest first; a path mounted twice is unmounted twice.
	sort.Slice(under, func(i, j int) bool { return len(under[i]) > len(under[j]) })
	for _, p := range under {
		if err := syscall.Unmount(p, 0); err != nil && err != syscall.EINVAL && err != syscall.ENOENT {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
	}
	if len(under) == 0 {
		return nil
	}
	points, err = mountinfo.Points()
	if err != nil {
		return err
	}
	if left := mountinfo.Under(points, dir); len(left) > 0 {
		return fmt.Errorf("%s is still mounted", left[0])
	}
	return nil
}
