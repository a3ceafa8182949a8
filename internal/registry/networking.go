package registry

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// networking.k8s.io/v1: ingresses, ingressclasses and networkpolicies.

func networkingResources() []*Resource {
	return []*Resource{ingressResource(), ingressClassResource(), networkPolicyResource()}
}

// --- Ingress ---

func ingressResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		return ingressValidateSpec(&obj.(*networkingv1.Ingress).Spec, field.NewPath("spec"))
	}
	return &Resource{
		Group: "networking.k8s.io", Version: "v1", Kind: "Ingress",
		Plural: "ingresses", Singular: "ingress",
		ShortNames: []string{"ing"}, Namespaced: true,
		New:     func() runtime.Object { return &networkingv1.Ingress{} },
		NewList: func() runtime.Object { return &networkingv1.IngressList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*networkingv1.Ingress).Status = networkingv1.IngressStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*networkingv1.Ingress).Status = old.(*networkingv1.Ingress).Status
		},
		Validate:       validate,
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validate(obj) },
		Status: &StatusSubresource{ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return ingressValidateStatus(&obj.(*networkingv1.Ingress).Status, field.NewPath("status", "loadBalancer", "ingress"))
		}},
		Table: ingressTable(),
	}
}

func ingressValidateSpec(spec *networkingv1.IngressSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(fldPath, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, ingressValidateBackend(spec.DefaultBackend, fldPath.Child("defaultBackend"))...)
	}
	for i, rule := range spec.Rules {
		p := fldPath.Child("rules").Index(i)
		if rule.Host != "" {
			errs = append(errs, ingressValidateHost(rule.Host, p.Child("host"))...)
		}
		if rule.HTTP == nil {
			continue
		}
		hp := p.Child("http")
		if len(rule.HTTP.Paths) == 0 {
			errs = append(errs, field.Required(hp.Child("paths"), ""))
		}
		for j := range rule.HTTP.Paths {
			errs = append(errs, ingressValidatePath(&rule.HTTP.Paths[j], hp.Child("paths").Index(j))...)
		}
	}
	for i, tls := range spec.TLS {
		p := fldPath.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			errs = append(errs, ingressValidateHostName(host, p.Child("hosts").Index(j))...)
		}
		if tls.SecretName != "" {
			errs = append(errs, groupDNSSubdomain(tls.SecretName, p.Child("secretName"))...)
		}
	}
	if spec.IngressClassName != nil {
		errs = append(errs, groupDNSSubdomain(*spec.IngressClassName, fldPath.Child("ingressClassName"))...)
	}
	return errs
}

// ingressValidateHost checks a rule host: a DNS name, not an IP, with at
// most a leading "*." wildcard.
func ingressValidateHost(host string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, err := netip.ParseAddr(host); err == nil {
		errs = append(errs, field.Invalid(fldPath, host, "must be a DNS name, not an IP address"))
	}
	return append(errs, ingressValidateHostName(host, fldPath)...)
}

func ingressValidateHostName(host string, fldPath *field.Path) field.ErrorList {
	var msgs []string
	if strings.Contains(host, "*") {
		msgs = validation.IsWildcardDNS1123Subdomain(host)
	} else {
		msgs = validation.IsDNS1123Subdomain(host)
	}
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(fldPath, host, msg))
	}
	return errs
}

