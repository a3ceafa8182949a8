package preflight

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// cgroupControllers are the controllers runc needs for pod limits.
func cgroupControllers() []string { return []string{"cpu", "memory", "pids"} }

// mount is one line of /proc/mounts.
type mount struct {
	point   string
	fstype  string
	options []string
}

func (c *checker) mounts() ([]mount, error) {
	b, err := os.ReadFile(c.path("/proc/mounts"))
	if err != nil {
		return nil, err
	}
	var ms []mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		ms = append(ms, mount{point: f[1], fstype: f[2], options: strings.Split(f[3], ",")})
	}
	return ms, sc.Err()
}

// cgroups checks for cgroup v2 at /sys/fs/cgroup with the controllers
// runc needs, or else v1 hierarchies under /sys/fs/cgroup holding them.
func (c *checker) cgroups() {
	ms, err := c.mounts()
	if err != nil {
		c.add(Problem{What: fmt.Sprintf("cannot list mounts to find cgroups: %v", err), Fix: "mount /proc"})
		return
	}
	for _, m := range ms {
		if m.point == "/sys/fs/cgroup" && m.fstype == "cgroup2" {
			c.cgroupV2()
			return
		}
	}
	have := map[string]bool{}
	for _, m := range ms {
		if m.fstype == "cgroup" && strings.HasPrefix(m.point, "/sys/fs/cgroup/") {
			for _, o := range m.options {
				have[o] = true
			}
		}
	}
	if len(have) == 0 {
		c.add(Problem{
			What: "no cgroup hierarchy is mounted at /sys/fs/cgroup",
			Fix:  "mount cgroup v2: mount -t cgroup2 cgroup2 /sys/fs/cgroup",
		})
		return
	}
	var missing []string
	for _, ctl := range cgroupControllers() {
		if !have[ctl] {
			missing = append(missing, ctl)
		}
	}
	if len(missing) > 0 {
		c.add(Problem{
			What: fmt.Sprintf("cgroup v1 controller%s %s not mounted under /sys/fs/cgroup", plural(len(missing)), strings.Join(missing, ", ")),
			Fix:  fmt.Sprintf("mount each: mkdir -p /sys/fs/cgroup/%[1]s && mount -t cgroup -o %[1]s cgroup /sys/fs/cgroup/%[1]s (or boot with cgroup v2)", missing[0]),
		})
	}
}

// cgroupV2 checks the root cgroup offers the controllers runc needs.
func (c *checker) cgroupV2() {
	b, err := os.ReadFile(c.path("/sys/fs/cgroup/cgroup.controllers"))
	if err != nil {
		c.add(Problem{What: fmt.Sprintf("cgroup v2 is mounted but unreadable: %v", err), Fix: "check the mount at /sys/fs/cgroup"})
		return
	}
	have := strings.Fields(string(b))
	var missing []string
	for _, ctl := range cgroupControllers() {
		if !slices.Contains(have, ctl) {
			missing = append(missing, ctl)
		}
	}
	if len(missing) > 0 {
		c.add(Problem{
			What: fmt.Sprintf("cgroup v2 controller%s %s not available at /sys/fs/cgroup", plural(len(missing)), strings.Join(missing, ", ")),
			Fix:  "use a kernel with them enabled (check cgroup_disable= on the kernel command line); in a container, delegate them from the host",
		})
	}
}

// overlay checks that the kernel has overlayfs or can load it on mount.
func (c *checker) overlay() {
	b, err := os.ReadFile(c.path("/proc/filesystems"))
	if err == nil {
		for line := range strings.Lines(string(b)) {
			f := strings.Fields(line)
			if len(f) > 0 && f[len(f)-1] == "overlay" {
				return
			}
		}
	}
	// Not registered yet, but the kernel loads the module on first mount.
	if rel, err := os.ReadFile(c.path("/proc/sys/kernel/osrelease")); err == nil {
		mods, _ := filepath.Glob(c.path(filepath.Join("/lib/modules", strings.TrimSpace(string(rel)), "kernel/fs/overlayfs/overlay.ko*")))
		if len(mods) > 0 {
			return
		}
	}
	c.add(Problem{
		What: "the overlay filesystem is not available (not in /proc/filesystems), and containerd's snapshotter needs it",
		Fix:  "load it: modprobe overlay (in a container: on the host)",
	})
}

// netns checks the kernel has network namespaces.
func (c *checker) netns() {
	if _, err := os.Lstat(c.path("/proc/self/ns/net")); err != nil {
		c.add(Problem{
			What: "network namespaces are not available (/proc/self/ns/net is missing)",
			Fix:  "use a kernel built with CONFIG_NET_NS",
		})
	}
}

// sysctl checks the switch at /proc/sys/name is on, or can be turned on
// by k1s: it is opened for writing, never written. missing is the problem
// when the file does not exist; set is the command that turns it on.
func (c *checker) sysctl(name string, missing Problem, set string) {
	path := c.path(filepath.Join("/proc/sys", name))
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		c.add(missing)
		return
	}
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		return
	}
	if !c.root && c.o.NeedRoot {
		return // not root is reported already, and is why it cannot be set
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		c.add(Problem{
			What: fmt.Sprintf("%s is off and k1s cannot turn it on: %v", strings.ReplaceAll(name, "/", "."), errors.Unwrap(err)),
			Fix:  "turn it on from the host: " + set,
		})
		return
	}
	f.Close()
}

// nftables runs the nf_tables probe and words its failure.
func (c *checker) nftables() {
	if err := c.h.probeNFTables(); err != nil {
		c.add(Problem{
			What: fmt.Sprintf("the kernel's nf_tables is unusable: %v", err),
			Fix:  "load it: modprobe nf_tables nft_chain_nat nft_masq (in a container: on the host, and run the container privileged)",
		})
	}
}

// probeNFTables creates an nftables table with a NAT chain and a masquerade
// rule, the kinds the proxy and the pod network program, and deletes it.
// It works in a fresh network namespace, so the host's ruleset is never
// touched; the namespace is freed when its descriptor is closed.
func probeNFTables() error {
	fd, err := newNetNS()
	if err != nil {
		return fmt.Errorf("creating a network namespace: %w", err)
	}
	defer unix.Close(fd)
	conn, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return err
	}
	t := conn.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "k1s-preflight"})
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("creating a table: %w", err)
	}
	ch := conn.AddChain(&nftables.Chain{
		Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	})
	conn.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Masq{}}})
	natErr := conn.Flush()
	conn.DelTable(t)
	if err := conn.Flush(); err != nil && natErr == nil {
		return fmt.Errorf("deleting the table: %w", err)
	}
	if natErr != nil {
		return fmt.Errorf("creating a NAT chain with a masquerade rule: %w", natErr)
	}
	return nil
}

// newNetNS returns a descriptor of a new, empty network namespace. A
// locked thread enters it only long enough to open it, then returns to
// its own namespace. (A thread left behind would be wrong: if it is the
// main thread, Go keeps it, and /proc/self/net would show the new one.)
func newNetNS() (int, error) {
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		orig, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{-1, err}
			return
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread() // still in our namespace
			done <- result{-1, err}
			return
		}
		fd, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Stay locked: Go discards the thread when this goroutine ends.
			if fd >= 0 {
				unix.Close(fd)
			}
			done <- result{-1, fmt.Errorf("returning to our network namespace: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{fd, err}
	}()
	r := <-done
	return r.fd, r.err
}
