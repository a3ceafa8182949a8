package dns

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// schemaVersion is the version of the Kubernetes DNS specification the
// zone implements, answered as TXT at dns-version.<domain>.
const schemaVersion = "1.1.0"

// catalog is what the zone reads: the cluster's Services and the endpoints
// of their EndpointSlices. The server's is backed by informer caches.
type catalog interface {
	// service returns the Service or nil.
	service(namespace, name string) *corev1.Service
	// hasServices reports whether the namespace holds any Service.
	hasServices(namespace string) bool
	// endpoints returns the endpoints of a Service's EndpointSlices, one per
	// address, sorted by address.
	endpoints(namespace, service string) []endpoint
	// servicesByIP returns the Services with addr among their cluster IPs.
	servicesByIP(addr netip.Addr) []*corev1.Service
	// endpointsByIP returns the Services (namespace/name) that have an
	// endpoint with addr, and that endpoint.
	endpointsByIP(addr netip.Addr) []ownedEndpoint
}

// endpoint is one address of a Service's EndpointSlices.
type endpoint struct {
	addr     netip.Addr
	hostname string
	ready    bool
	ports    []endpointPort
}

type endpointPort struct {
	name     string
	protocol string // lower case
	port     int32
}

type ownedEndpoint struct {
	namespace, service string
	endpoint
}

// label is the endpoint's first label under its Service's name: its
// hostname, or else its address with dashes (10-42-0-5, fd00--5).
func (e endpoint) label() string {
	if e.hostname != "" {
		return strings.ToLower(e.hostname)
	}
	return dashed(e.addr)
}

func dashed(a netip.Addr) string {
	s := a.Unmap().String()
	if a.Unmap().Is4() {
		return strings.ReplaceAll(s, ".", "-")
	}
	return strings.ReplaceAll(s, ":", "-")
}

// result is the zone's answer to one question.
type result struct {
	// forward: the name is not the zone's; ask the upstreams.
	forward bool
	rcode   int
	answer  []dns.RR
	ns      []dns.RR
	extra   []dns.RR
	// chase is an ExternalName's target whose records of the asked type
	// belong after the CNAME in answer.
	chase string
}

// zone answers the cluster domain's names from a catalog. It is
// deterministic: no I/O, no clock, no goroutines.
type zone struct {
	origin string // lower case, fully qualified: "cluster.local."
	ttl    uint32
	serial uint32
}

func newZone(domain string, ttl uint32, serial uint32) *zone {
	return &zone{origin: strings.ToLower(dns.Fqdn(domain)), ttl: ttl, serial: serial}
}

// isReverse reports whether name is in in-addr.arpa or ip6.arpa.
func isReverse(name string) bool {
	return dns.IsSubDomain("in-addr.arpa.", name) || dns.IsSubDomain("ip6.arpa.", name)
}

// resolve answers qname/qtype. Names outside the zone come back with
// forward set, as do reverse names of addresses the cluster does not know.
func (z *zone) resolve(cat catalog, qname string, qtype uint16) result {
	name := strings.ToLower(dns.Fqdn(qname))
	if isReverse(name) {
		return z.reverse(cat, qname, name, qtype)
	}
	if !dns.IsSubDomain(z.origin, name) {
		return result{forward: true}
	}
	rel := dns.SplitDomainName(strings.TrimSuffix(strings.TrimSuffix(name, z.origin), "."))
	switch {
	case len(rel) == 0:
		return z.apex(qname, qtype)
	case len(rel) == 1 && rel[0] == "dns-version":
		if qtype != dns.TypeTXT && qtype != dns.TypeANY {
			return z.nodata()
		}
		return z.found([]dns.RR{&dns.TXT{Hdr: z.hdr(qname, dns.TypeTXT), Txt: []string{schemaVersion}}}, nil)
	case rel[len(rel)-1] == "svc":
		return z.services(cat, qname, qtype, rel[:len(rel)-1])
	case rel[len(rel)-1] == "pod":
		return z.pod(qname, qtype, rel[:len(rel)-1])
	}
	return z.nxdomain()
}

func (z *zone) apex(qname string, qtype uint16) result {
	var rrs []dns.RR
	if qtype == dns.TypeSOA || qtype == dns.TypeANY {
		rrs = append(rrs, z.soa())
	}
	if qtype == dns.TypeNS || qtype == dns.TypeANY {
		rrs = append(rrs, &dns.NS{Hdr: z.hdr(qname, dns.TypeNS), Ns: "ns.dns." + z.origin})
	}
	if len(rrs) == 0 {
		return z.nodata()
	}
	return z.found(rrs, nil)
}

