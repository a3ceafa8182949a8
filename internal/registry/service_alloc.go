package registry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// serviceAllocator hands out ClusterIPs from the service CIDR and NodePorts
// from the NodePort range. Its state is in memory, rebuilt from every
// stored Service on first use, and owned by "namespace/name" so that a
// service re-sending what it already holds is not a conflict.
//
// Dynamic ClusterIPs avoid the first addresses of the range (the "static
// band": min(max(size/16, 16), 256) addresses) while the rest has room, so
// that well-known addresses such as the kubernetes service's first IP and
// the DNS service's stay free for those who ask for them by number.
type serviceAllocator struct {
	prefix           netip.Prefix
	first            netip.Addr // first usable address (network address + 1)
	size             uint64     // number of usable addresses
	portMin, portMax int32
	list             func(ctx context.Context) ([]corev1.Service, error)

	mu     sync.Mutex
	loaded bool
	ips    map[netip.Addr]string // address -> owner
	ports  map[int32]string      // node port -> owner
}

// serviceMaxRange bounds the addresses considered in a (typically IPv6)
// service CIDR, as upstream does.
const serviceMaxRange = 1 << 20

func newServiceAllocator(opts Options) *serviceAllocator {
	p := opts.ServiceCIDR.Masked()
	bits := p.Addr().BitLen() - p.Bits()
	size := uint64(serviceMaxRange)
	if bits < 20 {
		size = uint64(1) << bits
	}
	// The network address is never handed out; for IPv4 the broadcast
	// address neither.
	switch {
	case size <= 2 && p.Addr().Is4():
		size = 0
	case p.Addr().Is4() && bits < 20:
		size -= 2
	default:
		size--
	}
	return &serviceAllocator{
		prefix: p, first: p.Addr().Next(), size: size,
		portMin: int32(opts.NodePortMin), portMax: int32(opts.NodePortMax),
		list: opts.ListServices,
	}
}

var serviceGroupKind = schema.GroupKind{Kind: "Service"}

func serviceOwner(svc *corev1.Service) string {
	return svc.Namespace + "/" + svc.Name
}

// load rebuilds the state from the stored services, once.
func (a *serviceAllocator) load(ctx context.Context) error {
	if a.loaded {
		return nil
	}
	a.ips, a.ports = map[netip.Addr]string{}, map[int32]string{}
	if a.list != nil {
		svcs, err := a.list(ctx)
		if err != nil {
			return fmt.Errorf("rebuilding service allocations: %w", err)
		}
		for i := range svcs {
			a.record(&svcs[i])
		}
	}
	a.loaded = true
	return nil
}

// record marks what a stored service holds.
func (a *serviceAllocator) record(svc *corev1.Service) {
	owner := serviceOwner(svc)
	for _, r := range serviceHeld(svc) {
		if r.port != 0 {
			a.ports[r.port] = owner
		} else {
			a.ips[r.ip] = owner
		}
	}
}

// serviceResource is one allocated thing: an address or a node port.
type serviceHeldResource struct {
	ip   netip.Addr
	port int32
}

// serviceHeld lists the allocations a service's spec claims.
func serviceHeld(svc *corev1.Service) []serviceHeldResource {
	var out []serviceHeldResource
	if svc == nil {
		return nil
	}
	if serviceNeedsClusterIP(svc) {
		for _, s := range svc.Spec.ClusterIPs {
			if ip, err := netip.ParseAddr(s); err == nil {
				out = append(out, serviceHeldResource{ip: ip})
			}
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				out = append(out, serviceHeldResource{port: p.NodePort})
			}
		}
	}
	if serviceNeedsHealthCheck(svc) && svc.Spec.HealthCheckNodePort != 0 {
		out = append(out, serviceHeldResource{port: svc.Spec.HealthCheckNodePort})
	}
	return out
}

// serviceAllocTx records changes so that they can be undone.
type serviceAllocTx struct {
	a    *serviceAllocator
	undo []func()
}

func (tx *serviceAllocTx) setIP(ip netip.Addr, owner string) {
	tx.undo = append(tx.undo, serviceSet(tx.a.ips, ip, owner))
}

func (tx *serviceAllocTx) setPort(port int32, owner string) {
	tx.undo = append(tx.undo, serviceSet(tx.a.ports, port, owner))
}

