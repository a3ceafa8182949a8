package endpointslice

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/k1s/k1s/internal/controller/servicepods"
)

// endpointSet is the endpoints that share one address type and one set of
// resolved ports, and so may share slices.
type endpointSet struct {
	ports     []discoveryv1.EndpointPort
	endpoints map[string]discoveryv1.Endpoint // by endpointKey
}

// desired maps address type → ports key → the endpoints a service with a
// selector has over the pods it selects. Every address type the service
// serves is present, even with no endpoints.
type desired map[discoveryv1.AddressType]map[string]*endpointSet

// desiredEndpoints computes what the service's slices should hold.
func desiredEndpoints(svc *corev1.Service, pods []*corev1.Pod) desired {
	out := desired{}
	for _, t := range addressTypes(svc) {
		out[t] = map[string]*endpointSet{}
	}
	for _, pod := range pods {
		// Terminating pods stay, marked terminating, so that proxies can
		// drain them (upstream does the same).
		if !servicepods.IsEndpoint(pod, true) {
			continue
		}
		ports := podPorts(svc, pod)
		pk := portsKey(ports)
		for t, sets := range out {
			ip := servicepods.PodIP(pod, familyOf(t))
			if ip == "" {
				continue
			}
			set := sets[pk]
			if set == nil {
				set = &endpointSet{ports: ports, endpoints: map[string]discoveryv1.Endpoint{}}
				sets[pk] = set
			}
			ep := podEndpoint(svc, pod, ip)
			set.endpoints[endpointKey(ep)] = ep
		}
	}
	return out
}

// addressTypes returns the address types of a service's slices: its IP
// families; without them (an api-server that does not set them) the
// family of its cluster IP, or both for a headless service.
func addressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var out []discoveryv1.AddressType
	for _, f := range svc.Spec.IPFamilies {
		switch f {
		case corev1.IPv4Protocol:
			out = append(out, discoveryv1.AddressTypeIPv4)
		case corev1.IPv6Protocol:
			out = append(out, discoveryv1.AddressTypeIPv6)
		}
	}
	if len(out) > 0 {
		return out
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		if addr, err := netip.ParseAddr(ip); err == nil && addr.Is6() {
			return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv6}
		}
		return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4}
	}
	return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}
}

func familyOf(t discoveryv1.AddressType) corev1.IPFamily {
	if t == discoveryv1.AddressTypeIPv6 {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// podEndpoint is the endpoint of pod at ip. Serving follows the pod's
// Ready condition; ready is serving and not terminating, unless the
// service publishes not-ready addresses.
func podEndpoint(svc *corev1.Service, pod *corev1.Pod, ip string) discoveryv1.Endpoint {
	serving := servicepods.IsReady(pod)
	terminating := pod.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || serving && !terminating
	ep := discoveryv1.Endpoint{
		Addresses:  []string{ip},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		ep.NodeName = new(pod.Spec.NodeName)
	}
	if h := servicepods.Hostname(pod, svc); h != "" {
		ep.Hostname = new(h)
	}
	return ep
}

// podPorts resolves the service's ports on pod, in the service's order;
// ports whose named target the pod lacks are left out.
func podPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, ok := servicepods.TargetPort(pod, sp)
		if !ok {
			continue
		}
		protocol := sp.Protocol
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{
			Name: new(sp.Name), Port: new(port), Protocol: new(protocol), AppProtocol: sp.AppProtocol,
		})
	}
	return out
}

// portsKey identifies a set of resolved ports.
func portsKey(ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%s/%s/%s;", deref(p.Name), derefPort(p.Port), deref(p.Protocol), deref(p.AppProtocol))
	}
	return b.String()
}

// endpointKey identifies an endpoint within its address type.
func endpointKey(ep discoveryv1.Endpoint) string {
	var uid string
	if ep.TargetRef != nil {
		uid = string(ep.TargetRef.UID)
	}
	return strings.Join(ep.Addresses, ",") + "/" + uid
}

func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func derefPort(p *int32) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}
