package proxy

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
)

// The table's family, in netlink's terms and in nft's. IPv4 only: an ip6
// or inet table would also need IPv6 keys in the maps and statements.
const (
	family     = nftables.TableFamilyIPv4
	familyName = "ip"
)

// socketBuffer is the netlink send and receive buffer size. A full sync of
// thousands of services is one batch of megabytes, and the kernel answers
// every message of it with an ack before the batch returns.
const socketBuffer = 256 << 20

var (
	serviceKeyType  = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	nodePortKeyType = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
)

// applier writes models to the kernel. It keeps no state: callers pass the
// part last applied and the one wanted.
type applier struct {
	netnsFd int // -1: the process's network namespace
	table   *nftables.Table
}

func newApplier(netnsFd int) *applier {
	return &applier{netnsFd: netnsFd, table: &nftables.Table{Family: family, Name: TableName}}
}

func (a *applier) conn() (*nftables.Conn, error) {
	opts := []nftables.ConnOption{nftables.WithSockOptions(func(c *netlink.Conn) error {
		raw, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		err = raw.Control(func(fd uintptr) {
			serr = errors.Join(
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer),
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer))
		})
		return errors.Join(err, serr)
	})}
	if a.netnsFd >= 0 {
		opts = append(opts, nftables.WithNetNSFd(a.netnsFd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

// replace deletes any table of ours and writes the whole model, in one
// transaction.
func (a *applier) replace(m model) error {
	c, err := a.conn()
	if err != nil {
		return err
	}
	c.AddTable(a.table) // so that the delete below cannot fail
	c.DelTable(a.table)
	c.AddTable(a.table)
	parts := m.parts()
	x := a.newTx(c)
	for _, p := range parts {
		for _, s := range p.Sets {
			if err := x.addSet(s); err != nil {
				return err
			}
		}
	}
	for _, p := range parts {
		for _, ch := range p.Chains {
			x.addChain(ch)
		}
	}
	for _, p := range parts {
		for _, ch := range p.Chains {
			if err := x.addRules(ch); err != nil {
				return err
			}
		}
	}
	var elems []element
	for _, p := range parts {
		elems = append(elems, p.Elements...)
	}
	if err := x.elements(elems, false); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("replace table %s: %w", TableName, err)
	}
	return nil
}

// resync rewrites every chain of the model in place, in one transaction,
// deletes chains and sets the model does not have, and brings the maps
// from old (what was applied last) to m. Unlike replace it keeps the
// contents of the session-affinity sets.
func (a *applier) resync(old, m model) error {
	c, err := a.conn()
	if err != nil {
		return err
	}
	all, err := c.ListChainsOfTableFamily(family)
	if err != nil {
		return fmt.Errorf("list chains: %w", err)
	}
	sets, err := c.GetSets(a.table)
	if err != nil {
		return fmt.Errorf("list sets: %w", err)
	}
	parts := m.parts()
	wantChain, wantSet := map[string]bool{}, map[string]bool{}
	for _, p := range parts {
		for _, ch := range p.Chains {
			wantChain[ch.Name] = true
		}
		for _, s := range p.Sets {
			wantSet[s.Name] = true
		}
	}
	// A chain or set applied before and missing now means the table was
	// changed behind our back, and then its maps cannot be trusted either:
	// the caller replaces it.
	have := map[string]bool{}
	for _, ch := range all {
		if ch.Table.Name == TableName {
			have["chain "+ch.Name] = true
		}
	}
	for _, s := range sets {
		have["set "+s.Name] = true
	}
	for _, p := range old.parts() {
		for _, ch := range p.Chains {
			if !have["chain "+ch.Name] {
				return fmt.Errorf("resync: chain %s is missing: %w", ch.Name, errDrift)
			}
		}
		for _, s := range p.Sets {
			if !have["set "+s.Name] {
				return fmt.Errorf("resync: set %s is missing: %w", s.Name, errDrift)
			}
		}
	}
	x := a.newTx(c)
	c.AddTable(a.table)
	for _, p := range parts {
		for _, ch := range p.Chains {
			x.addChain(ch)
			c.FlushChain(x.chain(ch))
		}
	}
	var staleChains []*nftables.Chain
	for _, ch := range all {
		if ch.Table.Name == TableName && !wantChain[ch.Name] {
			c.FlushChain(&nftables.Chain{Table: a.table, Name: ch.Name})
			staleChains = append(staleChains, &nftables.Chain{Table: a.table, Name: ch.Name})
		}
	}
	// Map elements are diffed against what was applied last, not flushed
	// and added back: a flush and re-add of the same keys in one
	// transaction fails on maps of a thousand elements, and listing them
	// back through google/nftables comes back incomplete at that size.
	var oldElems, newElems []element
	for _, p := range old.parts() {
		oldElems = append(oldElems, p.Elements...)
	}
	for _, p := range parts {
		newElems = append(newElems, p.Elements...)
	}
	stale, missing := elementDiff(oldElems, newElems)
	if err := x.elements(stale, true); err != nil {
		return err
	}
	for _, ch := range staleChains {
		c.DelChain(ch)
	}
	for _, s := range sets {
		if !s.Anonymous && !strings.HasPrefix(s.Name, "__") && !wantSet[s.Name] {
			c.DelSet(&nftables.Set{Table: a.table, Name: s.Name})
		}
	}
	for _, p := range parts {
		for _, s := range p.Sets {
			if err := x.addSet(s); err != nil {
				return err
			}
		}
	}
	for _, p := range parts {
		for _, ch := range p.Chains {
			if err := x.addRules(ch); err != nil {
				return err
			}
		}
	}
	if err := x.elements(missing, false); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("resync table %s: %w", TableName, err)
	}
	return nil
}

// errDrift says the kernel's table is not what was applied last.
var errDrift = errors.New("table differs from what was applied")

// change is one part's move from Old (what the kernel has) to New.
type change struct{ Old, New part }

// update applies changes in one transaction, touching only the chains,
// sets and elements that differ. Order matters inside the batch: elements
// and rules that reference a chain or set go before the chain or set does,
// and come after it is created.
func (a *applier) update(changes []change) error {
	c, err := a.conn()
	if err != nil {
		return err
	}
	x := a.newTx(c)
	var delElems, addElems []element
	var flush, del, add, rewrite []chain
	var delSets, addSets []set
	for _, ch := range changes {
		gone, added := elementDiff(ch.Old.Elements, ch.New.Elements)
		delElems, addElems = append(delElems, gone...), append(addElems, added...)
		// Sets first: a set deleted (or recreated with another timeout)
		// must first lose the rules that reference it, so then every chain
		// of the service is rewritten.
		setDeleted := false
		oldS := map[string]set{}
		for _, s := range ch.Old.Sets {
			oldS[s.Name] = s
		}
		newS := map[string]bool{}
		for _, s := range ch.New.Sets {
			newS[s.Name] = true
			if o, ok := oldS[s.Name]; !ok || o != s {
				if ok {
					delSets = append(delSets, o)
					setDeleted = true
				}
				addSets = append(addSets, s)
			}
		}
		for _, o := range ch.Old.Sets {
			if !newS[o.Name] {
				delSets = append(delSets, o)
				setDeleted = true
			}
		}
		oldC := map[string]chain{}
		for _, c := range ch.Old.Chains {
			oldC[c.Name] = c
		}
		newC := map[string]bool{}
		for _, n := range ch.New.Chains {
			newC[n.Name] = true
			o, ok := oldC[n.Name]
			switch {
			case !ok:
				add = append(add, n)
				rewrite = append(rewrite, n)
			case setDeleted || !sameRules(o.Rules, n.Rules):
				flush = append(flush, n)
				rewrite = append(rewrite, n)
			}
		}
		for _, o := range ch.Old.Chains {
			if !newC[o.Name] {
				flush = append(flush, o)
				del = append(del, o)
			}
		}
	}
	if err := x.elements(delElems, true); err != nil {
		return err
	}
	for _, ch := range flush {
		c.FlushChain(x.chain(ch))
	}
	for _, ch := range del {
		c.DelChain(x.chain(ch))
	}
	for _, s := range delSets {
		c.DelSet(&nftables.Set{Table: a.table, Name: s.Name})
	}
	for _, s := range addSets {
		if err := x.addSet(s); err != nil {
			return err
		}
	}
	for _, ch := range add {
		x.addChain(ch)
	}
	for _, ch := range rewrite {
		if err := x.addRules(ch); err != nil {
			return err
		}
	}
	if err := x.elements(addElems, false); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("update table %s: %w", TableName, err)
	}
	return nil
}

