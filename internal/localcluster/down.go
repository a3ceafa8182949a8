package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/k1s/k1s/internal/podnetwork"
	"github.com/k1s/k1s/internal/proxy"
)

// DownOptions configure Down.
type DownOptions struct {
	DataDir string
	// Purge also deletes the data dir: the cluster's objects and volumes.
	Purge bool
	Out   io.Writer
}

// podBridge is the bridge the CNI config of this machine's node makes.
const podBridge = "k1s0"

// Down stops the cluster in o.DataDir and removes what it made on this
// machine: processes (agents, the server, containerd and its shims, the
// pods), mounts under the data dir, cgroups, network namespaces, veths,
// bridges and nftables tables. The data stays unless Purge.
func Down(ctx context.Context, o DownOptions) error {
	var err error
	if o.DataDir, err = clusterDir(o.DataDir); err != nil {
		return err
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	st, err := Load(o.DataDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && o.Purge {
			return os.RemoveAll(o.DataDir)
		}
		return err
	}
	p := newProgress(o.Out)
	defer p.close()
	var errs []error

	step := p.step("stopping the agents and the server")
	for i := len(st.Nodes) - 1; i >= 1; i-- {
		n := st.Nodes[i]
		if err := stopProcess(n.PIDFile, n.DataDir, 30*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", n.Name, err))
		}
	}
	if err := stopProcess(st.Nodes[0].PIDFile, serverDir(o.DataDir), 30*time.Second); err != nil {
		errs = append(errs, fmt.Errorf("stopping the server: %w", err))
	}
	step.done("")

	step = p.step("removing pods, mounts and cgroups")
	var roots []string
	for _, n := range st.Nodes {
		roots = append(roots, n.CgroupRoot)
	}
	if err := Reap(o.DataDir, roots); err != nil {
		errs = append(errs, err)
	}
	// containerd's state dir is its /run: gone, as after a reboot, so that
	// a resumed node sees its pods' sandboxes dead and starts new ones
	// instead of reusing sandboxes whose network namespace is gone.
	for _, n := range st.Nodes {
		if err := os.RemoveAll(filepath.Join(n.DataDir, "containerd", "state")); err != nil {
			errs = append(errs, err)
		}
	}
	step.done("")

	step = p.step("removing the node network and nftables tables")
	for i := 2; i <= len(st.Nodes); i++ {
		if err := removeNodeNamespace(i); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeBridge(); err != nil {
		errs = append(errs, err)
	}
	if l, err := netlink.LinkByName(podBridge); err == nil {
		netlink.LinkDel(l)
	}
	if err := podnetwork.Cleanup(); err != nil {
		errs = append(errs, err)
	}
	if err := proxy.Cleanup(""); err != nil {
		errs = append(errs, err)
	}
	step.done("")

	if o.Purge {
		step = p.step("deleting " + o.DataDir)
		if err := os.RemoveAll(o.DataDir); err != nil {
			errs = append(errs, err)
		}
		step.done("")
	}
	return errors.Join(errs...)
}
