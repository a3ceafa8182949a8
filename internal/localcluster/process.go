package localcluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/k1s/k1s/internal/mountinfo"
)

// startDetached starts args as a process of its own session (it outlives
// the command that started it), its output appended to logPath, and
// records its pid in pidFile.
func startDetached(args []string, logPath, pidFile string) (int, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(pidFile), 0o700); err != nil {
		return 0, err
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", strings.Join(args, " "), err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		syscall.Kill(pid, syscall.SIGTERM)
		return 0, err
	}
	return pid, nil
}

// running returns the pid in pidFile if that process is alive and is
// still the one started (its command line mentions marker).
func running(pidFile, marker string) (int, bool) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	// Right after an exec the kernel may show an empty command line for a
	// moment: a live process with none is taken for the one started.
	if err != nil || len(cmdline) > 0 && !bytes.Contains(cmdline, []byte(marker)) {
		return 0, false
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// a zombie is not running
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return 0, false
		}
	}
	return pid, true
}

// stopProcess sends SIGTERM, waits up to grace for the process to go,
// then kills it.
func stopProcess(pidFile, marker string, grace time.Duration) error {
	pid, ok := running(pidFile, marker)
	if !ok {
		os.Remove(pidFile)
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if _, ok := running(pidFile, marker); !ok {
			os.Remove(pidFile)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	os.Remove(pidFile)
	return nil
}

// Reap kills every process left under dir or in the cgroup trees of
// roots (containerd shims outlive their containerd by design; pods
// outlive their kubelet), detaches every mount below dir and removes the
// cgroup trees: what a node leaves on the machine when its agent is gone.
// `k1s down` does it; so do the tests that run nodes.
func Reap(dir string, roots []string) error {
	killUnder(dir, roots)
	unmountUnder(dir)
	var errs []error
	if err := RemoveCgroups(roots...); err != nil {
		errs = append(errs, err)
	}
	if left := mountsUnder(dir); len(left) > 0 {
		errs = append(errs, fmt.Errorf("mounts left under %s: %s", dir, strings.Join(left, ", ")))
	}
	return errors.Join(errs...)
}

// killUnder kills every process whose command line mentions dir (the
// containerd shims of the cluster's nodes outlive their containerd by
// design) and every process in the cgroup trees of roots.
func killUnder(dir string, roots []string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	self := os.Getpid()
	for _, p := range procs {
		pid, err := strconv.Atoi(strings.Split(p, "/")[2])
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(dir+"/")) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, d := range CgroupDirs(roots...) {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
}

// CgroupDirs lists the directories of the cgroup roots (cgroupfs paths
// such as /k1s) in every mounted hierarchy, v1 and v2.
func CgroupDirs(roots ...string) []string {
	var dirs []string
	for _, r := range roots {
		d, _ := filepath.Glob("/sys/fs/cgroup/*" + r)
		dirs = append(dirs, d...)
		if _, err := os.Stat("/sys/fs/cgroup" + r); err == nil {
			dirs = append(dirs, "/sys/fs/cgroup"+r)
		}
	}
	return dirs
}

// RemoveCgroups removes the cgroup trees of roots, children first,
// waiting briefly for killed processes to leave them; a cgroup that still
// holds processes after that stays, and is reported.
func RemoveCgroups(roots ...string) error {
	var errs []error
	for _, d := range CgroupDirs(roots...) {
		var all []string
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		deadline := time.Now().Add(10 * time.Second)
		for i := len(all) - 1; i >= 0; i-- {
			for {
				err := syscall.Rmdir(all[i])
				if err == nil || errors.Is(err, syscall.ENOENT) {
					break
				}
				if time.Now().After(deadline) {
					errs = append(errs, fmt.Errorf("removing cgroup %s: %w", all[i], err))
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	return errors.Join(errs...)
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	mounts := mountsUnder(dir)
	for i := len(mounts) - 1; i >= 0; i-- {
		syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
}

// mountsUnder lists the mounts at or below dir, in mount order.
func mountsUnder(dir string) []string {
	points, _ := mountinfo.Points()
	return mountinfo.Under(points, dir)
}