func ingressValidatePath(path *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	if path.PathType == nil {
		return field.ErrorList{field.Required(fldPath.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	pp := fldPath.Child("path")
	switch *path.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(pp, path.Path, "must be an absolute path"))
		}
		for _, seq := range []string{"//", "/./", "/../", "%2f", "%2F"} {
			if strings.Contains(path.Path, seq) {
				errs = append(errs, field.Invalid(pp, path.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suffix := range []string{"/..", "/."} {
			if strings.HasSuffix(path.Path, suffix) {
				errs = append(errs, field.Invalid(pp, path.Path, fmt.Sprintf("cannot end with '%s'", suffix)))
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if path.Path != "" && !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(pp, path.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("pathType"), *path.PathType, []networkingv1.PathType{
			networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific, networkingv1.PathTypePrefix,
		}))
	}
	return append(errs, ingressValidateBackend(&path.Backend, fldPath.Child("backend"))...)
}

func ingressValidateBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(fldPath, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return ingressValidateTypedReference(b.Resource, fldPath.Child("resource"))
	case b.Service != nil:
		var errs field.ErrorList
		np := fldPath.Child("service", "name")
		if b.Service.Name == "" {
			errs = append(errs, field.Required(np, ""))
		} else {
			for _, msg := range apivalidation.NameIsDNS1035Label(b.Service.Name, false) {
				errs = append(errs, field.Invalid(np, b.Service.Name, msg))
			}
		}
		port := b.Service.Port
		pp := fldPath.Child("service", "port")
		switch {
		case port.Name != "" && port.Number != 0:
			errs = append(errs, field.Invalid(fldPath, "", "cannot set both port name & port number"))
		case port.Name != "":
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
			}
		case port.Number != 0:
			for _, msg := range validation.IsValidPortNum(int(port.Number)) {
				errs = append(errs, field.Invalid(pp.Child("number"), port.Number, msg))
			}
		default:
			errs = append(errs, field.Required(fldPath, "port name or number is required"))
		}
		return errs
	default:
		return field.ErrorList{field.Invalid(fldPath, "", "resource or service backend is required")}
	}
}

func ingressValidateTypedReference(r *corev1.TypedLocalObjectReference, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.APIGroup == nil {
		// A core-group reference would be a Service: use a service backend.
		errs = append(errs, field.Required(fldPath.Child("apiGroup"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(*r.APIGroup) {
			errs = append(errs, field.Invalid(fldPath.Child("apiGroup"), *r.APIGroup, msg))
		}
	}
	if r.Kind == "" {
		errs = append(errs, field.Required(fldPath.Child("kind"), ""))
	}
	if r.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	}
	return errs
}

func ingressValidateStatus(s *networkingv1.IngressStatus, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ing := range s.LoadBalancer.Ingress {
		p := fldPath.Index(i)
		if ing.IP != "" {
			errs = append(errs, validation.IsValidIP(p.Child("ip"), ing.IP)...)
		}
		if ing.Hostname != "" {
			errs = append(errs, groupDNSSubdomain(ing.Hostname, p.Child("hostname"))...)
			if _, err := netip.ParseAddr(ing.Hostname); err == nil {
				errs = append(errs, field.Invalid(p.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}

func ingressTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("Class", "string", "The name of the IngressClass resource that should be used for ingress.", 0),
			column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule", 0),
			column("Address", "string", "Address is a list containing ingress points for the load-balancer", 0),
			column("Ports", "string", "Ports of TLS configurations that open", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) []any {
			ing := obj.(*networkingv1.Ingress)
			class := "<none>"
			if ing.Spec.IngressClassName != nil {
				class = *ing.Spec.IngressClassName
			}
			ports := "80"
			if len(ing.Spec.TLS) > 0 {
				ports = "80, 443"
			}
			return []any{class, ingressHosts(ing.Spec.Rules), ingressAddress(ing.Status.LoadBalancer), ports, age(ing.CreationTimestamp)}
		},
	}
}

// ingressHosts prints up to three rule hosts, "*" when no rule names one.
func ingressHosts(rules []networkingv1.IngressRule) string {
	const max = 3
	var list []string
	for _, r := range rules {
		if len(list) == max {
			return fmt.Sprintf("%s + %d more...", strings.Join(list, ","), len(rules)-max)
		}
		if r.Host != "" {
			list = append(list, r.Host)
		}
	}
	if len(list) == 0 {
		return "*"
	}
	return strings.Join(list, ",")
}

// ingressAddress prints the load-balancer addresses, sorted and
// truncated to 16 characters as kubectl does without -o wide.
func ingressAddress(s networkingv1.IngressLoadBalancerStatus) string {
	const width = 16
	addrs := sets.New[string]()
	for _, ing := range s.Ingress {
		switch {
		case ing.IP != "":
			addrs.Insert(ing.IP)
		case ing.Hostname != "":
			addrs.Insert(ing.Hostname)
		}
	}
	r := strings.Join(sets.List(addrs), ",")
	if len(r) > width {
		r = r[:width-3] + "..."
	}
	return r
}

// --- IngressClass ---

func ingressClassResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		return ingressClassValidateSpec(&obj.(*networkingv1.IngressClass).Spec, field.NewPath("spec"))
	}
	return &Resource{
		Group: "networking.k8s.io", Version: "v1", Kind: "IngressClass",
		Plural: "ingressclasses", Singular: "ingressclass",
		New:     func() runtime.Object { return &networkingv1.IngressClass{} },
		NewList: func() runtime.Object { return &networkingv1.IngressClassList{} },
		Default: func(obj runtime.Object) {
			if p := obj.(*networkingv1.IngressClass).Spec.Parameters; p != nil && p.Scope == nil {
				p.Scope = new(networkingv1.IngressClassParametersReferenceScopeCluster)
			}
		},
		Validate: validate,
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			errs := validate(obj)
			return append(errs, groupImmutable(obj.(*networkingv1.IngressClass).Spec.Controller,
				old.(*networkingv1.IngressClass).Spec.Controller, field.NewPath("spec", "controller"))...)
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Controller", "string", "Controller that is responsible for handling this class", 0),
				column("Parameters", "string", "A reference to a resource with additional parameters", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				ic := obj.(*networkingv1.IngressClass)
				params := "<none>"
				if p := ic.Spec.Parameters; p != nil {
					params = p.Kind
					if p.APIGroup != nil {
						params += "." + *p.APIGroup
					}
					params += "/" + p.Name
				}
				return []any{ic.Spec.Controller, params, age(ic.CreationTimestamp)}
			},
		},
	}
}

func ingressClassValidateSpec(spec *networkingv1.IngressClassSpec, fldPath *field.Path) field.ErrorList {
	const maxControllerLen = 250
	cp := fldPath.Child("controller")
	var errs field.ErrorList
	if len(spec.Controller) > maxControllerLen {
		errs = append(errs, field.TooLong(cp, "", maxControllerLen))
	}
	errs = append(errs, validation.IsDomainPrefixedPath(cp, spec.Controller)...)
	p := spec.Parameters
	if p == nil {
		return errs
	}
	pp := fldPath.Child("parameters")
	if p.APIGroup != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*p.APIGroup) {
			errs = append(errs, field.Invalid(pp.Child("apiGroup"), *p.APIGroup, msg))
		}
	}
	if p.Kind == "" {
		errs = append(errs, field.Required(pp.Child("kind"), ""))
	}
	if p.Name == "" {
		errs = append(errs, field.Required(pp.Child("name"), ""))
	}
	scopes := []string{networkingv1.IngressClassParametersReferenceScopeCluster, networkingv1.IngressClassParametersReferenceScopeNamespace}
	switch {
	case p.Scope == nil:
		errs = append(errs, field.Required(pp.Child("scope"), ""))
	case *p.Scope == networkingv1.IngressClassParametersReferenceScopeNamespace:
		if p.Namespace == nil {
			errs = append(errs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		} else {
			errs = append(errs, groupDNSLabel(*p.Namespace, pp.Child("namespace"))...)
		}
	case *p.Scope == networkingv1.IngressClassParametersReferenceScopeCluster:
		if p.Namespace != nil {
			errs = append(errs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		}
	default:
		errs = append(errs, field.NotSupported(pp.Child("scope"), *p.Scope, scopes))
	}
	return errs
}

// --- NetworkPolicy ---

func networkPolicyResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		return networkPolicyValidateSpec(&obj.(*networkingv1.NetworkPolicy).Spec, field.NewPath("spec"))
	}
	return &Resource{
		Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy",
		Plural: "networkpolicies", Singular: "networkpolicy",
		ShortNames: []string{"netpol"}, Namespaced: true,
		New:            func() runtime.Object { return &networkingv1.NetworkPolicy{} },
		NewList:        func() runtime.Object { return &networkingv1.NetworkPolicyList{} },
		Default:        func(obj runtime.Object) { networkPolicyDefault(obj.(*networkingv1.NetworkPolicy)) },
		Validate:       validate,
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validate(obj) },
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Pod-Selector", "string", "Selects the pods to which this NetworkPolicy object applies.", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				np := obj.(*networkingv1.NetworkPolicy)
				return []any{metav1.FormatLabelSelector(&np.Spec.PodSelector), age(np.CreationTimestamp)}
			},
		},
	}
}

