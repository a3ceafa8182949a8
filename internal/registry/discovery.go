package registry

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// discovery.k8s.io/v1 endpointslices.

// Limits the upstream API enforces on endpoint slices.
const (
	endpointSliceMaxEndpoints      = 1000
	endpointSliceMaxAddresses      = 100
	endpointSliceMaxPorts          = 20000
	endpointSliceMaxTopologyLabels = 16
	endpointSliceMaxHints          = 8
)

func discoveryResources() []*Resource {
	return []*Resource{endpointSliceResource()}
}

func endpointSliceResource() *Resource {
	return &Resource{
		Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice",
		Plural: "endpointslices", Singular: "endpointslice", Namespaced: true,
		New:     func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Default: func(obj runtime.Object) {
			es := obj.(*discoveryv1.EndpointSlice)
			for i := range es.Ports {
				if es.Ports[i].Name == nil {
					es.Ports[i].Name = new("")
				}
				if es.Ports[i].Protocol == nil {
					es.Ports[i].Protocol = new(corev1.ProtocolTCP)
				}
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return endpointSliceValidate(obj.(*discoveryv1.EndpointSlice), true)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			es, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
			errs := endpointSliceValidate(es, false)
			return append(errs, groupImmutable(es.AddressType, o.AddressType, field.NewPath("addressType"))...)
		},
		Table: endpointSliceTable(),
	}
}

// endpointSliceValidate checks a slice; only new slices are held to the
// supported address types (existing ones may carry a retired type).
func endpointSliceValidate(es *discoveryv1.EndpointSlice, create bool) field.ErrorList {
	var errs field.ErrorList
	ap := field.NewPath("addressType")
	types := []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}
	switch es.AddressType {
	case "":
		errs = append(errs, field.Required(ap, ""))
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN:
	default:
		if create {
			errs = append(errs, field.NotSupported(ap, es.AddressType, types))
		}
	}
	errs = append(errs, endpointSliceValidateEndpoints(es.Endpoints, es.AddressType, field.NewPath("endpoints"))...)
	return append(errs, endpointSliceValidatePorts(es.Ports, field.NewPath("ports"))...)
}

func endpointSliceValidateEndpoints(endpoints []discoveryv1.Endpoint, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(endpoints) > endpointSliceMaxEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(endpoints), endpointSliceMaxEndpoints)}
	}
	var errs field.ErrorList
	for i, ep := range endpoints {
		p := fldPath.Index(i)
		ap := p.Child("addresses")
		switch {
		case len(ep.Addresses) == 0:
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		case len(ep.Addresses) > endpointSliceMaxAddresses:
			errs = append(errs, field.TooMany(ap, len(ep.Addresses), endpointSliceMaxAddresses))
		}
		for j, addr := range ep.Addresses {
			errs = append(errs, endpointSliceValidateAddress(addr, addrType, ap.Index(j))...)
		}
		if ep.NodeName != nil {
			errs = append(errs, groupDNSSubdomain(*ep.NodeName, p.Child("nodeName"))...)
		}
		tp := p.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > endpointSliceMaxTopologyLabels {
			errs = append(errs, field.TooMany(tp, len(ep.DeprecatedTopology), endpointSliceMaxTopologyLabels))
		}
		errs = append(errs, metavalidation.ValidateLabels(ep.DeprecatedTopology, tp)...)
		if ep.Hostname != nil {
			errs = append(errs, groupDNSLabel(*ep.Hostname, p.Child("hostname"))...)
		}
		if ep.Hints != nil {
			errs = append(errs, endpointSliceValidateHints(ep.Hints, p.Child("hints"))...)
		}
	}
	return errs
}

