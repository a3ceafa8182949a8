package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// TableName is the nftables table the proxy owns on a node (its family:
// see nftables.go).
const TableName = "k1s-proxy"

// masqueradeBit marks packets to be masqueraded in postrouting.
const masqueradeBit = 0x4000

// defaultAffinityTimeout is upstream's default for sessionAffinity ClientIP.
const defaultAffinityTimeout = 10800 * time.Second

// Names of the fixed chains and maps.
const (
	chainServices       = "services"
	chainEndpointsCheck = "service-endpoints-check"
	chainMarkMasq       = "mark-for-masquerade"
	chainMasquerading   = "masquerading"
	chainReject         = "reject-chain"

	mapServiceIPs          = "service-ips"
	mapServiceNodePorts    = "service-nodeports"
	mapNoEndpointServices  = "no-endpoint-services"
	mapNoEndpointNodePorts = "no-endpoint-nodeports"
)

// part is a piece of the table owned by one service (or the fixed
// skeleton). Parts of different services never share a name or a map key,
// so they can be diffed and applied one by one.
type part struct {
	Chains   []chain
	Sets     []set
	Elements []element
}

// chain is a base chain when Hook is set, a regular chain otherwise.
type chain struct {
	Name  string
	Hook  *hook
	Rules []rule
}

type hook struct {
	Type     string // "nat" or "filter"
	Hook     string // "prerouting", "input", "forward", "output", "postrouting"
	Priority int32
}

// setKind says what a named set or map holds.
type setKind int

const (
	// kindServiceMap maps ip daddr . l4proto . dport to a verdict.
	kindServiceMap setKind = iota
	// kindNodePortMap maps l4proto . dport to a verdict.
	kindNodePortMap
	// kindAffinity is a dynamic set of client addresses with a timeout.
	kindAffinity
)

type set struct {
	Name    string
	Kind    setKind
	Timeout time.Duration // kindAffinity only
}

// element is one entry of a verdict map: Addr is unset in node-port maps.
type element struct {
	Map   string
	Addr  netip.Addr
	Proto v1.Protocol
	Port  uint16
	Goto  string // the chain the verdict goes to
}

// key identifies the element inside its map.
func (e element) key() string {
	if e.Addr.IsValid() {
		return fmt.Sprintf("%s . %s . %d", e.Addr, protoName(e.Proto), e.Port)
	}
	return fmt.Sprintf("%s . %d", protoName(e.Proto), e.Port)
}

func (e element) String() string {
	return fmt.Sprintf("%s { %s : goto %s }", e.Map, e.key(), e.Goto)
}

// rule is a list of statements evaluated in order, like one nft rule.
type rule []stmt

func (r rule) String() string {
	s := make([]string, len(r))
	for i, st := range r {
		s[i] = st.String()
	}
	return strings.Join(s, " ")
}

// stmt is one match or action of a rule. The set of statements is closed:
// nftables.go translates each to netlink expressions.
type stmt interface{ String() string }

type (
	// matchAddr: ip saddr|daddr ADDR.
	matchAddr struct {
		Source bool
		Addr   netip.Addr
	}
	// matchNotPrefix: ip saddr|daddr != PREFIX.
	matchNotPrefix struct {
		Source bool
		Prefix netip.Prefix
	}
	// matchLocalDaddr: fib daddr type local.
	matchLocalDaddr struct{}
	// matchCtNew: ct state new.
	matchCtNew struct{}
	// matchL4Proto: meta l4proto PROTO.
	matchL4Proto struct{ Proto v1.Protocol }
	// matchSaddrInSet: ip saddr @SET.
	matchSaddrInSet struct{ Set string }
	// returnIfUnmarked: meta mark & 0x4000 == 0 return.
	returnIfUnmarked struct{}
	// serviceVmap: ip daddr . meta l4proto . th dport vmap @MAP, or without
	// the address for a node-port map.
	serviceVmap struct {
		Map      string
		NodePort bool
	}
	// randomVmap: numgen random mod N vmap { 0 : goto A, ... }.
	randomVmap struct{ Chains []string }
	// setMasqMark: meta mark set meta mark | 0x4000.
	setMasqMark struct{}
	// clearMasqMark: meta mark set meta mark ^ 0x4000.
	clearMasqMark struct{}
	// masquerade: masquerade fully-random.
	masquerade struct{}
	// dnat: dnat to ADDR:PORT.
	dnat struct {
		Addr netip.Addr
		Port uint16
	}
	// updateSaddr: update @SET { ip saddr } (the set's timeout applies).
	updateSaddr struct {
		Set     string
		Timeout time.Duration
	}
	// reject: reject with tcp reset, or with icmp port-unreachable.
	reject struct{ TCPReset bool }
	// jump and goto to a chain.
	jump struct{ Chain string }
	goTo struct{ Chain string }
)

