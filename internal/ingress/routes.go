package ingress

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

const (
	// ControllerName is the spec.controller of the IngressClasses we serve.
	ControllerName = "k1s.io/ingress"
	// DefaultClassName is the IngressClass served unless Options say otherwise.
	DefaultClassName = "k1s"

	defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
	legacyClassAnnotation  = "kubernetes.io/ingress.class"
	serviceNameLabel       = discoveryv1.LabelServiceName
)

// input is everything a routing table is built from, as read from the
// informer caches. Nothing in it is modified.
type input struct {
	className string
	classes   []*networkingv1.IngressClass
	ingresses []*networkingv1.Ingress
	services  []*corev1.Service
	slices    []*discoveryv1.EndpointSlice
	secrets   []*corev1.Secret
}

// route is where a request goes: one backend service port of one Ingress.
type route struct {
	namespace, ingress, service string
	// pool holds the ready endpoints; nil when the service or port does
	// not exist (or is not a service backend), which answers 503 too.
	pool *pool
}

// pathRule is one path of one host, ready to match.
type pathRule struct {
	path  string // Exact: as written; Prefix: without trailing slashes
	exact bool
	route *route
}

// table is one immutable routing snapshot. Requests read it through an
// atomic pointer, so it is never modified once built.
type table struct {
	exact     map[string][]pathRule // host -> rules, longest first
	wildcard  map[string][]pathRule // "example.com" for "*.example.com"
	anyHost   []pathRule
	fallback  *route // the oldest Ingress's spec.defaultBackend
	certs     map[string]*tls.Certificate
	wildCerts map[string]*tls.Certificate
	// endpoints and parsed carry state from one snapshot to the next:
	// outstanding-request counts per endpoint and parsed key pairs.
	endpoints map[string]*endpoint
	parsed    map[string]*tls.Certificate // uid/resourceVersion -> pair
	ours      []*networkingv1.Ingress     // the Ingresses served, sorted
}

// isOurs tells whether an Ingress belongs to className: by
// spec.ingressClassName, the legacy annotation, or no class at all when
// the class is marked default.
func isOurs(ing *networkingv1.Ingress, className string, classes []*networkingv1.IngressClass) bool {
	if ing.Spec.IngressClassName != nil {
		return *ing.Spec.IngressClassName == className
	}
	if v, ok := ing.Annotations[legacyClassAnnotation]; ok {
		return v == className
	}
	for _, c := range classes {
		if c.Name == className && c.Spec.Controller == ControllerName && c.Annotations[defaultClassAnnotation] == "true" {
			return true
		}
	}
	return false
}

// buildTable turns the cluster state into a routing table. prev (may be
// nil) supplies the endpoint counters and parsed certificates to reuse.
// It does no I/O.
func buildTable(in input, prev *table) *table {
	t := &table{
		exact:     map[string][]pathRule{},
		wildcard:  map[string][]pathRule{},
		certs:     map[string]*tls.Certificate{},
		wildCerts: map[string]*tls.Certificate{},
		endpoints: map[string]*endpoint{},
		parsed:    map[string]*tls.Certificate{},
	}
	for _, ing := range in.ingresses {
		if isOurs(ing, in.className, in.classes) && ing.DeletionTimestamp == nil {
			t.ours = append(t.ours, ing)
		}
	}
	// The oldest Ingress wins a conflict, as in ingress-nginx.
	slices.SortFunc(t.ours, func(a, b *networkingv1.Ingress) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})

	services := map[string]*corev1.Service{}
	for _, s := range in.services {
		services[s.Namespace+"/"+s.Name] = s
	}
	slicesBySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range in.slices {
		if name := s.Labels[serviceNameLabel]; name != "" {
			k := s.Namespace + "/" + name
			slicesBySvc[k] = append(slicesBySvc[k], s)
		}
	}
	secrets := map[string]*corev1.Secret{}
	for _, s := range in.secrets {
		secrets[s.Namespace+"/"+s.Name] = s
	}
	var prevEndpoints map[string]*endpoint
	var prevParsed map[string]*tls.Certificate
	if prev != nil {
		prevEndpoints, prevParsed = prev.endpoints, prev.parsed
	}
	b := &builder{t: t, services: services, slices: slicesBySvc, prevEndpoints: prevEndpoints, pools: map[string]*pool{}}

	seen := map[string]bool{} // host + type + path already taken
	for _, ing := range t.ours {
		if d := ing.Spec.DefaultBackend; d != nil && t.fallback == nil {
			t.fallback = b.route(ing, d)
		}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			host := strings.ToLower(rule.Host)
			for _, p := range rule.HTTP.Paths {
				exact := p.PathType != nil && *p.PathType == networkingv1.PathTypeExact
				path := p.Path
				if path == "" {
					path = "/"
				}
				if !exact {
					path = strings.TrimRight(path, "/")
				}
				key := fmt.Sprintf("%s %t %s", host, exact, path)
				if seen[key] {
					continue
				}
				seen[key] = true
				pr := pathRule{path: path, exact: exact, route: b.route(ing, &p.Backend)}
				switch {
				case host == "":
					t.anyHost = append(t.anyHost, pr)
				case strings.HasPrefix(host, "*."):
					t.wildcard[host[2:]] = append(t.wildcard[host[2:]], pr)
				default:
					t.exact[host] = append(t.exact[host], pr)
				}
			}
		}
		for _, tl := range ing.Spec.TLS {
			cert := t.certificateFor(ing.Namespace, tl.SecretName, secrets, prevParsed)
			if cert == nil {
				continue
			}
			hosts := tl.Hosts
			if len(hosts) == 0 { // no hosts: the Ingress's own rule hosts
				for _, r := range ing.Spec.Rules {
					hosts = append(hosts, r.Host)
				}
			}
			for _, h := range hosts {
				h = strings.ToLower(h)
				m, k := t.certs, h
				if strings.HasPrefix(h, "*.") {
					m, k = t.wildCerts, h[2:]
				}
				if h != "" && m[k] == nil {
					m[k] = cert
				}
			}
		}
	}
	sortRules(t.anyHost)
	for _, rules := range t.exact {
		sortRules(rules)
	}
	for _, rules := range t.wildcard {
		sortRules(rules)
	}
	return t
}

