package testcluster

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Kubectl runs the real kubectl against kubeconfig with stdin, for at
// most 90 seconds, and returns its stdout and stderr.
func Kubectl(ctx context.Context, kubeconfig, stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// CgroupDirs lists the cgroup directory root (a cgroupfs path such as
// /k1s-e2e) in every mounted hierarchy, v1 and v2.
func CgroupDirs(root string) []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + root)
	if _, err := os.Stat("/sys/fs/cgroup" + root); err == nil {
		dirs = append(dirs, "/sys/fs/cgroup"+root)
	}
	return dirs
}

// RemoveCgroups removes root and every cgroup below it, in every
// hierarchy, children first. Cgroups that still hold processes stay.
func RemoveCgroups(root string) {
	for _, d := range CgroupDirs(root) {
		var all []string
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		for i := len(all) - 1; i >= 0; i-- {
			os.Remove(all[i])
		}
	}
}