// endpointSliceValidateAddress checks an address against the slice's type.
// IPs must be usable pod or node addresses: not unspecified or link-local.
// Unlike upstream, loopback addresses are accepted: a k1s cluster may run
// on a loopback-only host, where the api-server's own endpoint (the
// "kubernetes" service) is 127.0.0.1.
func endpointSliceValidateAddress(addr string, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	switch addrType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		if errs := validation.IsValidIP(fldPath, addr); len(errs) > 0 {
			return errs
		}
		ip := netip.MustParseAddr(addr)
		if addrType == discoveryv1.AddressTypeIPv4 && !ip.Is4() {
			return field.ErrorList{field.Invalid(fldPath, addr, "must be an IPv4 address")}
		}
		if addrType == discoveryv1.AddressTypeIPv6 && !ip.Is6() {
			return field.ErrorList{field.Invalid(fldPath, addr, "must be an IPv6 address")}
		}
		switch {
		case ip.IsUnspecified():
			return field.ErrorList{field.Invalid(fldPath, addr, fmt.Sprintf("may not be unspecified (%v)", addr))}
		case ip.IsLinkLocalUnicast():
			return field.ErrorList{field.Invalid(fldPath, addr, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")}
		case ip.IsLinkLocalMulticast():
			return field.ErrorList{field.Invalid(fldPath, addr, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")}
		}
		return nil
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(fldPath, addr)
	}
	return nil
}

func endpointSliceValidateHints(h *discoveryv1.EndpointHints, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	zp := fldPath.Child("forZones")
	if len(h.ForZones) > endpointSliceMaxHints {
		return field.ErrorList{field.TooMany(zp, len(h.ForZones), endpointSliceMaxHints)}
	}
	zones := sets.New[string]()
	for i, z := range h.ForZones {
		p := zp.Index(i).Child("name")
		if zones.Has(z.Name) {
			errs = append(errs, field.Duplicate(p, z.Name))
		}
		zones.Insert(z.Name)
		for _, msg := range validation.IsValidLabelValue(z.Name) {
			errs = append(errs, field.Invalid(p, z.Name, msg))
		}
	}
	np := fldPath.Child("forNodes")
	if len(h.ForNodes) > endpointSliceMaxHints {
		return append(errs, field.TooMany(np, len(h.ForNodes), endpointSliceMaxHints))
	}
	nodes := sets.New[string]()
	for i, n := range h.ForNodes {
		p := np.Index(i).Child("name")
		if nodes.Has(n.Name) {
			errs = append(errs, field.Duplicate(p, n.Name))
		}
		nodes.Insert(n.Name)
		errs = append(errs, groupDNSSubdomain(n.Name, p)...)
	}
	return errs
}

func endpointSliceValidatePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > endpointSliceMaxPorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), endpointSliceMaxPorts)}
	}
	var errs field.ErrorList
	names := sets.New[string]()
	protocols := []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
	for i, port := range ports {
		p := fldPath.Index(i)
		var name string
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, groupDNSLabel(name, p.Child("name"))...)
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names.Insert(name)
		switch {
		case port.Protocol == nil:
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		case *port.Protocol != corev1.ProtocolTCP && *port.Protocol != corev1.ProtocolUDP && *port.Protocol != corev1.ProtocolSCTP:
			errs = append(errs, field.NotSupported(p.Child("protocol"), *port.Protocol, protocols))
		}
		if port.Port != nil {
			for _, msg := range validation.IsValidPortNum(int(*port.Port)) {
				errs = append(errs, field.Invalid(p.Child("port"), *port.Port, msg))
			}
		}
		if port.AppProtocol != nil {
			errs = append(errs, groupQualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
		}
	}
	return errs
}

func endpointSliceTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("AddressType", "string", "Type of address carried by this EndpointSlice", 0),
			column("Ports", "string", "Ports of the EndpointSlice", 0),
			column("Endpoints", "string", "Endpoints of the EndpointSlice", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) []any {
			es := obj.(*discoveryv1.EndpointSlice)
			var ports []string
			for _, p := range es.Ports {
				switch {
				case p.Port != nil:
					ports = append(ports, strconv.Itoa(int(*p.Port)))
				case p.Name != nil && *p.Name != "":
					ports = append(ports, *p.Name)
				default:
					ports = append(ports, "*")
				}
			}
			var addrs []string
			for _, ep := range es.Endpoints {
				addrs = append(addrs, ep.Addresses...)
			}
			return []any{string(es.AddressType), endpointSliceList(ports), endpointSliceList(addrs), age(es.CreationTimestamp)}
		},
	}
}

// endpointSliceList prints up to three items and how many more there are.
func endpointSliceList(items []string) string {
	const max = 3
	switch {
	case len(items) == 0:
		return "<unset>"
	case len(items) > max:
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:max], ","), len(items)-max)
	default:
		return strings.Join(items, ",")
	}
}
