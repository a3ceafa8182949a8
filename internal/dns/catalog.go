package dns

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

const (
	indexClusterIP = "clusterIP" // Service by each of its cluster IPs
	indexService   = "service"   // EndpointSlice by namespace/service
	indexAddress   = "address"   // EndpointSlice by each endpoint address
)

// informerCatalog is the catalog read from informer caches, indexed so
// that each query is a few map lookups.
type informerCatalog struct {
	factory  informers.SharedInformerFactory
	services cache.SharedIndexInformer
	slices   cache.SharedIndexInformer
}

func newInformerCatalog(client kubernetes.Interface) (*informerCatalog, error) {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(stripManagedFields))
	c := &informerCatalog{
		factory:  factory,
		services: factory.Core().V1().Services().Informer(),
		slices:   factory.Discovery().V1().EndpointSlices().Informer(),
	}
	if err := c.services.AddIndexers(cache.Indexers{indexClusterIP: serviceIPs}); err != nil {
		return nil, err
	}
	if err := c.slices.AddIndexers(cache.Indexers{indexService: sliceService, indexAddress: sliceAddresses}); err != nil {
		return nil, err
	}
	return c, nil
}

// stripManagedFields keeps the caches small: DNS reads only specs,
// labels and endpoints.
func stripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

func serviceIPs(obj any) ([]string, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, a := range clusterIPs(svc) {
		out = append(out, a.String())
	}
	return out, nil
}

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
}

func sliceAddresses(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.AddressType == discoveryv1.AddressTypeFQDN || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	var out []string
	for _, ep := range s.Endpoints {
		for _, a := range ep.Addresses {
			if addr, err := netip.ParseAddr(a); err == nil {
				out = append(out, addr.Unmap().String())
			}
		}
	}
	return out, nil
}

func (c *informerCatalog) hasSynced() bool {
	return c.services.HasSynced() && c.slices.HasSynced()
}

func (c *informerCatalog) service(namespace, name string) *corev1.Service {
	obj, ok, err := c.services.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil
	}
	svc, _ := obj.(*corev1.Service)
	return svc
}

func (c *informerCatalog) hasServices(namespace string) bool {
	keys, err := c.services.GetIndexer().IndexKeys(cache.NamespaceIndex, namespace)
	return err == nil && len(keys) > 0
}

func (c *informerCatalog) endpoints(namespace, service string) []endpoint {
	objs, err := c.slices.GetIndexer().ByIndex(indexService, namespace+"/"+service)
	if err != nil {
		return nil
	}
	var out []endpoint
	for _, obj := range objs {
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
			out = appendSliceEndpoints(out, s, netip.Addr{})
		}
	}
	return mergeEndpoints(out)
}

func (c *informerCatalog) servicesByIP(addr netip.Addr) []*corev1.Service {
	objs, err := c.services.GetIndexer().ByIndex(indexClusterIP, addr.Unmap().String())
	if err != nil {
		return nil
	}
	var out []*corev1.Service
	for _, obj := range objs {
		if svc, ok := obj.(*corev1.Service); ok {
			out = append(out, svc)
		}
	}
	return out
}

func (c *informerCatalog) endpointsByIP(addr netip.Addr) []ownedEndpoint {
	objs, err := c.slices.GetIndexer().ByIndex(indexAddress, addr.Unmap().String())
	if err != nil {
		return nil
	}
	var out []ownedEndpoint
	for _, obj := range objs {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		for _, ep := range mergeEndpoints(appendSliceEndpoints(nil, s, addr)) {
			out = append(out, ownedEndpoint{namespace: s.Namespace, service: s.Labels[discoveryv1.LabelServiceName], endpoint: ep})
		}
	}
	return out
}

// appendSliceEndpoints appends the slice's IP endpoints, only those with
// address only when it is valid.
func appendSliceEndpoints(out []endpoint, s *discoveryv1.EndpointSlice, only netip.Addr) []endpoint {
	if s.AddressType == discoveryv1.AddressTypeFQDN {
		return out
	}
	ports := make([]endpointPort, 0, len(s.Ports))
	for _, p := range s.Ports {
		ep := endpointPort{protocol: "tcp"}
		if p.Name != nil {
			ep.name = *p.Name
		}
		if p.Protocol != nil {
			ep.protocol = strings.ToLower(string(*p.Protocol))
		}
		if p.Port != nil {
			ep.port = *p.Port
		}
		ports = append(ports, ep)
	}
	for _, e := range s.Endpoints {
		ready := e.Conditions.Ready == nil || *e.Conditions.Ready // nil means ready (discovery/v1)
		hostname := ""
		if e.Hostname != nil {
			hostname = *e.Hostname
		}
		for _, a := range e.Addresses {
			addr, err := netip.ParseAddr(a)
			if err != nil {
				continue
			}
			addr = addr.Unmap()
			if only.IsValid() && addr != only {
				continue
			}
			out = append(out, endpoint{addr: addr, hostname: hostname, ready: ready, ports: ports})
		}
	}
	return out
}

// mergeEndpoints sorts by address and folds duplicates (an address in two
// slices while the controller moves it): ready if either is, the first
// hostname, the ports of both.
func mergeEndpoints(eps []endpoint) []endpoint {
	slices.SortStableFunc(eps, func(a, b endpoint) int { return a.addr.Compare(b.addr) })
	out := eps[:0]
	for _, e := range eps {
		if n := len(out); n > 0 && out[n-1].addr == e.addr {
			prev := &out[n-1]
			prev.ready = prev.ready || e.ready
			if prev.hostname == "" {
				prev.hostname = e.hostname
			}
			prev.ports = append(slices.Clip(prev.ports), e.ports...)
			continue
		}
		out = append(out, e)
	}
	return out
}
