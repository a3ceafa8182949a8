package volume

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// mountTmpfs mounts a tmpfs on dir unless one is already there. size 0 means
// the kernel's default.
func (m *Manager) mountTmpfs(dir string, size int64) error {
	points, err := mountPoints()
	if err != nil {
		return err
	}
	for _, p := range points {
		if p == dir {
			return nil
		}
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
	points, err := mountPoints()
	if err != nil {
		return err
	}
	var under []string
	for _, p := range points {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			under = append(under, p)
		}
	}
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
	points, err = mountPoints()
	if err != nil {
		return err
	}
	for _, p := range points {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return fmt.Errorf("%s is still mounted", p)
		}
	}
	return nil
}

// mountPoints lists the mount points of this mount namespace, symlinks in dir
// arguments are not resolved: the kubelet's own paths contain none.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		points = append(points, filepath.Clean(unescapeOctal(fields[4])))
	}
	return points, sc.Err()
}

// unescapeOctal decodes mountinfo's \NNN escapes (space, tab, newline, \).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