func networkPolicyDefault(np *networkingv1.NetworkPolicy) {
	defaultPorts := func(ports []networkingv1.NetworkPolicyPort) {
		for i := range ports {
			if ports[i].Protocol == nil {
				ports[i].Protocol = new(corev1.ProtocolTCP)
			}
		}
	}
	for i := range np.Spec.Ingress {
		defaultPorts(np.Spec.Ingress[i].Ports)
	}
	for i := range np.Spec.Egress {
		defaultPorts(np.Spec.Egress[i].Ports)
	}
	// A policy that names no types is at least about ingress.
	if len(np.Spec.PolicyTypes) == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
}

func networkPolicyValidateSpec(spec *networkingv1.NetworkPolicySpec, fldPath *field.Path) field.ErrorList {
	errs := groupLabelSelector(&spec.PodSelector, fldPath.Child("podSelector"))
	for i, rule := range spec.Ingress {
		p := fldPath.Child("ingress").Index(i)
		for j := range rule.Ports {
			errs = append(errs, networkPolicyValidatePort(&rule.Ports[j], p.Child("ports").Index(j))...)
		}
		for j := range rule.From {
			errs = append(errs, networkPolicyValidatePeer(&rule.From[j], p.Child("from").Index(j))...)
		}
	}
	for i, rule := range spec.Egress {
		p := fldPath.Child("egress").Index(i)
		for j := range rule.Ports {
			errs = append(errs, networkPolicyValidatePort(&rule.Ports[j], p.Child("ports").Index(j))...)
		}
		for j := range rule.To {
			errs = append(errs, networkPolicyValidatePeer(&rule.To[j], p.Child("to").Index(j))...)
		}
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	if len(spec.PolicyTypes) > len(types) {
		return append(errs, field.Invalid(fldPath.Child("policyTypes"), &spec.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range spec.PolicyTypes {
		if !slices.Contains(types, t) {
			errs = append(errs, field.NotSupported(fldPath.Child("policyTypes").Index(i), t, types))
		}
	}
	return errs
}

func networkPolicyValidatePort(port *networkingv1.NetworkPolicyPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	protocols := []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	if port.Protocol != nil && !slices.Contains(protocols, *port.Protocol) {
		errs = append(errs, field.NotSupported(fldPath.Child("protocol"), *port.Protocol, protocols))
	}
	ep := fldPath.Child("endPort")
	switch {
	case port.Port == nil:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(ep, *port.EndPort, "may not be specified when `port` is not specified"))
		}
	case port.Port.Type == intstr.Int:
		for _, msg := range validation.IsValidPortNum(int(port.Port.IntVal)) {
			errs = append(errs, field.Invalid(fldPath.Child("port"), port.Port.IntVal, msg))
		}
		if port.EndPort != nil {
			if *port.EndPort < port.Port.IntVal {
				errs = append(errs, field.Invalid(ep, port.Port.IntVal, "must be greater than or equal to `port`"))
			}
			for _, msg := range validation.IsValidPortNum(int(*port.EndPort)) {
				errs = append(errs, field.Invalid(ep, *port.EndPort, msg))
			}
		}
	default:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(ep, *port.EndPort, "may not be specified when `port` is non-numeric"))
		}
		for _, msg := range validation.IsValidPortName(port.Port.StrVal) {
			errs = append(errs, field.Invalid(fldPath.Child("port"), port.Port.StrVal, msg))
		}
	}
	return errs
}

