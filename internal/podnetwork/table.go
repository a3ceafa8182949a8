package podnetwork

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
)

// TableName is the nftables table (family ip) a Network owns.
const TableName = "k1s-podnet"

// tableSpec is what the table is built from. A zero podCIDR (the node has
// none yet) gives a table without the masquerade rule.
type tableSpec struct {
	cluster netip.Prefix
	podCIDR netip.Prefix
}

// syncTable rewrites the table unless it exists with spec already.
func (n *Network) syncTable(spec tableSpec) error {
	conn, closeNS, err := nftConn(n.opts.NetNSPath)
	if err != nil {
		return err
	}
	defer closeNS()
	if spec == n.lastTable {
		if _, err := conn.ListTableOfFamily(TableName, nftables.TableFamilyIPv4); err == nil {
			return nil
		}
	}
	writeTable(conn, TableName, spec)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("writing nftables table %s: %w", TableName, err)
	}
	if spec != n.lastTable {
		n.log.Info("wrote nftables table", "table", TableName, "podCIDR", spec.podCIDR, "clusterCIDR", spec.cluster)
	}
	n.lastTable = spec
	return nil
}

// writeTable queues the table's replacement in one transaction: add (so
// the delete cannot fail), delete, and build it anew. Packets see the old
// table or the new one, never none.
func writeTable(conn *nftables.Conn, name string, spec tableSpec) {
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: name}
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
	accept := nftables.ChainPolicyAccept
	post := conn.AddChain(&nftables.Chain{
		Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept,
	})
	fwd := conn.AddChain(&nftables.Chain{
		Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept,
	})
	if spec.podCIDR.IsValid() {
		// ip saddr <podCIDR> ip daddr != <cluster> masquerade
		e := matchPrefix(offsetSaddr, spec.podCIDR, expr.CmpOpEq)
		e = append(e, matchPrefix(offsetDaddr, spec.cluster, expr.CmpOpNeq)...)
		e = append(e, &expr.Masq{})
		conn.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: e})
	}
	for _, off := range []uint32{offsetSaddr, offsetDaddr} {
		e := append(matchPrefix(off, spec.cluster, expr.CmpOpEq), &expr.Verdict{Kind: expr.VerdictAccept})
		conn.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: e})
	}
}

// Offsets of the addresses in the IPv4 header.
const (
	offsetSaddr = 12
	offsetDaddr = 16
)

// matchPrefix compares the address at off in the IPv4 header with p.
func matchPrefix(off uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	a := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: net.CIDRMask(p.Bits(), 32), Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: a[:]},
	}
}

// WriteMasqueradeTable replaces the nftables table name (family ip) in
// our own network namespace with the rules a node's pod network has:
// traffic from src to outside cluster is masqueraded, and traffic from or
// to cluster is accepted on forward. `k1s up` uses it for the network its
// nodes share.
func WriteMasqueradeTable(name string, src, cluster netip.Prefix) error {
	conn, closeNS, err := nftConn("")
	if err != nil {
		return err
	}
	defer closeNS()
	writeTable(conn, name, tableSpec{cluster: cluster, podCIDR: src})
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("writing nftables table %s: %w", name, err)
	}
	return nil
}

// DeleteTable removes the nftables table name (family ip) from our own
// network namespace if it exists.
func DeleteTable(name string) error { return deleteTable("", name) }

// deleteTable removes the table name from the namespace at path if it
// exists.
func deleteTable(path, name string) error {
	conn, closeNS, err := nftConn(path)
	if err != nil {
		return err
	}
	defer closeNS()
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: name}
	conn.AddTable(t)
	conn.DelTable(t)
	if err := conn.Flush(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("deleting nftables table %s: %w", name, err)
	}
	return nil
}

// nftConn opens an nftables connection to the namespace at path ("" =
// our own); the returned func releases the namespace handle.
func nftConn(path string) (*nftables.Conn, func(), error) {
	var opts []nftables.ConnOption
	closeNS := func() {}
	if path != "" {
		ns, err := netns.GetFromPath(path)
		if err != nil {
			return nil, nil, fmt.Errorf("network namespace %s: %w", path, err)
		}
		closeNS = func() { ns.Close() }
		opts = append(opts, nftables.WithNetNSFd(int(ns)))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		closeNS()
		return nil, nil, fmt.Errorf("nftables: %w", err)
	}
	return conn, closeNS, nil
}
