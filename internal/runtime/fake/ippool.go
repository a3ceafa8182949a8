package fake

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
)

// maxPoolSize bounds the bitmap: 65,536 addresses are 8 KiB; a node's pod
// range is usually a /24.
const maxPoolSize = 1 << 16

// ipPool hands out addresses of a prefix lowest-free-first, so addresses are
// sequential and freed ones are reused. Offsets 0 (network) and 1 (gateway)
// and, for IPv4, the broadcast address are never handed out.
type ipPool struct {
	prefix netip.Prefix
	size   int      // usable offsets are [2, size)
	used   []uint64 // bit per offset
}

func newIPPool(prefix netip.Prefix) (*ipPool, error) {
	prefix = prefix.Masked()
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	size := maxPoolSize
	if hostBits < 16 {
		size = 1 << hostBits
	}
	if prefix.Addr().Is4() && hostBits < 16 {
		size-- // broadcast
	}
	if size <= 2 {
		return nil, fmt.Errorf("%s has no room for pod addresses", prefix)
	}
	used := make([]uint64, (size+63)/64)
	used[0] = 0b11 // network and gateway
	return &ipPool{prefix: prefix, size: size, used: used}, nil
}

func (p *ipPool) allocate() (int32, bool) {
	for i, w := range p.used {
		if w == ^uint64(0) {
			continue
		}
		off := i*64 + bits.TrailingZeros64(^w)
		if off >= p.size {
			return 0, false
		}
		p.used[i] |= 1 << (off % 64)
		return int32(off), true
	}
	return 0, false
}

func (p *ipPool) release(off int32) {
	p.used[off/64] &^= 1 << (off % 64)
}

func (p *ipPool) addr(off int32) netip.Addr {
	b := p.prefix.Addr().As16()
	low := binary.BigEndian.Uint64(b[8:]) + uint64(off)
	binary.BigEndian.PutUint64(b[8:], low)
	a := netip.AddrFrom16(b)
	if p.prefix.Addr().Is4() {
		return a.Unmap()
	}
	return a
}