// services answers names under svc.<domain>; labels are those before "svc".
func (z *zone) services(cat catalog, qname string, qtype uint16, labels []string) result {
	switch len(labels) {
	case 0: // svc.<domain> exists: it has names below it
		return z.nodata()
	case 1:
		if cat.hasServices(labels[0]) {
			return z.nodata()
		}
		return z.nxdomain()
	case 2:
		svc := cat.service(labels[1], labels[0])
		if svc == nil {
			return z.nxdomain()
		}
		return z.service(cat, qname, qtype, svc)
	case 3:
		svc := cat.service(labels[2], labels[1])
		if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
			return z.nxdomain()
		}
		if strings.HasPrefix(labels[0], "_") { // _tcp.<svc>...: exists when a named port has that protocol
			if len(z.srvTargets(cat, svc, "", labels[0][1:])) > 0 || hasPort(svc, "", labels[0][1:]) {
				return z.nodata()
			}
			return z.nxdomain()
		}
		return z.endpointName(cat, qname, qtype, svc, labels[0])
	case 4:
		if !strings.HasPrefix(labels[0], "_") || !strings.HasPrefix(labels[1], "_") {
			return z.nxdomain()
		}
		svc := cat.service(labels[3], labels[2])
		if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
			return z.nxdomain()
		}
		return z.srv(cat, qname, qtype, svc, labels[0][1:], labels[1][1:])
	}
	return z.nxdomain()
}

func (z *zone) service(cat catalog, qname string, qtype uint16, svc *corev1.Service) result {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		target := strings.ToLower(dns.Fqdn(svc.Spec.ExternalName))
		cname := &dns.CNAME{Hdr: z.hdr(qname, dns.TypeCNAME), Target: target}
		r := z.found([]dns.RR{cname}, nil)
		if qtype != dns.TypeCNAME && qtype != dns.TypeANY {
			r.chase = target
		}
		return r
	}
	var addrs []netip.Addr
	if isHeadless(svc) {
		for _, ep := range cat.endpoints(svc.Namespace, svc.Name) {
			if ep.ready || publishNotReady(svc) {
				addrs = append(addrs, ep.addr)
			}
		}
	} else {
		addrs = clusterIPs(svc)
	}
	return z.addresses(qname, qtype, addrs)
}

// endpointName answers <label>.<svc>.<ns>.svc.<domain>.
func (z *zone) endpointName(cat catalog, qname string, qtype uint16, svc *corev1.Service, label string) result {
	var addrs []netip.Addr
	for _, ep := range cat.endpoints(svc.Namespace, svc.Name) {
		if (ep.ready || publishNotReady(svc)) && ep.label() == label {
			addrs = append(addrs, ep.addr)
		}
	}
	if len(addrs) == 0 {
		return z.nxdomain()
	}
	return z.addresses(qname, qtype, addrs)
}

// addresses answers A or AAAA (or both for ANY) from addrs; a name with
// addresses of the other family only is NODATA.
func (z *zone) addresses(qname string, qtype uint16, addrs []netip.Addr) result {
	var rrs []dns.RR
	for _, a := range addrs {
		if rr := z.addressRR(qname, qtype, a); rr != nil {
			rrs = append(rrs, rr)
		}
	}
	if len(rrs) == 0 {
		return z.nodata()
	}
	return z.found(rrs, nil)
}

func (z *zone) addressRR(name string, qtype uint16, a netip.Addr) dns.RR {
	a = a.Unmap()
	switch {
	case a.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
		return &dns.A{Hdr: z.hdr(name, dns.TypeA), A: a.AsSlice()}
	case a.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
		return &dns.AAAA{Hdr: z.hdr(name, dns.TypeAAAA), AAAA: a.AsSlice()}
	}
	return nil
}

type srvTarget struct {
	name string
	port int32
	addr netip.Addr // invalid for a cluster IP Service's own name
}

// srvTargets lists the SRV targets of a named port; an empty port name
// matches any named port with the protocol.
func (z *zone) srvTargets(cat catalog, svc *corev1.Service, port, proto string) []srvTarget {
	svcName := svc.Name + "." + svc.Namespace + ".svc." + z.origin
	if !isHeadless(svc) {
		var out []srvTarget
		for _, p := range svc.Spec.Ports {
			if p.Name != "" && (port == "" || strings.EqualFold(p.Name, port)) && strings.EqualFold(string(p.Protocol), proto) {
				out = append(out, srvTarget{name: svcName, port: p.Port})
			}
		}
		return out
	}
	var out []srvTarget
	for _, ep := range cat.endpoints(svc.Namespace, svc.Name) {
		if !ep.ready && !publishNotReady(svc) {
			continue
		}
		for _, p := range ep.ports {
			if p.name != "" && (port == "" || strings.EqualFold(p.name, port)) && p.protocol == proto {
				out = append(out, srvTarget{name: ep.label() + "." + svcName, port: p.port, addr: ep.addr})
			}
		}
	}
	return out
}

func hasPort(svc *corev1.Service, port, proto string) bool {
	for _, p := range svc.Spec.Ports {
		if p.Name != "" && (port == "" || strings.EqualFold(p.Name, port)) && strings.EqualFold(string(p.Protocol), proto) {
			return true
		}
	}
	return false
}