func dir(source bool) string {
	if source {
		return "saddr"
	}
	return "daddr"
}

func (m matchAddr) String() string       { return "ip " + dir(m.Source) + " " + m.Addr.String() }
func (m matchNotPrefix) String() string  { return "ip " + dir(m.Source) + " != " + m.Prefix.String() }
func (matchLocalDaddr) String() string   { return "fib daddr type local" }
func (matchCtNew) String() string        { return "ct state new" }
func (m matchL4Proto) String() string    { return "meta l4proto " + protoName(m.Proto) }
func (m matchSaddrInSet) String() string { return "ip saddr @" + m.Set }
func (returnIfUnmarked) String() string {
	return fmt.Sprintf("meta mark & %#x == 0 return", masqueradeBit)
}
func (setMasqMark) String() string {
	return fmt.Sprintf("meta mark set meta mark | %#x", masqueradeBit)
}
func (clearMasqMark) String() string {
	return fmt.Sprintf("meta mark set meta mark ^ %#x", masqueradeBit)
}
func (masquerade) String() string { return "masquerade fully-random" }
func (d dnat) String() string     { return fmt.Sprintf("dnat to %s:%d", d.Addr, d.Port) }
func (j jump) String() string     { return "jump " + j.Chain }
func (g goTo) String() string     { return "goto " + g.Chain }
func (u updateSaddr) String() string {
	return fmt.Sprintf("update @%s { ip saddr timeout %ds }", u.Set, int(u.Timeout.Seconds()))
}
func (v serviceVmap) String() string {
	if v.NodePort {
		return "meta l4proto . th dport vmap @" + v.Map
	}
	return "ip daddr . meta l4proto . th dport vmap @" + v.Map
}
func (v randomVmap) String() string {
	s := make([]string, len(v.Chains))
	for i, c := range v.Chains {
		s[i] = fmt.Sprintf("%d : goto %s", i, c)
	}
	return fmt.Sprintf("numgen random mod %d vmap { %s }", len(v.Chains), strings.Join(s, ", "))
}
func (r reject) String() string {
	if r.TCPReset {
		return "reject with tcp reset"
	}
	return "reject with icmp port-unreachable"
}

func protoName(p v1.Protocol) string { return strings.ToLower(string(p)) }

// loopback is excluded from node ports: packets to 127/8 never leave the
// host, so DNAT would need route_localnet.
var loopback = netip.MustParsePrefix("127.0.0.0/8")

// skeleton returns the fixed part of the table: base chains, the dispatch
// chains and the four service maps.
func skeleton() part {
	ctNewCheck := []rule{{matchCtNew{}, jump{chainEndpointsCheck}}}
	localNotLoopback := []stmt{matchLocalDaddr{}, matchNotPrefix{Prefix: loopback}}
	return part{
		Chains: []chain{
			{Name: "nat-prerouting", Hook: &hook{"nat", "prerouting", -100}, Rules: []rule{{jump{chainServices}}}},
			{Name: "nat-output", Hook: &hook{"nat", "output", -100}, Rules: []rule{{jump{chainServices}}}},
			{Name: "nat-postrouting", Hook: &hook{"nat", "postrouting", 100}, Rules: []rule{{jump{chainMasquerading}}}},
			// Filter chains run before DNAT (output) or see the unchanged
			// destination (input, forward) of a service without endpoints.
			{Name: "filter-input", Hook: &hook{"filter", "input", -10}, Rules: ctNewCheck},
			{Name: "filter-forward", Hook: &hook{"filter", "forward", -10}, Rules: ctNewCheck},
			{Name: "filter-output", Hook: &hook{"filter", "output", -110}, Rules: ctNewCheck},
			{Name: chainServices, Rules: []rule{
				{serviceVmap{Map: mapServiceIPs}},
				append(append(rule{}, localNotLoopback...), serviceVmap{Map: mapServiceNodePorts, NodePort: true}),
			}},
			{Name: chainEndpointsCheck, Rules: []rule{
				{serviceVmap{Map: mapNoEndpointServices}},
				append(append(rule{}, localNotLoopback...), serviceVmap{Map: mapNoEndpointNodePorts, NodePort: true}),
			}},
			{Name: chainMarkMasq, Rules: []rule{{setMasqMark{}}}},
			{Name: chainMasquerading, Rules: []rule{{returnIfUnmarked{}}, {clearMasqMark{}}, {masquerade{}}}},
			{Name: chainReject, Rules: []rule{{matchL4Proto{v1.ProtocolTCP}, reject{TCPReset: true}}, {reject{}}}},
		},
		Sets: []set{
			{Name: mapServiceIPs, Kind: kindServiceMap},
			{Name: mapServiceNodePorts, Kind: kindNodePortMap},
			{Name: mapNoEndpointServices, Kind: kindServiceMap},
			{Name: mapNoEndpointNodePorts, Kind: kindNodePortMap},
		},
	}
}