func networkPolicyValidatePeer(peer *networkingv1.NetworkPolicyPeer, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	peers := 0
	if peer.PodSelector != nil {
		peers++
		errs = append(errs, groupLabelSelector(peer.PodSelector, fldPath.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		peers++
		errs = append(errs, groupLabelSelector(peer.NamespaceSelector, fldPath.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		peers++
		errs = append(errs, networkPolicyValidateIPBlock(peer.IPBlock, fldPath.Child("ipBlock"))...)
	}
	switch {
	case peers == 0:
		errs = append(errs, field.Required(fldPath, "must specify a peer"))
	case peers > 1 && peer.IPBlock != nil:
		errs = append(errs, field.Forbidden(fldPath, "may not specify both ipBlock and another peer"))
	}
	return errs
}

func networkPolicyValidateIPBlock(b *networkingv1.IPBlock, fldPath *field.Path) field.ErrorList {
	cp := fldPath.Child("cidr")
	if b.CIDR == "" {
		return field.ErrorList{field.Required(cp, "")}
	}
	errs := validation.IsValidCIDR(cp, b.CIDR)
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return errs
	}
	for i, except := range b.Except {
		p := fldPath.Child("except").Index(i)
		errs = append(errs, validation.IsValidCIDR(p, except)...)
		e, err := netip.ParsePrefix(except)
		if err != nil {
			continue
		}
		if !cidr.Contains(e.Addr()) || cidr.Bits() >= e.Bits() {
			errs = append(errs, field.Invalid(p, except, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}