// serviceSet sets (or, for owner "", deletes) m[k] and returns its undo.
// The undo restores the previous owner only if nobody changed the entry
// since: an address freed by an update that then failed may already have
// been handed to another service, and must not be given out twice.
func serviceSet[K comparable](m map[K]string, k K, owner string) func() {
	prev, had := m[k]
	if owner == "" {
		delete(m, k)
	} else {
		m[k] = owner
	}
	return func() {
		if cur, ok := m[k]; cur != owner || ok != (owner != "") {
			return
		}
		if had {
			m[k] = prev
		} else {
			delete(m, k)
		}
	}
}

// rollbackLocked undoes the changes; the caller holds a.mu.
func (tx *serviceAllocTx) rollbackLocked() {
	for i := len(tx.undo) - 1; i >= 0; i-- {
		tx.undo[i]()
	}
	tx.undo = nil
}

// Allocate reserves the ClusterIP and NodePorts obj asks for (filling in
// the ones it leaves empty) and frees what old held that obj no longer
// does. It writes the allocated values into obj.
func (a *serviceAllocator) Allocate(ctx context.Context, obj, old runtime.Object) (func(), error) {
	var svc, oldSvc *corev1.Service
	if obj != nil {
		svc = obj.(*corev1.Service)
	}
	if old != nil {
		oldSvc = old.(*corev1.Service)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.load(ctx); err != nil {
		return nil, err
	}
	tx := &serviceAllocTx{a: a}
	if svc != nil {
		if err := a.allocateLocked(tx, svc, oldSvc); err != nil {
			tx.rollbackLocked()
			return nil, err
		}
	}
	if oldSvc != nil {
		keep := map[serviceHeldResource]bool{}
		for _, r := range serviceHeld(svc) {
			keep[r] = true
		}
		a.releaseLocked(tx, oldSvc, keep)
	}
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		tx.rollbackLocked()
	}, nil
}

// Release frees everything a deleted service held.
func (a *serviceAllocator) Release(ctx context.Context, obj runtime.Object) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.load(ctx); err != nil {
		return // not loaded: the next load rebuilds from what is stored
	}
	a.releaseLocked(&serviceAllocTx{a: a}, svc, nil)
}

func (a *serviceAllocator) releaseLocked(tx *serviceAllocTx, svc *corev1.Service, keep map[serviceHeldResource]bool) {
	owner := serviceOwner(svc)
	for _, r := range serviceHeld(svc) {
		if keep[r] {
			continue
		}
		if r.port != 0 {
			if a.ports[r.port] == owner {
				tx.setPort(r.port, "")
			}
		} else if a.ips[r.ip] == owner {
			tx.setIP(r.ip, "")
		}
	}
}

func (a *serviceAllocator) allocateLocked(tx *serviceAllocTx, svc, old *corev1.Service) error {
	owner := serviceOwner(svc)
	var errs field.ErrorList
	specPath := field.NewPath("spec")

	if serviceNeedsClusterIP(svc) && !serviceHeadless(svc) {
		switch {
		case svc.Spec.ClusterIP == "":
			ip, ok := a.nextIPLocked()
			if !ok {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
			}
			tx.setIP(ip, owner)
			svc.Spec.ClusterIP = ip.String()
			svc.Spec.ClusterIPs = []string{ip.String()}
		default:
			if msg := a.claimIPLocked(tx, svc.Spec.ClusterIP, owner); msg != "" {
				errs = append(errs, field.Invalid(specPath.Child("clusterIPs"), svc.Spec.ClusterIPs,
					fmt.Sprintf("failed to allocate IP %s: %s", svc.Spec.ClusterIP, msg)))
			}
		}
	}
	if serviceHeadless(svc) {
		svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
	}

	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		// Ports with the same number (e.g. DNS over TCP and UDP) share a node port.
		byPort := map[int32]int32{}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				if msg := a.claimPortLocked(tx, p.NodePort, owner); msg != "" {
					errs = append(errs, field.Invalid(specPath.Child("ports").Index(i).Child("nodePort"), p.NodePort, msg))
				}
				byPort[p.Port] = p.NodePort
			}
		}
		if serviceNeedsNodePorts(svc) {
			for i := range svc.Spec.Ports {
				p := &svc.Spec.Ports[i]
				if p.NodePort != 0 {
					continue
				}
				if np, ok := byPort[p.Port]; ok {
					p.NodePort = np
					continue
				}
				np, ok := a.nextPortLocked()
				if !ok {
					return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
				}
				tx.setPort(np, owner)
				p.NodePort, byPort[p.Port] = np, np
			}
		}
	}

	if serviceNeedsHealthCheck(svc) {
		hc := svc.Spec.HealthCheckNodePort
		switch {
		case hc == 0:
			np, ok := a.nextPortLocked()
			if !ok {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a healthCheck nodePort: range is full"))
			}
			tx.setPort(np, owner)
			svc.Spec.HealthCheckNodePort = np
		default:
			if msg := a.claimPortLocked(tx, hc, owner); msg != "" {
				errs = append(errs, field.Invalid(specPath.Child("healthCheckNodePort"), hc,
					fmt.Sprintf("failed to allocate requested HealthCheck NodePort %d: %s", hc, msg)))
			}
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(serviceGroupKind, svc.Name, errs)
	}
	return nil
}