// elementDiff returns the elements of old to delete (gone, or going to
// another chain) and those of new to add.
func elementDiff(old, new []element) (del, add []element) {
	oldE := map[string]element{}
	for _, e := range old {
		oldE[e.Map+" "+e.key()] = e
	}
	newE := map[string]element{}
	for _, e := range new {
		newE[e.Map+" "+e.key()] = e
	}
	for k, e := range oldE {
		if n, ok := newE[k]; !ok || n != e {
			del = append(del, e)
		}
	}
	for k, e := range newE {
		if o, ok := oldE[k]; !ok || o != e {
			add = append(add, e)
		}
	}
	return del, add
}

func sameRules(a, b []rule) bool {
	return slices.EqualFunc(a, b, func(x, y rule) bool { return x.String() == y.String() })
}

// cleanup deletes the table; a missing table is not an error.
func (a *applier) cleanup() error {
	c, err := a.conn()
	if err != nil {
		return err
	}
	c.AddTable(a.table)
	c.DelTable(a.table)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete table %s: %w", TableName, err)
	}
	return nil
}

// Cleanup deletes the proxy's table from the network namespace at
// netnsPath ("" for the caller's own).
func Cleanup(netnsPath string) error {
	fd := -1
	if netnsPath != "" {
		f, err := os.Open(netnsPath)
		if err != nil {
			return fmt.Errorf("open netns: %w", err)
		}
		defer f.Close()
		fd = int(f.Fd())
	}
	return newApplier(fd).cleanup()
}

