package containerd

import (
	"github.com/k1s/k1s/internal/image"

	"fmt"
	"strings"
)

// configTOML renders containerd's config (format version 2, containerd
// 1.6 and 1.7). Everything containerd writes lives under c.dir; only the
// shims' sockets go to /run/containerd/s, named by a hash of our socket
// path so that several containerds do not collide.
func (c *Containerd) configTOML() string {
	var b strings.Builder
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	fmt.Fprintf(&b, "version = 2\n")
	fmt.Fprintf(&b, "root = %s\n", q(c.rootDir()))
	fmt.Fprintf(&b, "state = %s\n", q(c.stateDir()))
	// Snapshotters k1s never uses only add start-up noise and probes.
	fmt.Fprintf(&b, "disabled_plugins = [%s]\n", strings.Join([]string{
		q("io.containerd.snapshotter.v1.aufs"),
		q("io.containerd.snapshotter.v1.btrfs"),
		q("io.containerd.snapshotter.v1.devmapper"),
		q("io.containerd.snapshotter.v1.zfs"),
	}, ", "))
	fmt.Fprintf(&b, "\n[grpc]\n  address = %s\n", q(c.Address()))
	fmt.Fprintf(&b, "\n[ttrpc]\n  address = %s\n", q(c.Address()+".ttrpc"))
	fmt.Fprintf(&b, "\n[plugins]\n")
	fmt.Fprintf(&b, "  [plugins.\"io.containerd.internal.v1.opt\"]\n    path = %s\n", q(c.dir+"/opt"))
	fmt.Fprintf(&b, "  [plugins.\"io.containerd.grpc.v1.cri\"]\n")
	fmt.Fprintf(&b, "    sandbox_image = %s\n", q(image.PauseImageRef))
	// This VM's root lacks CAP_SYS_RESOURCE: runc cannot lower
	// oom_score_adj, and every sandbox would fail without this.
	fmt.Fprintf(&b, "    restrict_oom_score_adj = true\n")
	fmt.Fprintf(&b, "    disable_apparmor = true\n")
	fmt.Fprintf(&b, "    enable_selinux = false\n")
	fmt.Fprintf(&b, "    stream_server_address = %s\n", q(c.opts.StreamAddress))
	fmt.Fprintf(&b, "    stream_server_port = \"0\"\n")
	// Pod netns mounts live in our state dir, not /var/run/netns shared
	// with every other containerd (and node) on the machine.
	fmt.Fprintf(&b, "    netns_mounts_under_state_dir = true\n")
	fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n")
	fmt.Fprintf(&b, "      snapshotter = \"overlayfs\"\n")
	fmt.Fprintf(&b, "      default_runtime_name = \"runc\"\n")
	fmt.Fprintf(&b, "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n")
	fmt.Fprintf(&b, "        runtime_type = \"io.containerd.runc.v2\"\n")
	fmt.Fprintf(&b, "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n")
	// No systemd here: cgroupfs parents like /k1s/pod-<uid>.
	fmt.Fprintf(&b, "          SystemdCgroup = false\n")
	fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n")
	fmt.Fprintf(&b, "      bin_dir = %s\n", q(c.opts.CNIBinDir))
	fmt.Fprintf(&b, "      conf_dir = %s\n", q(c.cniConfDir()))
	fmt.Fprintf(&b, "      max_conf_num = 1\n")
	return b.String()
}