// endpoint is one address:port a service port forwards to.
type endpoint struct {
	Addr netip.Addr
	Port uint16
}

// servicePart translates one service and its EndpointSlices into the
// chains, sets and map elements that carry its traffic. clusterCIDR may be
// invalid (unset): then no traffic is masqueraded for leaving the cluster.
func servicePart(svc *v1.Service, slices []*discoveryv1.EndpointSlice, clusterCIDR netip.Prefix) part {
	var p part
	if svc.Spec.Type == v1.ServiceTypeExternalName {
		return p
	}
	clusterIP, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !clusterIP.Is4() {
		return p // headless, unset or IPv6
	}
	affinity := time.Duration(0)
	if svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
		affinity = defaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
		}
	}
	externalIPs := externalAddrs(svc, clusterIP)
	for _, sp := range svc.Spec.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = v1.ProtocolTCP
		}
		portName := sp.Name
		if portName == "" {
			portName = strconv.Itoa(int(sp.Port))
		}
		base := svc.Namespace + "/" + svc.Name + "/" + protoName(proto) + "/" + portName
		eps := endpointsFor(sp.Name, proto, slices)
		if len(eps) == 0 {
			p.Elements = append(p.Elements, element{Map: mapNoEndpointServices, Addr: clusterIP, Proto: proto, Port: uint16(sp.Port), Goto: chainReject})
			if sp.NodePort != 0 {
				p.Elements = append(p.Elements, element{Map: mapNoEndpointNodePorts, Proto: proto, Port: uint16(sp.NodePort), Goto: chainReject})
			}
			for _, ip := range externalIPs {
				p.Elements = append(p.Elements, element{Map: mapNoEndpointServices, Addr: ip, Proto: proto, Port: uint16(sp.Port), Goto: chainReject})
			}
			continue
		}
		svcChain := objectName("service", base)
		var svcRules []rule
		if clusterCIDR.IsValid() {
			svcRules = append(svcRules, rule{matchAddr{Addr: clusterIP}, matchNotPrefix{Source: true, Prefix: clusterCIDR}, jump{chainMarkMasq}})
		}
		epChains := make([]string, len(eps))
		for i, ep := range eps {
			epName := base + "__" + ep.Addr.String() + "/" + strconv.Itoa(int(ep.Port))
			epChains[i] = objectName("endpoint", epName)
			epRules := []rule{{matchAddr{Source: true, Addr: ep.Addr}, jump{chainMarkMasq}}}
			if affinity > 0 {
				affSet := objectName("affinity", epName)
				p.Sets = append(p.Sets, set{Name: affSet, Kind: kindAffinity, Timeout: affinity})
				svcRules = append(svcRules, rule{matchSaddrInSet{affSet}, goTo{epChains[i]}})
				epRules = append(epRules, rule{updateSaddr{Set: affSet, Timeout: affinity}})
			}
			epRules = append(epRules, rule{matchL4Proto{proto}, dnat{Addr: ep.Addr, Port: ep.Port}})
			p.Chains = append(p.Chains, chain{Name: epChains[i], Rules: epRules})
		}
		svcRules = append(svcRules, rule{randomVmap{Chains: epChains}})
		p.Chains = append(p.Chains, chain{Name: svcChain, Rules: svcRules})
		p.Elements = append(p.Elements, element{Map: mapServiceIPs, Addr: clusterIP, Proto: proto, Port: uint16(sp.Port), Goto: svcChain})
		if sp.NodePort != 0 || len(externalIPs) > 0 {
			extChain := objectName("external", base)
			// Traffic from outside through a node port or an external
			// IP is always masqueraded so replies come back through
			// this node.
			p.Chains = append(p.Chains, chain{Name: extChain, Rules: []rule{{jump{chainMarkMasq}}, {goTo{svcChain}}}})
			if sp.NodePort != 0 {
				p.Elements = append(p.Elements, element{Map: mapServiceNodePorts, Proto: proto, Port: uint16(sp.NodePort), Goto: extChain})
			}
			for _, ip := range externalIPs {
				p.Elements = append(p.Elements, element{Map: mapServiceIPs, Addr: ip, Proto: proto, Port: uint16(sp.Port), Goto: extChain})
			}
		}
	}
	return p
}

