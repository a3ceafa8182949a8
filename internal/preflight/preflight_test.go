package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// fakeTree is a file tree standing in for the host's / in Options.Root.
type fakeTree map[string]string

// healthyTree is a host where every NeedRuntime check passes: cgroup v2
// with the controllers, overlayfs, network namespaces, both sysctls on,
// the CNI plugins in /usr/lib/cni.
func healthyTree() fakeTree {
	return fakeTree{
		"proc/mounts":                                 "sysfs /sys sysfs rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n",
		"sys/fs/cgroup/cgroup.controllers":            "cpuset cpu io memory hugetlb pids rdma misc\n",
		"proc/filesystems":                            "nodev\tsysfs\nnodev\tcgroup2\n\text4\nnodev\toverlay\n",
		"proc/self/ns/net":                            "->net:[4026531833]",
		"proc/sys/net/bridge/bridge-nf-call-iptables": "1\n",
		"proc/sys/net/ipv4/ip_forward":                "1\n",
		"usr/lib/cni/bridge":                          "#!",
		"usr/lib/cni/host-local":                      "#!",
		"usr/lib/cni/loopback":                        "#!",
		"usr/lib/cni/portmap":                         "#!",
	}
}

// write creates the tree under a temporary directory: "->target" makes a
// symlink, "<dir>" a directory, paths under a CNI directory are executable.
func (ft fakeTree) write(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range ft {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(content, "->"):
			err = os.Symlink(strings.TrimPrefix(content, "->"), path)
		case content == "<dir>":
			err = os.Mkdir(path, 0o755)
		case strings.Contains(name, "cni/"):
			err = os.WriteFile(path, []byte(content), 0o755)
		default:
			err = os.WriteFile(path, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// fakePath is a PATH holding exactly the given binaries.
func fakePath(bins ...string) func(string) (string, error) {
	return func(file string) (string, error) {
		if slices.Contains(bins, file) {
			return "/usr/bin/" + file, nil
		}
		return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
	}
}

func allBinaries() []string {
	return []string{"containerd", "containerd-shim-runc-v2", "runc", "nsenter", "ip", "kubectl"}
}

func without(list []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return slices.Contains(drop, s) })
}

// fakeHost is root, has a working nf_tables and free ports.
func fakeHost() host {
	return host{
		euid:          func() int { return 0 },
		probeNFTables: func() error { return nil },
		listen:        func(string, string) (net.Listener, error) { return fakeListener{}, nil },
	}
}

type fakeListener struct{ net.Listener }

func (fakeListener) Close() error { return nil }

func strs(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		s := p.String()
		if p.Warning {
			s = "warning: " + s
		}
		out = append(out, s)
	}
	return out
}