// srv answers _<port>._<proto>.<svc>.<ns>.svc.<domain>.
func (z *zone) srv(cat catalog, qname string, qtype uint16, svc *corev1.Service, port, proto string) result {
	targets := z.srvTargets(cat, svc, port, proto)
	if len(targets) == 0 {
		if hasPort(svc, port, proto) { // a headless Service whose endpoints are not ready
			return z.nodata()
		}
		return z.nxdomain()
	}
	if qtype != dns.TypeSRV && qtype != dns.TypeANY {
		return z.nodata()
	}
	weight := uint16(max(1, 100/len(targets)))
	var answer, extra []dns.RR
	for _, t := range targets {
		answer = append(answer, &dns.SRV{Hdr: z.hdr(qname, dns.TypeSRV), Priority: 0, Weight: weight, Port: uint16(t.port), Target: t.name})
		if t.addr.IsValid() {
			if rr := z.addressRR(t.name, dns.TypeANY, t.addr); rr != nil {
				extra = append(extra, rr)
			}
			continue
		}
		for _, a := range clusterIPs(svc) {
			if rr := z.addressRR(t.name, dns.TypeANY, a); rr != nil {
				extra = append(extra, rr)
			}
		}
	}
	return z.found(answer, extra)
}

// pod answers <dashed-ip>.<ns>.pod.<domain> with the address it encodes.
func (z *zone) pod(qname string, qtype uint16, labels []string) result {
	switch len(labels) {
	case 0, 1: // pod.<domain> and <ns>.pod.<domain> have names below them
		return z.nodata()
	case 2:
		a, ok := parseDashed(labels[0])
		if !ok {
			return z.nxdomain()
		}
		return z.addresses(qname, qtype, []netip.Addr{a})
	}
	return z.nxdomain()
}

func parseDashed(label string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ".")); err == nil && a.Is4() {
		return a, true
	}
	if a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":")); err == nil && a.Is6() && !a.Is4In6() {
		return a, true
	}
	return netip.Addr{}, false
}

// reverse answers PTR for cluster IPs and headless endpoint IPs and
// forwards every other reverse name.
func (z *zone) reverse(cat catalog, qname, name string, qtype uint16) result {
	addr, ok := reverseAddr(name)
	if !ok {
		return result{forward: true}
	}
	var targets []string
	for _, svc := range cat.servicesByIP(addr) {
		targets = append(targets, svc.Name+"."+svc.Namespace+".svc."+z.origin)
	}
	for _, oe := range cat.endpointsByIP(addr) {
		svc := cat.service(oe.namespace, oe.service)
		if svc == nil || !isHeadless(svc) || (!oe.ready && !publishNotReady(svc)) {
			continue
		}
		targets = append(targets, oe.label()+"."+svc.Name+"."+svc.Namespace+".svc."+z.origin)
	}
	if len(targets) == 0 {
		return result{forward: true}
	}
	if qtype != dns.TypePTR && qtype != dns.TypeANY {
		return z.nodata()
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	rrs := make([]dns.RR, 0, len(targets))
	for _, t := range targets {
		rrs = append(rrs, &dns.PTR{Hdr: z.hdr(qname, dns.TypePTR), Ptr: t})
	}
	return z.found(rrs, nil)
}

// reverseAddr parses a full in-addr.arpa or ip6.arpa name.
func reverseAddr(name string) (netip.Addr, bool) {
	labels := dns.SplitDomainName(name)
	switch {
	case len(labels) == 6 && labels[4] == "in-addr":
		var b [4]byte
		for i := range 4 {
			n, err := strconv.ParseUint(labels[3-i], 10, 8)
			if err != nil || (len(labels[3-i]) > 1 && labels[3-i][0] == '0') {
				return netip.Addr{}, false
			}
			b[i] = byte(n)
		}
		return netip.AddrFrom4(b), true
	case len(labels) == 34 && labels[32] == "ip6":
		var b [16]byte
		for i := range 32 {
			l := labels[31-i]
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			n, err := strconv.ParseUint(l, 16, 4)
			if err != nil {
				return netip.Addr{}, false
			}
			b[i/2] |= byte(n) << (4 * (1 - i%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// publishNotReady reports whether the Service's endpoints have names
// whether or not they are ready: spec.publishNotReadyAddresses, or the
// older annotation the DNS specification still names.
func publishNotReady(svc *corev1.Service) bool {
	return svc.Spec.PublishNotReadyAddresses || svc.Annotations[tolerateUnreadyAnnotation] == "true"
}

const tolerateUnreadyAnnotation = "service.alpha.kubernetes.io/tolerate-unready-endpoints"

func clusterIPs(svc *corev1.Service) []netip.Addr {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []netip.Addr
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

func (z *zone) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: z.ttl}
}

func (z *zone) soa() *dns.SOA {
	return &dns.SOA{
		Hdr: z.hdr(z.origin, dns.TypeSOA), Ns: "ns.dns." + z.origin, Mbox: "hostmaster." + z.origin,
		Serial: z.serial, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: z.ttl,
	}
}

func (z *zone) found(answer, extra []dns.RR) result {
	return result{rcode: dns.RcodeSuccess, answer: answer, extra: extra}
}

func (z *zone) nodata() result {
	return result{rcode: dns.RcodeSuccess, ns: []dns.RR{z.soa()}}
}

func (z *zone) nxdomain() result {
	return result{rcode: dns.RcodeNameError, ns: []dns.RR{z.soa()}}
}