// sortRules puts the longest path first and, at equal length, Exact
// before Prefix, so the first match is the one the Ingress spec wants.
func sortRules(rules []pathRule) {
	slices.SortStableFunc(rules, func(a, b pathRule) int {
		if c := cmp.Compare(len(b.path), len(a.path)); c != 0 {
			return c
		}
		switch {
		case a.exact && !b.exact:
			return -1
		case b.exact && !a.exact:
			return 1
		}
		return 0
	})
}

func (t *table) certificateFor(namespace, name string, secrets map[string]*corev1.Secret, prevParsed map[string]*tls.Certificate) *tls.Certificate {
	s := secrets[namespace+"/"+name]
	if s == nil {
		return nil
	}
	key := string(s.UID) + "/" + s.ResourceVersion
	if c := t.parsed[key]; c != nil {
		return c
	}
	if c := prevParsed[key]; c != nil {
		t.parsed[key] = c
		return c
	}
	pair, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil // an invalid secret serves the default certificate
	}
	t.parsed[key] = &pair
	return &pair
}

type builder struct {
	t             *table
	services      map[string]*corev1.Service
	slices        map[string][]*discoveryv1.EndpointSlice
	prevEndpoints map[string]*endpoint
	pools         map[string]*pool // namespace/service:port -> pool
}

// route resolves a backend to its ready endpoints: the service port (by
// number or name) names the EndpointSlice port whose number is dialed.
func (b *builder) route(ing *networkingv1.Ingress, be *networkingv1.IngressBackend) *route {
	r := &route{namespace: ing.Namespace, ingress: ing.Name}
	if be.Service == nil {
		return r
	}
	r.service = be.Service.Name
	svc := b.services[ing.Namespace+"/"+be.Service.Name]
	if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return r
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if (be.Service.Port.Name != "" && p.Name == be.Service.Port.Name) ||
			(be.Service.Port.Name == "" && p.Port == be.Service.Port.Number) {
			sp = p
			break
		}
	}
	if sp == nil {
		return r
	}
	key := fmt.Sprintf("%s/%s:%d", ing.Namespace, svc.Name, sp.Port)
	if p := b.pools[key]; p != nil {
		r.pool = p
		return r
	}
	p := &pool{}
	for _, s := range b.slices[ing.Namespace+"/"+svc.Name] {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32
		for _, ep := range s.Ports {
			if ep.Port != nil && (ep.Name == nil && sp.Name == "" || ep.Name != nil && *ep.Name == sp.Name) {
				port = *ep.Port
				break
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready || len(e.Addresses) == 0 {
				continue
			}
			addr := net.JoinHostPort(e.Addresses[0], fmt.Sprint(port))
			if slices.ContainsFunc(p.endpoints, func(x *endpoint) bool { return x.addr == addr }) {
				continue // the same pod in two slices while they are rewritten
			}
			p.endpoints = append(p.endpoints, b.endpoint(addr))
		}
	}
	b.pools[key] = p
	r.pool = p
	return r
}

func (b *builder) endpoint(addr string) *endpoint {
	if e := b.t.endpoints[addr]; e != nil {
		return e
	}
	e := b.prevEndpoints[addr]
	if e == nil {
		e = &endpoint{addr: addr}
	}
	b.t.endpoints[addr] = e
	return e
}

// lookup finds the route for a request: rules of the exact host, then of
// a wildcard host matching one label, then of rules without a host, then
// the default backend. nil means 404.
func (t *table) lookup(host, path string) *route {
	host = normalizeHost(host)
	if r := matchPath(t.exact[host], path); r != nil {
		return r
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		if r := matchPath(t.wildcard[host[i+1:]], path); r != nil {
			return r
		}
	}
	if r := matchPath(t.anyHost, path); r != nil {
		return r
	}
	return t.fallback
}

func matchPath(rules []pathRule, path string) *route {
	for _, r := range rules {
		if r.exact {
			if path == r.path {
				return r.route
			}
			continue
		}
		// Prefix matches whole path elements: /foo matches /foo and
		// /foo/bar, not /foobar.
		if r.path == "" || path == r.path || strings.HasPrefix(path, r.path) && path[len(r.path)] == '/' {
			return r.route
		}
	}
	return nil
}

// certificate picks the key pair for an SNI name, nil when no Ingress has
// one for it.
func (t *table) certificate(serverName string) *tls.Certificate {
	host := normalizeHost(serverName)
	if c := t.certs[host]; c != nil {
		return c
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		return t.wildCerts[host[i+1:]]
	}
	return nil
}

// normalizeHost lower-cases a Host header and drops its port and a
// trailing dot.
func normalizeHost(host string) string {
	if strings.IndexByte(host, ':') >= 0 { // SplitHostPort allocates its error
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}
