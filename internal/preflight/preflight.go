package preflight

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Options select the checks Run performs and where it looks.
type Options struct {
	// NeedRoot requires an effective uid of 0.
	NeedRoot bool
	// NeedRuntime requires what a node runs pods with: containerd, its
	// runc shim, runc and the CNI plugins, and the kernel features pods
	// use (cgroups, overlayfs, network namespaces, br_netfilter, IP
	// forwarding).
	NeedRuntime bool
	// NeedNFTables requires nf_tables in the kernel, with NAT (the proxy
	// and the pod network program it over netlink; the nft binary is not
	// needed). The probe runs only as root.
	NeedNFTables bool
	// MultiNode requires nsenter and ip, which running a node in its own
	// network namespace uses.
	MultiNode bool
	// WantKubectl warns when kubectl is not on PATH.
	WantKubectl bool
	// Ports must be free to listen on.
	Ports []Port

	// CNIBinDirs are searched for the CNI plugins, in order; default
	// /usr/lib/cni (Debian's) and /opt/cni/bin (upstream's).
	CNIBinDirs []string
	// Root prefixes every path read under /proc and /sys and the CNI
	// directories; default "/".
	Root string
	// LookPath finds binaries; default exec.LookPath.
	LookPath func(file string) (string, error)
}

// Port is a TCP port some component will listen on.
type Port struct {
	// Addr is the address to bind; "" means all addresses.
	Addr string
	Port int
	// Flag is the command-line flag that moves the port, named in the
	// fix ("--ingress-http-port"); may be empty.
	Flag string
}

// Problem is one failed check.
type Problem struct {
	// What is missing or wrong.
	What string
	// Fix says how to fix it.
	Fix string
	// Warning marks something k1s can run without.
	Warning bool
}

// String is the problem on one line: what, then the fix.
func (p Problem) String() string {
	if p.Fix == "" {
		return p.What
	}
	return p.What + " — " + p.Fix
}

// HasErrors reports whether any problem is not a warning, that is,
// whether k1s should refuse to start.
func HasErrors(problems []Problem) bool {
	for _, p := range problems {
		if !p.Warning {
			return true
		}
	}
	return false
}

// Format renders problems for the terminal: a summary line, then one line
// per problem, errors before warnings. It returns "" for no problems.
func Format(problems []Problem) string {
	if len(problems) == 0 {
		return ""
	}
	var errs, warns []Problem
	for _, p := range problems {
		if p.Warning {
			warns = append(warns, p)
		} else {
			errs = append(errs, p)
		}
	}
	var b strings.Builder
	switch {
	case len(errs) > 0:
		fmt.Fprintf(&b, "preflight: %s, k1s cannot start:\n", count(len(errs), "problem"))
	default:
		fmt.Fprintf(&b, "preflight: %s:\n", count(len(warns), "warning"))
	}
	for _, p := range errs {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	for _, p := range warns {
		fmt.Fprintf(&b, "  warning: %s\n", p)
	}
	return b.String()
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// host is what Run cannot read from Options.Root: the real process's
// identity, the kernel's nf_tables, and the network stack. Tests replace
// it.
type host struct {
	euid          func() int
	probeNFTables func() error
	listen        func(network, addr string) (net.Listener, error)
}

// Run performs the checks o asks for and returns the problems found, in a
// fixed order (nil when all pass). It changes nothing on the host; see the
// package documentation.
func Run(ctx context.Context, o Options) []Problem {
	return run(ctx, o, host{euid: os.Geteuid, probeNFTables: probeNFTables, listen: net.Listen})
}

func run(ctx context.Context, o Options, h host) []Problem {
	o = o.withDefaults()
	c := &checker{o: o, h: h, root: h.euid() == 0}
	if o.NeedRoot && !c.root {
		c.add(Problem{
			What: fmt.Sprintf("k1s must run as root (effective uid is %d)", h.euid()),
			Fix:  "run it with sudo",
		})
	}
	if o.NeedRuntime {
		c.runtime()
		c.cgroups()
		c.overlay()
		c.netns()
		c.sysctl("net/bridge/bridge-nf-call-iptables",
			Problem{
				What: "br_netfilter is not loaded (/proc/sys/net/bridge is missing), so bridged pod traffic skips Service rules",
				Fix:  "load it: modprobe br_netfilter (in a container: on the host)",
			},
			"sysctl -w net.bridge.bridge-nf-call-iptables=1")
		c.sysctl("net/ipv4/ip_forward",
			Problem{
				What: "IP forwarding is unavailable (/proc/sys/net/ipv4/ip_forward is missing)",
				Fix:  "use a kernel with IPv4 networking",
			},
			"sysctl -w net.ipv4.ip_forward=1")
	}
	if o.NeedNFTables && c.root {
		c.nftables()
	}
	c.duplicatePorts()
	for _, p := range o.Ports {
		if ctx.Err() != nil {
			break
		}
		c.port(ctx, p)
	}
	if o.MultiNode {
		c.binary("nsenter", "util-linux")
		c.binary("ip", "iproute2")
	}
	if o.WantKubectl {
		if _, err := o.LookPath("kubectl"); err != nil {
			c.add(Problem{
				What:    "kubectl not found on PATH",
				Fix:     kubectlFix(),
				Warning: true,
			})
		}
	}
	return c.problems
}

func (o Options) withDefaults() Options {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	if len(o.CNIBinDirs) == 0 {
		o.CNIBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	return o
}

// checker collects problems while the checks run.
type checker struct {
	o        Options
	h        host
	root     bool // effective uid 0
	problems []Problem
}

func (c *checker) add(p Problem) { c.problems = append(c.problems, p) }

// path is an absolute host path under Options.Root.
func (c *checker) path(p string) string { return filepath.Join(c.o.Root, p) }

// binary reports file missing from PATH, fixed by installing pkg.
func (c *checker) binary(file, pkg string) {
	if _, err := c.o.LookPath(file); err != nil {
		c.add(Problem{What: file + " not found on PATH", Fix: "install it: apt-get install -y " + pkg})
	}
}

// kubectlFix says where to get kubectl, which Debian 12 does not package:
// upstream's release of the minor version k1s is tested with.
func kubectlFix() string {
	return fmt.Sprintf("Debian 12 does not package it; download it: curl -LO https://dl.k8s.io/release/v1.32.4/bin/linux/%s/kubectl && install -m 0755 kubectl /usr/local/bin/kubectl", runtime.GOARCH)
}

// runtime checks the container runtime's binaries and CNI plugins.
func (c *checker) runtime() {
	c.binary("containerd", "containerd")
	c.binary("containerd-shim-runc-v2", "containerd")
	c.binary("runc", "runc")

	var missing []string
	// The plugins k1s's CNI config chains (internal/containerd).
	for _, name := range []string{"bridge", "host-local", "loopback", "portmap"} {
		found := false
		for _, dir := range c.o.CNIBinDirs {
			if isExecutable(c.path(filepath.Join(dir, name))) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		c.add(Problem{
			What: fmt.Sprintf("CNI plugin%s %s not found in %s",
				plural(len(missing)), strings.Join(missing, ", "), strings.Join(c.o.CNIBinDirs, " or ")),
			Fix: "install them: apt-get install -y containernetworking-plugins",
		})
	}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