// tx collects the netlink messages of one transaction.
type tx struct {
	c     *nftables.Conn
	table *nftables.Table
	sets  map[string]*nftables.Set // created in this transaction
}

func (a *applier) newTx(c *nftables.Conn) *tx {
	return &tx{c: c, table: a.table, sets: map[string]*nftables.Set{}}
}

func (x *tx) chain(ch chain) *nftables.Chain {
	return &nftables.Chain{Name: ch.Name, Table: x.table}
}

func (x *tx) addChain(ch chain) {
	c := x.chain(ch)
	if h := ch.Hook; h != nil {
		c.Type = nftables.ChainType(h.Type)
		c.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(h.Priority))
		c.Hooknum = hookNum(h.Hook)
		accept := nftables.ChainPolicyAccept
		c.Policy = &accept
	}
	x.c.AddChain(c)
}

func hookNum(name string) *nftables.ChainHook {
	switch name {
	case "prerouting":
		return nftables.ChainHookPrerouting
	case "input":
		return nftables.ChainHookInput
	case "forward":
		return nftables.ChainHookForward
	case "output":
		return nftables.ChainHookOutput
	}
	return nftables.ChainHookPostrouting
}

func (x *tx) nftSet(s set) *nftables.Set {
	ns := &nftables.Set{Table: x.table, Name: s.Name}
	switch s.Kind {
	case kindServiceMap:
		ns.IsMap, ns.Concatenation, ns.KeyType, ns.DataType = true, true, serviceKeyType, nftables.TypeVerdict
	case kindNodePortMap:
		ns.IsMap, ns.Concatenation, ns.KeyType, ns.DataType = true, true, nodePortKeyType, nftables.TypeVerdict
	case kindAffinity:
		ns.KeyType, ns.HasTimeout, ns.Timeout, ns.Dynamic = nftables.TypeIPAddr, true, s.Timeout, true
	}
	return ns
}