func TestRun(t *testing.T) {
	all := Options{NeedRoot: true, NeedRuntime: true, NeedNFTables: true, MultiNode: true, WantKubectl: true}
	tests := []struct {
		name  string
		opts  Options
		edit  func(fakeTree)
		bins  []string
		euid  int
		nferr error
		want  []string
	}{
		{name: "healthy v2 host", opts: all, bins: allBinaries()},
		{name: "nothing asked", opts: Options{}, edit: func(ft fakeTree) { clear(ft) }},
		{
			name: "not root", opts: all, bins: allBinaries(), euid: 1000,
			// IP forwarding off is not reported: not being root is why.
			edit: func(ft fakeTree) { ft["proc/sys/net/ipv4/ip_forward"] = "0\n" },
			want: []string{"k1s must run as root (effective uid is 1000) — run it with sudo"},
		},
		{
			name: "runtime binaries missing", opts: all, bins: without(allBinaries(), "containerd", "containerd-shim-runc-v2", "runc"),
			want: []string{
				"containerd not found on PATH — install it: apt-get install -y containerd",
				"containerd-shim-runc-v2 not found on PATH — install it: apt-get install -y containerd",
				"runc not found on PATH — install it: apt-get install -y runc",
			},
		},
		{
			name: "runtime not asked", opts: Options{MultiNode: true}, bins: []string{"nsenter", "ip"},
			edit: func(ft fakeTree) { clear(ft) },
		},
		{
			name: "CNI plugins missing", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) { delete(ft, "usr/lib/cni/loopback"); delete(ft, "usr/lib/cni/portmap") },
			want: []string{"CNI plugins loopback, portmap not found in /usr/lib/cni or /opt/cni/bin — install them: apt-get install -y containernetworking-plugins"},
		},
		{
			name: "CNI plugins split across both dirs", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) { delete(ft, "usr/lib/cni/portmap"); ft["opt/cni/bin/portmap"] = "#!" },
		},
		{
			name: "CNI plugin not executable", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) { delete(ft, "usr/lib/cni/bridge"); ft["usr/lib/cni/bridge"] = "<dir>" },
			want: []string{"CNI plugin bridge not found in /usr/lib/cni or /opt/cni/bin — install them: apt-get install -y containernetworking-plugins"},
		},
		{
			name: "hybrid v1 host", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) {
				ft["proc/mounts"] = "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n" +
					"cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0\n" +
					"cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n" +
					"cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\n" +
					"cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n"
				delete(ft, "sys/fs/cgroup/cgroup.controllers")
			},
		},
		{
			name: "v1 without pids", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) {
				ft["proc/mounts"] = "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"
			},
			want: []string{"cgroup v1 controller pids not mounted under /sys/fs/cgroup — mount each: mkdir -p /sys/fs/cgroup/pids && mount -t cgroup -o pids cgroup /sys/fs/cgroup/pids (or boot with cgroup v2)"},
		},
		{
			name: "no cgroups", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) { ft["proc/mounts"] = "sysfs /sys sysfs rw 0 0\n" },
			want: []string{"no cgroup hierarchy is mounted at /sys/fs/cgroup — mount cgroup v2: mount -t cgroup2 cgroup2 /sys/fs/cgroup"},
		},
		{
			name: "v2 without memory", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) { ft["sys/fs/cgroup/cgroup.controllers"] = "cpuset cpu io pids\n" },
			want: []string{"cgroup v2 controller memory not available at /sys/fs/cgroup — use a kernel with them enabled (check cgroup_disable= on the kernel command line); in a container, delegate them from the host"},
		},
		{
			name: "overlay as an unloaded module", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) {
				ft["proc/filesystems"] = "nodev\tsysfs\n\text4\n"
				ft["proc/sys/kernel/osrelease"] = "6.1.0-18-amd64\n"
				ft["lib/modules/6.1.0-18-amd64/kernel/fs/overlayfs/overlay.ko.xz"] = "x"
			},
		},
		{
			name: "no overlay", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) {
				ft["proc/filesystems"] = "nodev\tsysfs\n\text4\n"
				ft["proc/sys/kernel/osrelease"] = "6.1.0-18-amd64\n"
			},
			want: []string{"the overlay filesystem is not available (not in /proc/filesystems), and containerd's snapshotter needs it — load it: modprobe overlay (in a container: on the host)"},
		},
		{
			name: "no network namespaces", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) { delete(ft, "proc/self/ns/net") },
			want: []string{"network namespaces are not available (/proc/self/ns/net is missing) — use a kernel built with CONFIG_NET_NS"},
		},
		{
			name: "no br_netfilter", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) { delete(ft, "proc/sys/net/bridge/bridge-nf-call-iptables") },
			want: []string{"br_netfilter is not loaded (/proc/sys/net/bridge is missing), so bridged pod traffic skips Service rules — load it: modprobe br_netfilter (in a container: on the host)"},
		},
		{
			name: "forwarding off but settable", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) {
				ft["proc/sys/net/ipv4/ip_forward"] = "0\n"
				ft["proc/sys/net/bridge/bridge-nf-call-iptables"] = "0\n"
			},
		},
		{
			// A directory stands in for a read-only /proc/sys: opening it
			// for writing fails.
			name: "forwarding off and not settable", opts: all, bins: allBinaries(),
			edit: func(ft fakeTree) { ft["proc/sys/net/ipv4/ip_forward"] = "<dir>" },
			want: []string{"net.ipv4.ip_forward is off and k1s cannot turn it on: is a directory — turn it on from the host: sysctl -w net.ipv4.ip_forward=1"},
		},
		{
			name: "nf_tables unusable", opts: all, bins: allBinaries(),
			nferr: errors.New("creating a table: protocol not supported"),
			want:  []string{"the kernel's nf_tables is unusable: creating a table: protocol not supported — load it: modprobe nf_tables nft_chain_nat nft_masq (in a container: on the host, and run the container privileged)"},
		},
		{
			name: "nf_tables not probed without root", opts: all, bins: allBinaries(), euid: 1000,
			nferr: errors.New("operation not permitted"),
			want:  []string{"k1s must run as root (effective uid is 1000) — run it with sudo"},
		},
		{
			name: "multi-node tools missing", opts: all, bins: without(allBinaries(), "nsenter", "ip"),
			want: []string{
				"nsenter not found on PATH — install it: apt-get install -y util-linux",
				"ip not found on PATH — install it: apt-get install -y iproute2",
			},
		},
		{
			name: "kubectl missing is a warning", opts: all, bins: without(allBinaries(), "kubectl"),
			want: []string{"warning: kubectl not found on PATH — Debian 12 does not package it; download it: curl -LO https://dl.k8s.io/release/v1.32.4/bin/linux/" + runtime.GOARCH + "/kubectl && install -m 0755 kubectl /usr/local/bin/kubectl"},
		},
		{
			name: "several at once, in order", opts: all, bins: []string{"containerd-shim-runc-v2", "runc", "nsenter", "ip", "kubectl"}, euid: 1000,
			edit: func(ft fakeTree) { delete(ft, "proc/sys/net/bridge/bridge-nf-call-iptables") },
			want: []string{
				"k1s must run as root (effective uid is 1000) — run it with sudo",
				"containerd not found on PATH — install it: apt-get install -y containerd",
				"br_netfilter is not loaded (/proc/sys/net/bridge is missing), so bridged pod traffic skips Service rules — load it: modprobe br_netfilter (in a container: on the host)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := healthyTree()
			if tt.edit != nil {
				tt.edit(ft)
			}
			o := tt.opts
			o.Root = ft.write(t)
			o.LookPath = fakePath(tt.bins...)
			h := fakeHost()
			h.euid = func() int { return tt.euid }
			h.probeNFTables = func() error { return tt.nferr }
			got := strs(run(context.Background(), o, h))
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	errA := Problem{What: "containerd not found on PATH", Fix: "install it: apt-get install -y containerd"}
	errB := Problem{What: "port 80 is in use by nginx (pid 7)", Fix: "stop it or pass --ingress-http-port"}
	warn := Problem{What: "kubectl not found on PATH", Fix: "download it", Warning: true}
	tests := []struct {
		name     string
		problems []Problem
		want     string
		failed   bool
	}{
		{name: "none", problems: nil, want: ""},
		{
			name: "one error", problems: []Problem{errA}, failed: true,
			want: "preflight: 1 problem, k1s cannot start:\n" +
				"  containerd not found on PATH — install it: apt-get install -y containerd\n",
		},
		{
			name: "errors before warnings", problems: []Problem{warn, errA, errB}, failed: true,
			want: "preflight: 2 problems, k1s cannot start:\n" +
				"  containerd not found on PATH — install it: apt-get install -y containerd\n" +
				"  port 80 is in use by nginx (pid 7) — stop it or pass --ingress-http-port\n" +
				"  warning: kubectl not found on PATH — download it\n",
		},
		{
			name: "warnings only", problems: []Problem{warn},
			want: "preflight: 1 warning:\n  warning: kubectl not found on PATH — download it\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Format(tt.problems); got != tt.want {
				t.Errorf("Format:\n got %q\nwant %q", got, tt.want)
			}
			if got := HasErrors(tt.problems); got != tt.failed {
				t.Errorf("HasErrors = %v, want %v", got, tt.failed)
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{What: "runc not found on PATH", Fix: "install it: apt-get install -y runc"}, "runc not found on PATH — install it: apt-get install -y runc"},
		{Problem{What: "something odd"}, "something odd"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
