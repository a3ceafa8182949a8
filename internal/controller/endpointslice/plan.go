package endpointslice

import (
	"cmp"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels the controller sets on its slices.
const (
	managedBy = "endpointslice-controller.k8s.io"
)

// plan is the writes that turn a service's existing slices into the
// desired ones.
type plan struct {
	create []*discoveryv1.EndpointSlice
	update []*discoveryv1.EndpointSlice // copies, changed
	delete []*discoveryv1.EndpointSlice
}

func (p plan) empty() bool { return len(p.create)+len(p.update)+len(p.delete) == 0 }

// planSlices decides how to get from existing (the service's managed
// slices, never modified here) to want, moving as few endpoints as it
// can: an endpoint stays in the slice that holds it, new endpoints fill
// slices that are written anyway before slices that are not, and only
// then go to new slices of at most maxPerSlice endpoints. A service
// being deleted gets no new slices (the garbage collector is deleting
// them). Each address type without endpoints keeps one empty slice, as
// upstream's placeholder.
func planSlices(svc *corev1.Service, want desired, existing []*discoveryv1.EndpointSlice, maxPerSlice int) plan {
	var p plan
	byType := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if _, ok := want[s.AddressType]; !ok || !ownedBy(s, svc) {
			p.delete = append(p.delete, s)
			continue
		}
		byType[s.AddressType] = append(byType[s.AddressType], s)
	}
	labels := sliceLabels(svc)
	for _, t := range slices.Sorted(maps.Keys(want)) {
		have := byType[t]
		slices.SortFunc(have, func(a, b *discoveryv1.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })
		sets := want[t]
		if len(sets) == 0 {
			p.placeholder(svc, t, labels, have)
			continue
		}
		byPorts := map[string][]*discoveryv1.EndpointSlice{}
		for _, s := range have {
			k := portsKey(s.Ports)
			if _, ok := sets[k]; !ok || len(s.Endpoints) == 0 {
				p.delete = append(p.delete, s)
				continue
			}
			byPorts[k] = append(byPorts[k], s)
		}
		for _, k := range slices.Sorted(maps.Keys(sets)) {
			p.fill(svc, t, labels, sets[k], byPorts[k], maxPerSlice)
		}
	}
	if svc.DeletionTimestamp != nil {
		p.create = nil
	}
	p.reuse()
	return p
}

// reuse turns a delete and a create of the same address type into one
// update: fewer writes, and no slice is missing in between.
func (p *plan) reuse() {
	var create []*discoveryv1.EndpointSlice
	for _, c := range p.create {
		i := slices.IndexFunc(p.delete, func(d *discoveryv1.EndpointSlice) bool { return d.AddressType == c.AddressType })
		if i < 0 {
			create = append(create, c)
			continue
		}
		s := p.delete[i].DeepCopy()
		p.delete = slices.Delete(p.delete, i, i+1)
		s.Labels, s.OwnerReferences = c.Labels, c.OwnerReferences
		s.Ports, s.Endpoints = c.Ports, c.Endpoints
		p.update = append(p.update, s)
	}
	p.create = create
}

// working is an existing slice and the endpoints it will hold.
type working struct {
	orig      *discoveryv1.EndpointSlice
	endpoints []discoveryv1.Endpoint
	changed   bool
}