func (x *tx) addSet(s set) error {
	ns := x.nftSet(s)
	if err := x.c.AddSet(ns, nil); err != nil {
		return fmt.Errorf("set %s: %w", s.Name, err)
	}
	x.sets[s.Name] = ns
	return nil
}

// set returns the set to reference from a rule: the one created in this
// transaction (known by ID too), else one the kernel has, by name.
func (x *tx) set(name string) *nftables.Set {
	if s, ok := x.sets[name]; ok {
		return s
	}
	return &nftables.Set{Table: x.table, Name: name}
}

func (x *tx) addRules(ch chain) error {
	c := x.chain(ch)
	for _, r := range ch.Rules {
		var exprs []expr.Any
		for _, st := range r {
			e, err := x.exprs(st)
			if err != nil {
				return fmt.Errorf("chain %s rule %q: %w", ch.Name, r, err)
			}
			exprs = append(exprs, e...)
		}
		x.c.AddRule(&nftables.Rule{Table: x.table, Chain: c, Exprs: exprs})
	}
	return nil
}

// elements adds or deletes map elements, grouped by map.
func (x *tx) elements(elems []element, del bool) error {
	byMap := map[string][]nftables.SetElement{}
	var maps []string
	for _, e := range elems {
		if _, ok := byMap[e.Map]; !ok {
			maps = append(maps, e.Map)
		}
		se := nftables.SetElement{Key: elementKey(e)}
		if !del {
			se.VerdictData = &expr.Verdict{Kind: expr.VerdictGoto, Chain: e.Goto}
		}
		byMap[e.Map] = append(byMap[e.Map], se)
	}
	sort.Strings(maps)
	for _, m := range maps {
		s := *x.set(m)
		s.IsMap, s.DataType = true, nftables.TypeVerdict
		var err error
		if del {
			err = x.c.SetDeleteElements(&s, byMap[m])
		} else {
			err = x.c.SetAddElements(&s, byMap[m])
		}
		if err != nil {
			return fmt.Errorf("map %s: %w", m, err)
		}
	}
	return nil
}

// elementKey encodes a concatenated key; each field is padded to 4 bytes
// as the registers it is compared against are.
func elementKey(e element) []byte {
	var k []byte
	if e.Addr.IsValid() {
		a := e.Addr.As4()
		k = append(k, a[:]...)
	}
	k = append(k, protoNum(e.Proto), 0, 0, 0)
	return append(k, byte(e.Port>>8), byte(e.Port), 0, 0)
}

func protoNum(p v1.Protocol) byte {
	switch p {
	case v1.ProtocolUDP:
		return unix.IPPROTO_UDP
	case v1.ProtocolSCTP:
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}

// Registers: NFT_REG_1 (16 bytes) overlaps the 32-bit registers 8 to 11
// that concatenated keys are loaded into.
const (
	reg1     = 1
	reg2     = 2
	reg32_01 = 9
	reg32_02 = 10
)

func loadAddr(source bool) expr.Any {
	off := uint32(16) // daddr
	if source {
		off = 12
	}
	return &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}
}

func loadMark() expr.Any { return &expr.Meta{Key: expr.MetaKeyMARK, Register: reg1} }

func storeMark() expr.Any {
	return &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1}
}

func u32(v uint32) []byte { return binaryutil.NativeEndian.PutUint32(v) }

