package servicepods

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// ServicesForPod returns the keys (namespace/name) of the services in the
// pod's namespace whose selector matches the pod's labels. Services
// without a selector are not managed from pods and are left out.
func ServicesForPod(lister corelisters.ServiceLister, pod *corev1.Pod) ([]string, error) {
	services, err := lister.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	var keys []string
	set := labels.Set(pod.Labels)
	for _, svc := range services {
		if svc.Spec.Selector == nil {
			continue
		}
		if labels.SelectorFromValidatedSet(svc.Spec.Selector).Matches(set) {
			key, err := cache.MetaNamespaceKeyFunc(svc)
			if err != nil {
				continue
			}
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// Selector returns the label selector of a service with one; ok is false
// for a service without a selector.
func Selector(svc *corev1.Service) (labels.Selector, bool) {
	if svc.Spec.Selector == nil {
		return nil, false
	}
	return labels.SelectorFromValidatedSet(svc.Spec.Selector), true
}

// IsEndpoint reports whether a pod can back a service at all: it is not
// terminal (Succeeded/Failed), has an IP, and is not terminating unless
// includeTerminating says terminating pods count.
func IsEndpoint(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// IsReady reports whether the pod's Ready condition is True.
func IsReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// IsHeadless reports whether the service has no cluster IP.
func IsHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// Families returns the IP families a service's endpoints are given in,
// first one first: the service's ipFamilies, else the family of its
// cluster IP; a headless service without families follows the pod's IP
// (pod may be nil, meaning IPv4).
func Families(svc *corev1.Service, pod *corev1.Pod) []corev1.IPFamily {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		return []corev1.IPFamily{familyOf(ip)}
	}
	if pod != nil && pod.Status.PodIP != "" {
		return []corev1.IPFamily{familyOf(pod.Status.PodIP)}
	}
	return []corev1.IPFamily{corev1.IPv4Protocol}
}

// PodIP returns the pod's IP of the given family, or "" if it has none.
func PodIP(pod *corev1.Pod, family corev1.IPFamily) string {
	for _, ip := range pod.Status.PodIPs {
		if familyOf(ip.IP) == family {
			return ip.IP
		}
	}
	if len(pod.Status.PodIPs) == 0 && pod.Status.PodIP != "" && familyOf(pod.Status.PodIP) == family {
		return pod.Status.PodIP
	}
	return ""
}

func familyOf(ip string) corev1.IPFamily {
	addr, err := netip.ParseAddr(ip)
	if err == nil && addr.Is6() && !addr.Is4In6() {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// Hostname returns the DNS hostname an endpoint of pod gets in svc: the
// pod's hostname when its subdomain is this service (as a StatefulSet's
// pods under their governing service), else "".
func Hostname(pod *corev1.Pod, svc *corev1.Service) string {
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		return pod.Spec.Hostname
	}
	return ""
}

// TargetPort returns the port on pod that a service port reaches: a
// numeric targetPort as is (the service port if unset), a named one
// through the pod's container port of that name and protocol. ok is false
// when a name matches no container port of the pod.
func TargetPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return sp.Port, true
		}
		return tp.IntVal, true
	}
	if tp.StrVal == "" {
		return sp.Port, true
	}
	protocol := sp.Protocol
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	for _, containers := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range containers {
			for _, p := range c.Ports {
				proto := p.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				if p.Name == tp.StrVal && proto == protocol {
					return p.ContainerPort, true
				}
			}
		}
	}
	return 0, false
}

// Changed reports whether an update of a pod can change the endpoints of
// the services selecting it (a resync, same resourceVersion, counts as a
// change so that the periodic resync repairs drift).
func Changed(old, cur *corev1.Pod) bool {
	if old.ResourceVersion == cur.ResourceVersion {
		return true
	}
	return !labels.Equals(old.Labels, cur.Labels) ||
		(old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil) ||
		IsReady(old) != IsReady(cur) ||
		old.Status.Phase != cur.Status.Phase ||
		old.Status.PodIP != cur.Status.PodIP ||
		!slices.Equal(old.Status.PodIPs, cur.Status.PodIPs) ||
		old.Spec.NodeName != cur.Spec.NodeName ||
		old.Spec.Hostname != cur.Spec.Hostname ||
		old.Spec.Subdomain != cur.Spec.Subdomain ||
		!containerPortsEqual(old, cur)
}

func containerPortsEqual(a, b *corev1.Pod) bool {
	if len(a.Spec.Containers) != len(b.Spec.Containers) {
		return false
	}
	for i := range a.Spec.Containers {
		if !slices.Equal(a.Spec.Containers[i].Ports, b.Spec.Containers[i].Ports) {
			return false
		}
	}
	return true
}
