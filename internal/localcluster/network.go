package localcluster

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/k1s/k1s/internal/podnetwork"
)

// The node network: the host's bridge and every extra node's namespace.
const (
	BridgeName = "k1s-nodes"
	// NodeNetTable masquerades the extra nodes' traffic leaving the node
	// network, as a real network's router would.
	NodeNetTable = "k1s-nodenet"
	netnsPrefix  = "k1s-node-"
	vethPrefix   = "k1s-veth-"
)

var nodeNet = netip.MustParsePrefix("10.44.0.0/24")

// hostAddress is the host's (first node's) address on the node network.
func hostAddress() netip.Addr { return nodeNet.Addr().Next() }

// nodeAddress is extra node i's (i >= 2) address.
func nodeAddress(i int) netip.Addr {
	a := nodeNet.Addr().As4()
	a[3] = byte(10 + i)
	return netip.AddrFrom4(a)
}

func netnsName(i int) string { return fmt.Sprintf("%s%d", netnsPrefix, i) }
func vethName(i int) string  { return fmt.Sprintf("%s%d", vethPrefix, i) }

// netnsPath is where `ip netns` and netns.NewNamed keep a named namespace.
func netnsPath(name string) string { return filepath.Join("/var/run/netns", name) }

// ensureBridge makes the host's side of the node network (idempotent).
func ensureBridge() error {
	link, err := netlink.LinkByName(BridgeName)
	if err != nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: BridgeName}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("creating bridge %s: %w", BridgeName, err)
		}
		if link, err = netlink.LinkByName(BridgeName); err != nil {
			return err
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: hostAddress().AsSlice(), Mask: net.CIDRMask(nodeNet.Bits(), 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("address of %s: %w", BridgeName, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling IP forwarding: %w", err)
	}
	return writeNodeNetTable()
}

// ensureNodeNamespace makes extra node i's namespace with a veth on the
// bridge, its address and a default route through the host (idempotent:
// an existing namespace is kept as it is).
func ensureNodeNamespace(i int) error {
	name := netnsName(i)
	if _, err := os.Stat(netnsPath(name)); err == nil {
		return nil
	}
	// Creating a named namespace switches the calling thread into it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name)
	if err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	defer ns.Close()
	if err := netns.Set(orig); err != nil {
		return err
	}
	fail := func(err error) error {
		netns.DeleteNamed(name)
		return err
	}
	br, err := netlink.LinkByName(BridgeName)
	if err != nil {
		return fail(err)
	}
	netlink.LinkDel(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: vethName(i)}}) // a previous run's
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: vethName(i), MasterIndex: br.Attrs().Index}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fail(fmt.Errorf("veth for %s: %w", name, err))
	}
	host, err := netlink.LinkByName(vethName(i))
	if err != nil {
		return fail(err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fail(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fail(err)
	}
	defer h.Close()
	for _, dev := range []string{"lo", "eth0"} {
		l, err := h.LinkByName(dev)
		if err != nil {
			return fail(err)
		}
		if dev == "eth0" {
			addr := &netlink.Addr{IPNet: &net.IPNet{IP: nodeAddress(i).AsSlice(), Mask: net.CIDRMask(nodeNet.Bits(), 32)}}
			if err := h.AddrAdd(l, addr); err != nil {
				return fail(err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			return fail(err)
		}
	}
	eth0, _ := h.LinkByName("eth0")
	if err := h.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: hostAddress().AsSlice()}); err != nil {
		return fail(fmt.Errorf("default route of %s: %w", name, err))
	}
	return nil
}

// removeNodeNamespace deletes extra node i's namespace (its veth and
// nftables tables go with it).
func removeNodeNamespace(i int) error {
	var errs []error
	if _, err := os.Stat(netnsPath(netnsName(i))); err == nil {
		if err := netns.DeleteNamed(netnsName(i)); err != nil {
			errs = append(errs, fmt.Errorf("deleting namespace %s: %w", netnsName(i), err))
		}
	}
	if l, err := netlink.LinkByName(vethName(i)); err == nil {
		netlink.LinkDel(l)
	}
	return errors.Join(errs...)
}

// removeBridge deletes the bridge and the masquerade table.
func removeBridge() error {
	var errs []error
	if l, err := netlink.LinkByName(BridgeName); err == nil {
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", BridgeName, err))
		}
	}
	if err := deleteNodeNetTable(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// writeNodeNetTable (re)writes the host's masquerade of node-network
// traffic going elsewhere, in one transaction.
func writeNodeNetTable() error {
	return podnetwork.WriteMasqueradeTable(NodeNetTable, nodeNet, nodeNet)
}

func deleteNodeNetTable() error { return podnetwork.DeleteTable(NodeNetTable) }