// exprs translates one statement into netlink expressions.
func (x *tx) exprs(st stmt) ([]expr.Any, error) {
	switch s := st.(type) {
	case matchAddr:
		a := s.Addr.As4()
		return []expr.Any{loadAddr(s.Source), &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: a[:]}}, nil
	case matchNotPrefix:
		a := s.Prefix.Masked().Addr().As4()
		mask := uint32(0xffffffff) << (32 - s.Prefix.Bits())
		if s.Prefix.Bits() == 0 {
			mask = 0
		}
		return []expr.Any{
			loadAddr(s.Source),
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: binaryutil.BigEndian.PutUint32(mask), Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: a[:]},
		}, nil
	case matchLocalDaddr:
		return []expr.Any{
			&expr.Fib{Register: reg1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: u32(unix.RTN_LOCAL)},
		}, nil
	case matchCtNew:
		return []expr.Any{
			&expr.Ct{Register: reg1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: u32(expr.CtStateBitNEW), Xor: u32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: u32(0)},
		}, nil
	case matchL4Proto:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{protoNum(s.Proto)}},
		}, nil
	case matchSaddrInSet:
		set := x.set(s.Set)
		return []expr.Any{loadAddr(true), &expr.Lookup{SourceRegister: reg1, SetName: set.Name, SetID: set.ID}}, nil
	case returnIfUnmarked:
		return []expr.Any{
			loadMark(),
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: u32(masqueradeBit), Xor: u32(0)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: u32(0)},
			&expr.Verdict{Kind: expr.VerdictReturn},
		}, nil
	case setMasqMark:
		return []expr.Any{
			loadMark(),
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: u32(^uint32(masqueradeBit)), Xor: u32(masqueradeBit)},
			storeMark(),
		}, nil
	case clearMasqMark:
		return []expr.Any{
			loadMark(),
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: u32(0xffffffff), Xor: u32(masqueradeBit)},
			storeMark(),
		}, nil
	case masquerade:
		return []expr.Any{&expr.Masq{FullyRandom: true}}, nil
	case serviceVmap:
		set := x.set(s.Map)
		var e []expr.Any
		protoReg, portReg := uint32(reg32_01), uint32(reg32_02)
		if s.NodePort {
			protoReg, portReg = reg1, reg32_01
		} else {
			e = append(e, loadAddr(false))
		}
		return append(e,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: protoReg},
			&expr.Payload{DestRegister: portReg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Lookup{SourceRegister: reg1, DestRegister: 0, IsDestRegSet: true, SetName: set.Name, SetID: set.ID},
		), nil
	case randomVmap:
		// numgen leaves a host-endian number in the register, so the keys
		// are host-endian too. The kernel compares bytes, which match; nft
		// prints these keys as big-endian (1 as 16777216) because
		// google/nftables marks an anonymous set's keys big-endian.
		anon := &nftables.Set{Table: x.table, Anonymous: true, Constant: true, IsMap: true,
			KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict}
		elems := make([]nftables.SetElement, len(s.Chains))
		for i, ch := range s.Chains {
			elems[i] = nftables.SetElement{Key: u32(uint32(i)), VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: ch}}
		}
		if err := x.c.AddSet(anon, elems); err != nil {
			return nil, err
		}
		return []expr.Any{
			&expr.Numgen{Register: reg1, Modulus: uint32(len(s.Chains)), Type: unix.NFT_NG_RANDOM},
			&expr.Lookup{SourceRegister: reg1, DestRegister: 0, IsDestRegSet: true, SetName: anon.Name, SetID: anon.ID},
		}, nil
	case dnat:
		a := s.Addr.As4()
		return []expr.Any{
			&expr.Immediate{Register: reg1, Data: a[:]},
			&expr.Immediate{Register: reg2, Data: binaryutil.BigEndian.PutUint16(s.Port)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegProtoMin: reg2, Specified: true},
		}, nil
	case updateSaddr:
		set := x.set(s.Set)
		return []expr.Any{
			loadAddr(true),
			&expr.Dynset{SrcRegKey: reg1, SetName: set.Name, SetID: set.ID, Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: s.Timeout},
		}, nil
	case reject:
		if s.TCPReset {
			return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}, nil
		}
		return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3 /* port unreachable */}}, nil
	case jump:
		return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: s.Chain}}, nil
	case goTo:
		return []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: s.Chain}}, nil
	}
	return nil, fmt.Errorf("no translation for %T", st)
}

// parts lists the skeleton first, then services by key, so that a batch
// is built in the same order every time.
func (m model) parts() []part {
	keys := make([]string, 0, len(m.Services))
	for k := range m.Services {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []part{m.Skeleton}
	for _, k := range keys {
		out = append(out, m.Services[k])
	}
	return out
}
