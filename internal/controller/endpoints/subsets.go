package endpoints

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/k1s/k1s/internal/controller/servicepods"
)

// maxAddresses is how many addresses one Endpoints object holds, as
// upstream; beyond it the object is truncated and annotated.
const maxAddresses = 1000

// Labels and annotations the controller sets on Endpoints.
const (
	labelHeadless          = corev1.IsHeadlessService // service.kubernetes.io/headless
	labelManagedBy         = "endpoints.kubernetes.io/managed-by"
	managedByValue         = "endpoint-controller"
	annotationOverCapacity = corev1.EndpointsOverCapacity // endpoints.kubernetes.io/over-capacity
)

// endpointsFor is the desired Endpoints content for a service with a
// selector and the pods it selects: subsets plus whether they were
// truncated to maxAddresses.
func endpointsFor(svc *corev1.Service, pods []*corev1.Pod) (subsets []corev1.EndpointSubset, truncated bool) {
	tolerateUnready := svc.Spec.PublishNotReadyAddresses
	type group struct {
		ports           []corev1.EndpointPort
		ready, notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	for _, pod := range pods {
		if !servicepods.IsEndpoint(pod, tolerateUnready) {
			continue
		}
		ip := servicepods.PodIP(pod, servicepods.Families(svc, pod)[0])
		if ip == "" {
			continue
		}
		ports, ok := podPorts(svc, pod)
		if !ok {
			continue
		}
		addr := corev1.EndpointAddress{
			IP:        ip,
			Hostname:  servicepods.Hostname(pod, svc),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		}
		if pod.Spec.NodeName != "" {
			addr.NodeName = new(pod.Spec.NodeName)
		}
		key := portsKey(ports)
		g := groups[key]
		if g == nil {
			g = &group{ports: ports}
			groups[key] = g
		}
		if tolerateUnready || servicepods.IsReady(pod) {
			g.ready = append(g.ready, addr)
		} else {
			g.notReady = append(g.notReady, addr)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		g := groups[key]
		sortAddresses(g.ready)
		sortAddresses(g.notReady)
		subsets = append(subsets, corev1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: g.ports})
	}
	return truncate(subsets)
}

// podPorts resolves the service's ports on pod, in the service's order.
// ok is false when the service has ports but none resolve on this pod, or
// when it has none and is not headless.
func podPorts(svc *corev1.Service, pod *corev1.Pod) ([]corev1.EndpointPort, bool) {
	if len(svc.Spec.Ports) == 0 {
		return nil, servicepods.IsHeadless(svc)
	}
	var ports []corev1.EndpointPort
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
		ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: port, Protocol: protocol, AppProtocol: sp.AppProtocol})
	}
	return ports, len(ports) > 0
}

func portsKey(ports []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%d/%s;", p.Name, p.Port, p.Protocol)
	}
	return b.String()
}

func sortAddresses(addrs []corev1.EndpointAddress) {
	slices.SortFunc(addrs, func(a, b corev1.EndpointAddress) int {
		return cmp.Or(cmp.Compare(a.IP, b.IP), cmp.Compare(a.TargetRef.Name, b.TargetRef.Name))
	})
}

// truncate keeps at most maxAddresses addresses, ready ones first, in
// subset order.
func truncate(subsets []corev1.EndpointSubset) ([]corev1.EndpointSubset, bool) {
	total := 0
	for _, ss := range subsets {
		total += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	if total <= maxAddresses {
		return subsets, false
	}
	room := maxAddresses
	for i := range subsets {
		n := min(room, len(subsets[i].Addresses))
		subsets[i].Addresses = subsets[i].Addresses[:n]
		room -= n
	}
	for i := range subsets {
		n := min(room, len(subsets[i].NotReadyAddresses))
		subsets[i].NotReadyAddresses = subsets[i].NotReadyAddresses[:n]
		room -= n
	}
	return slices.DeleteFunc(subsets, func(ss corev1.EndpointSubset) bool {
		return len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0
	}), true
}

// labelsFor returns the labels the service's Endpoints carry: the
// service's own, the headless marker for headless services, and the
// managed-by label.
func labelsFor(svc *corev1.Service) map[string]string {
	out := make(map[string]string, len(svc.Labels)+2)
	maps.Copy(out, svc.Labels)
	delete(out, labelHeadless)
	if servicepods.IsHeadless(svc) {
		out[labelHeadless] = ""
	}
	out[labelManagedBy] = managedByValue
	return out
}