// claimIPLocked reserves a requested address; it returns why it cannot.
func (a *serviceAllocator) claimIPLocked(tx *serviceAllocTx, s, owner string) string {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return "not a valid IP address"
	}
	if !a.inRange(ip) {
		return fmt.Sprintf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", s, a.prefix)
	}
	if cur, ok := a.ips[ip]; ok && cur != owner {
		return "provided IP is already allocated"
	}
	tx.setIP(ip, owner)
	return ""
}

func (a *serviceAllocator) claimPortLocked(tx *serviceAllocTx, port int32, owner string) string {
	if port < a.portMin || port > a.portMax {
		return fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.portMin, a.portMax)
	}
	if cur, ok := a.ports[port]; ok && cur != owner {
		return "provided port is already allocated"
	}
	tx.setPort(port, owner)
	return ""
}

func (a *serviceAllocator) inRange(ip netip.Addr) bool {
	if !a.prefix.Contains(ip) {
		return false
	}
	off, ok := serviceOffset(a.first, ip)
	return ok && off < a.size
}

// nextIPLocked picks a random free address, above the static band first.
func (a *serviceAllocator) nextIPLocked() (netip.Addr, bool) {
	band := min(max(a.size/16, 16), 256)
	if band >= a.size {
		band = 0
	}
	if ip, ok := a.scanIPLocked(band, a.size); ok {
		return ip, true
	}
	return a.scanIPLocked(0, band)
}

func (a *serviceAllocator) scanIPLocked(lo, hi uint64) (netip.Addr, bool) {
	if hi <= lo {
		return netip.Addr{}, false
	}
	n := hi - lo
	start := rand.Uint64N(n)
	for i := range n {
		ip := serviceAddrAdd(a.first, lo+(start+i)%n)
		if _, taken := a.ips[ip]; !taken {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func (a *serviceAllocator) nextPortLocked() (int32, bool) {
	n := int64(a.portMax) - int64(a.portMin) + 1
	if n <= 0 {
		return 0, false
	}
	start := rand.Int64N(n)
	for i := range n {
		p := a.portMin + int32((start+i)%n)
		if _, taken := a.ports[p]; !taken {
			return p, true
		}
	}
	return 0, false
}

// serviceAddrAdd returns base + off.
func serviceAddrAdd(base netip.Addr, off uint64) netip.Addr {
	b := base.As16()
	carry := off
	for i := 15; i >= 0 && carry > 0; i-- {
		sum := uint64(b[i]) + carry&0xff
		b[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	ip := netip.AddrFrom16(b)
	if base.Is4() {
		ip = ip.Unmap()
	}
	return ip
}

// serviceOffset returns ip - base when it fits in 64 bits.
func serviceOffset(base, ip netip.Addr) (uint64, bool) {
	if base.Is4() != ip.Is4() || ip.Less(base) {
		return 0, false
	}
	a, b := base.As16(), ip.As16()
	var hiA, loA, hiB, loB uint64
	for i := range 8 {
		hiA, hiB = hiA<<8|uint64(a[i]), hiB<<8|uint64(b[i])
		loA, loB = loA<<8|uint64(a[8+i]), loB<<8|uint64(b[8+i])
	}
	borrow := uint64(0)
	if loB < loA {
		borrow = 1
	}
	if hiB-hiA-borrow != 0 {
		return 0, false
	}
	return loB - loA, true
}