// externalAddrs returns the service's IPv4 externalIPs and load-balancer
// ingress IPs, without duplicates or the cluster IP.
func externalAddrs(svc *v1.Service, clusterIP netip.Addr) []netip.Addr {
	seen := map[netip.Addr]bool{clusterIP: true}
	var out []netip.Addr
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, s := range svc.Spec.ExternalIPs {
		add(s)
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		add(ing.IP)
	}
	return out
}

// endpointsFor returns the endpoints of one service port, sorted: the
// ready ones, or when there are none the serving-but-terminating ones.
// A named targetPort resolves per slice, through the slice's port of the
// same name and protocol.
func endpointsFor(portName string, proto v1.Protocol, slices []*discoveryv1.EndpointSlice) []endpoint {
	ready := map[endpoint]bool{}
	terminating := map[endpoint]bool{}
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		var port int32 = -1
		for _, sp := range s.Ports {
			name, pr := "", v1.ProtocolTCP
			if sp.Name != nil {
				name = *sp.Name
			}
			if sp.Protocol != nil {
				pr = *sp.Protocol
			}
			if name == portName && pr == proto && sp.Port != nil {
				port = *sp.Port
				break
			}
		}
		if port < 0 || port > 65535 {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			addr, err := netip.ParseAddr(e.Addresses[0])
			if err != nil || !addr.Is4() {
				continue
			}
			ep := endpoint{Addr: addr, Port: uint16(port)}
			c := e.Conditions
			isReady := c.Ready == nil || *c.Ready // unknown means ready
			serving := isReady
			if c.Serving != nil {
				serving = *c.Serving
			}
			switch {
			case isReady:
				ready[ep] = true
			case serving && c.Terminating != nil && *c.Terminating:
				terminating[ep] = true
			}
		}
	}
	use := ready
	if len(use) == 0 {
		use = terminating
	}
	out := make([]endpoint, 0, len(use))
	for ep := range use {
		out = append(out, ep)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Addr.Compare(out[j].Addr); c != 0 {
			return c < 0
		}
		return out[i].Port < out[j].Port
	})
	return out
}

// objectName builds a chain or set name: kind, a hash of the full name
// (unique even when the readable part is cut), then the readable part.
// nftables allows 256 bytes; names stay below that.
func objectName(kind, name string) string {
	sum := sha256.Sum256([]byte(name))
	h := base32.StdEncoding.EncodeToString(sum[:])[:8]
	if len(name) > 200 {
		name = name[:200]
	}
	return kind + "-" + h + "-" + name
}

// ServiceKey is namespace/name, the key under which a service's part of the
// table is kept.
func serviceKey(namespace, name string) string { return namespace + "/" + name }

// model is the whole desired table: the skeleton plus one part per service.
type model struct {
	Skeleton part
	Services map[string]part
}

// buildModel computes the desired table from all services and slices.
func buildModel(services []*v1.Service, slices []*discoveryv1.EndpointSlice, clusterCIDR netip.Prefix) model {
	bySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range slices {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			k := serviceKey(s.Namespace, name)
			bySvc[k] = append(bySvc[k], s)
		}
	}
	m := model{Skeleton: skeleton(), Services: map[string]part{}}
	for _, svc := range services {
		k := serviceKey(svc.Namespace, svc.Name)
		if p := servicePart(svc, bySvc[k], clusterCIDR); !p.empty() {
			m.Services[k] = p
		}
	}
	return m
}

func (p part) empty() bool { return len(p.Chains) == 0 && len(p.Sets) == 0 && len(p.Elements) == 0 }

// String renders a part like `nft list`, sorted, for tests and debugging.
func (p part) String() string {
	var b strings.Builder
	sets := append([]set(nil), p.Sets...)
	sort.Slice(sets, func(i, j int) bool { return sets[i].Name < sets[j].Name })
	for _, s := range sets {
		fmt.Fprintf(&b, "set %s kind=%d timeout=%s\n", s.Name, s.Kind, s.Timeout)
	}
	chains := append([]chain(nil), p.Chains...)
	sort.Slice(chains, func(i, j int) bool { return chains[i].Name < chains[j].Name })
	for _, c := range chains {
		fmt.Fprintf(&b, "chain %s {\n", c.Name)
		if c.Hook != nil {
			fmt.Fprintf(&b, "\ttype %s hook %s priority %d\n", c.Hook.Type, c.Hook.Hook, c.Hook.Priority)
		}
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "\t%s\n", r)
		}
		b.WriteString("}\n")
	}
	elems := make([]string, len(p.Elements))
	for i, e := range p.Elements {
		elems[i] = e.String()
	}
	sort.Strings(elems)
	for _, e := range elems {
		b.WriteString("element " + e + "\n")
	}
	return b.String()
}