// fill plans the slices of one endpoint set.
func (p *plan) fill(svc *corev1.Service, t discoveryv1.AddressType, labels map[string]string, set *endpointSet, have []*discoveryv1.EndpointSlice, maxPerSlice int) {
	placed := map[string]bool{}
	var open []*working
	for _, s := range have {
		w := &working{orig: s}
		for _, ep := range s.Endpoints {
			k := endpointKey(ep)
			cur, ok := set.endpoints[k]
			if !ok || placed[k] || len(w.endpoints) == maxPerSlice {
				w.changed = true
				continue
			}
			placed[k] = true
			w.endpoints = append(w.endpoints, cur)
			if !apiequality.Semantic.DeepEqual(cur, ep) {
				w.changed = true
			}
		}
		if len(w.endpoints) == 0 {
			p.delete = append(p.delete, s)
			continue
		}
		if !metadataCurrent(s, svc, labels) || !apiequality.Semantic.DeepEqual(s.Ports, set.ports) {
			w.changed = true
		}
		open = append(open, w)
	}
	var rest []string
	for _, k := range slices.Sorted(maps.Keys(set.endpoints)) {
		if !placed[k] {
			rest = append(rest, k)
		}
	}
	// Slices written anyway take new endpoints first.
	slices.SortStableFunc(open, func(a, b *working) int {
		switch {
		case a.changed == b.changed:
			return 0
		case a.changed:
			return -1
		}
		return 1
	})
	for _, w := range open {
		for len(rest) > 0 && len(w.endpoints) < maxPerSlice {
			w.endpoints = append(w.endpoints, set.endpoints[rest[0]])
			rest = rest[1:]
			w.changed = true
		}
		if !w.changed {
			continue
		}
		s := w.orig.DeepCopy()
		setMetadata(s, svc, labels)
		s.Ports = set.ports
		s.Endpoints = sortEndpoints(w.endpoints)
		p.update = append(p.update, s)
	}
	for len(rest) > 0 {
		n := min(len(rest), maxPerSlice)
		eps := make([]discoveryv1.Endpoint, 0, n)
		for _, k := range rest[:n] {
			eps = append(eps, set.endpoints[k])
		}
		rest = rest[n:]
		s := newSlice(svc, t, labels)
		s.Ports = set.ports
		s.Endpoints = sortEndpoints(eps)
		p.create = append(p.create, s)
	}
}

// placeholder keeps one empty slice for an address type without
// endpoints, reusing the first existing slice.
func (p *plan) placeholder(svc *corev1.Service, t discoveryv1.AddressType, labels map[string]string, have []*discoveryv1.EndpointSlice) {
	if len(have) == 0 {
		p.create = append(p.create, newSlice(svc, t, labels))
		return
	}
	keep := have[0]
	p.delete = append(p.delete, have[1:]...)
	if len(keep.Endpoints) == 0 && len(keep.Ports) == 0 && metadataCurrent(keep, svc, labels) {
		return
	}
	s := keep.DeepCopy()
	setMetadata(s, svc, labels)
	s.Ports, s.Endpoints = nil, nil
	p.update = append(p.update, s)
}

func sortEndpoints(eps []discoveryv1.Endpoint) []discoveryv1.Endpoint {
	slices.SortFunc(eps, func(a, b discoveryv1.Endpoint) int { return cmp.Compare(endpointKey(a), endpointKey(b)) })
	return eps
}

func newSlice(svc *corev1.Service, t discoveryv1.AddressType, labels map[string]string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{GenerateName: svc.Name + "-", Namespace: svc.Namespace},
		AddressType: t,
	}
	setMetadata(s, svc, labels)
	return s
}

// sliceLabels are the labels of a service's slices: the service's own
// (but the two the controller owns), the headless marker, the service
// name and the manager.
func sliceLabels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		if k != discoveryv1.LabelServiceName && k != discoveryv1.LabelManagedBy {
			out[k] = v
		}
	}
	delete(out, corev1.IsHeadlessService)
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out[corev1.IsHeadlessService] = ""
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = managedBy
	return out
}

func ownerRef(svc *corev1.Service) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
		Controller: new(true), BlockOwnerDeletion: new(true),
	}
}

// ownedBy reports whether the slice's controller is this service (and
// not an earlier service of the same name).
func ownedBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	ref := metav1.GetControllerOfNoCopy(s)
	return ref != nil && ref.UID == svc.UID
}

func metadataCurrent(s *discoveryv1.EndpointSlice, svc *corev1.Service, labels map[string]string) bool {
	return maps.Equal(s.Labels, labels) &&
		len(s.OwnerReferences) == 1 && apiequality.Semantic.DeepEqual(s.OwnerReferences[0], ownerRef(svc))
}

func setMetadata(s *discoveryv1.EndpointSlice, svc *corev1.Service, labels map[string]string) {
	s.Labels = maps.Clone(labels)
	s.OwnerReferences = []metav1.OwnerReference{ownerRef(svc)}
}
