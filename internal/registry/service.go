package registry

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// serviceResource is core/v1 services; ClusterIPs and NodePorts come from
// the allocator in service_alloc.go.
func serviceResource(opts Options) *Resource {
	family := corev1.IPv4Protocol
	if opts.ServiceCIDR.Addr().Is6() {
		family = corev1.IPv6Protocol
	}
	return &Resource{
		Version: "v1", Kind: "Service", Plural: "services", Singular: "service",
		ShortNames: []string{"svc"}, Categories: []string{"all"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.Service{} },
		NewList: func() runtime.Object { return &corev1.ServiceList{} },
		Default: func(obj runtime.Object) { defaultService(obj.(*corev1.Service), family) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*corev1.Service).Status = corev1.ServiceStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			svc, oldSvc := obj.(*corev1.Service), old.(*corev1.Service)
			svc.Status = oldSvc.Status
			servicePatchAllocated(svc, oldSvc)
			serviceDropTypeDependent(svc, oldSvc)
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validateService(obj.(*corev1.Service), family) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			svc, oldSvc := obj.(*corev1.Service), old.(*corev1.Service)
			return append(validateService(svc, family), validateServiceUpdate(svc, oldSvc)...)
		},
		Status: &StatusSubresource{
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return validateServiceStatus(obj.(*corev1.Service))
			},
		},
		Allocator: newServiceAllocator(opts),
		Table:     serviceTable(),
	}
}

// defaultService fills what upstream defaults; family is the cluster's
// (single-stack) IP family.
func defaultService(svc *corev1.Service, family corev1.IPFamily) {
	spec := &svc.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityNone {
		spec.SessionAffinityConfig = nil
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		if c := spec.SessionAffinityConfig; c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{
				TimeoutSeconds: new(corev1.DefaultClientIPServiceAffinitySeconds),
			}}
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if serviceExternallyAccessible(svc) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.InternalTrafficPolicy == nil && spec.Type != corev1.ServiceTypeExternalName {
		spec.InternalTrafficPolicy = new(corev1.ServiceInternalTrafficPolicyCluster)
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		if spec.AllocateLoadBalancerNodePorts == nil {
			spec.AllocateLoadBalancerNodePorts = new(true)
		}
		for i, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP != "" && ing.IPMode == nil {
				svc.Status.LoadBalancer.Ingress[i].IPMode = new(corev1.LoadBalancerIPModeVIP)
			}
		}
	}
	if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
	if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
		spec.ClusterIP = spec.ClusterIPs[0]
	}
	if spec.Type != corev1.ServiceTypeExternalName {
		if len(spec.IPFamilies) == 0 {
			spec.IPFamilies = []corev1.IPFamily{family}
			if ip, err := netip.ParseAddr(spec.ClusterIP); err == nil {
				spec.IPFamilies[0] = serviceFamilyOf(ip)
			}
		}
		if spec.IPFamilyPolicy == nil {
			spec.IPFamilyPolicy = new(corev1.IPFamilyPolicySingleStack)
		}
	}
}

func serviceFamilyOf(ip netip.Addr) corev1.IPFamily {
	if ip.Is4() || ip.Is4In6() {
		return corev1.IPv4Protocol
	}
	return corev1.IPv6Protocol
}

func serviceExternallyAccessible(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer || svc.Spec.Type == corev1.ServiceTypeNodePort ||
		(svc.Spec.Type == corev1.ServiceTypeClusterIP && len(svc.Spec.ExternalIPs) > 0)
}

func serviceNeedsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName
}

func serviceNeedsNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

func serviceNeedsHealthCheck(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

func serviceHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// servicePatchAllocated keeps allocated values a client did not resend on
// update (kubectl apply of a manifest without clusterIP or nodePort).
func servicePatchAllocated(svc, old *corev1.Service) {
	if serviceNeedsClusterIP(old) && serviceNeedsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(svc.Spec.ClusterIPs) == 0 {
			svc.Spec.ClusterIPs = slices.Clone(old.Spec.ClusterIPs)
		}
		// An old client changed only clusterIP: make clusterIPs follow, so
		// that the change is reported as such.
		if svc.Spec.ClusterIP != old.Spec.ClusterIP && len(svc.Spec.ClusterIPs) > 0 && len(old.Spec.ClusterIPs) > 0 &&
			svc.Spec.ClusterIPs[0] == old.Spec.ClusterIPs[0] {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = slices.Clone(old.Spec.IPFamilies)
		}
	}
	if serviceNeedsNodePorts(old) && serviceNeedsNodePorts(svc) {
		used := map[int32]bool{}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				used[p.NodePort] = true
			}
		}
		byName := map[string]int32{}
		for _, p := range old.Spec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort == 0 && !used[byName[p.Name]] {
				p.NodePort = byName[p.Name]
			}
		}
	}
	if serviceNeedsHealthCheck(old) && serviceNeedsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == 0 {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

// serviceDropTypeDependent clears fields a type change made meaningless,
// when the client left them as they were (so they were allocated, not asked for).
func serviceDropTypeDependent(svc, old *corev1.Service) {
	if serviceNeedsClusterIP(old) && !serviceNeedsClusterIP(svc) {
		if svc.Spec.ClusterIP == old.Spec.ClusterIP && slices.Equal(svc.Spec.ClusterIPs, old.Spec.ClusterIPs) {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
		if slices.Equal(svc.Spec.IPFamilies, old.Spec.IPFamilies) {
			svc.Spec.IPFamilies = nil
		}
		if servicePtrEqual(svc.Spec.IPFamilyPolicy, old.Spec.IPFamilyPolicy) {
			svc.Spec.IPFamilyPolicy = nil
		}
	}
	if serviceNeedsNodePorts(old) && !serviceNeedsNodePorts(svc) && serviceSameNodePorts(svc, old) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if serviceNeedsHealthCheck(old) && !serviceNeedsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == old.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		if servicePtrEqual(svc.Spec.AllocateLoadBalancerNodePorts, old.Spec.AllocateLoadBalancerNodePorts) {
			svc.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if servicePtrEqual(svc.Spec.LoadBalancerClass, old.Spec.LoadBalancerClass) {
			svc.Spec.LoadBalancerClass = nil
		}
	}
	if serviceExternallyAccessible(old) && !serviceExternallyAccessible(svc) && svc.Spec.ExternalTrafficPolicy == old.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
}

func servicePtrEqual[T comparable](a, b *T) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func serviceSameNodePorts(a, b *corev1.Service) bool {
	ports := func(s *corev1.Service) []int32 {
		var out []int32
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				out = append(out, p.NodePort)
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(ports(a), ports(b))
}

var (
	serviceTypes         = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort}
	serviceAffinities    = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	serviceExtPolicies   = []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}
	serviceIntPolicies   = []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}
	serviceFamilyPolicie = []corev1.IPFamilyPolicy{corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}
)

// validateService checks a service against the upstream rules; family is
// the only IP family this (single-stack) cluster serves.
func validateService(svc *corev1.Service, family corev1.IPFamily) field.ErrorList {
	var errs field.ErrorList
	if n := svc.Name; n != "" && len(validation.IsDNS1123Subdomain(n)) == 0 {
		// Generic validation accepted a subdomain; services need a DNS-1035 label.
		for _, msg := range validation.IsDNS1035Label(n) {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), n, msg))
		}
	}
	spec := &svc.Spec
	specPath := field.NewPath("spec")
	portsPath := specPath.Child("ports")
	ipsPath := specPath.Child("clusterIPs")

	if !slices.Contains(serviceTypes, spec.Type) {
		errs = append(errs, field.NotSupported(specPath.Child("type"), spec.Type, serviceTypes))
	}
	if len(spec.Ports) == 0 && !serviceHeadless(svc) && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(portsPath, ""))
	}

	names := map[string]bool{}
	type portKey struct {
		port     int32
		protocol corev1.Protocol
	}
	seenPorts, seenNodePorts := map[portKey]bool{}, map[portKey]bool{}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		pp := portsPath.Index(i)
		switch {
		case len(spec.Ports) > 1 && p.Name == "":
			errs = append(errs, field.Required(pp.Child("name"), ""))
		case p.Name != "":
			for _, msg := range validation.IsDNS1123Label(p.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), p.Name, msg))
			}
			if names[p.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
			}
			names[p.Name] = true
		}
		for _, msg := range validation.IsValidPortNum(int(p.Port)) {
			errs = append(errs, field.Invalid(pp.Child("port"), p.Port, msg))
		}
		switch {
		case p.Protocol == "":
			errs = append(errs, field.Required(pp.Child("protocol"), ""))
		case !slices.Contains(podPortProtocols, p.Protocol):
			errs = append(errs, field.NotSupported(pp.Child("protocol"), p.Protocol, podPortProtocols))
		}
		errs = append(errs, validatePodPortNumOrName(p.TargetPort, pp.Child("targetPort"))...)
		if p.AppProtocol != nil {
			for _, msg := range validation.IsQualifiedName(*p.AppProtocol) {
				errs = append(errs, field.Invalid(pp.Child("appProtocol"), *p.AppProtocol, msg))
			}
		}
		if p.NodePort != 0 {
			switch {
			case spec.Type == corev1.ServiceTypeClusterIP:
				errs = append(errs, field.Forbidden(pp.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			case spec.Type == corev1.ServiceTypeExternalName:
				errs = append(errs, field.Forbidden(pp.Child("nodePort"), "may not be used when `type` is 'ExternalName'"))
			}
			for _, msg := range validation.IsValidPortNum(int(p.NodePort)) {
				errs = append(errs, field.Invalid(pp.Child("nodePort"), p.NodePort, msg))
			}
			k := portKey{p.NodePort, p.Protocol}
			if seenNodePorts[k] {
				errs = append(errs, field.Duplicate(pp.Child("nodePort"), p.NodePort))
			}
			seenNodePorts[k] = true
		}
		k := portKey{p.Port, p.Protocol}
		if seenPorts[k] {
			errs = append(errs, field.Duplicate(pp, fmt.Sprintf("%d/%s", p.Port, p.Protocol)))
		}
		seenPorts[k] = true
	}

	switch spec.Type {
	case corev1.ServiceTypeExternalName:
		if len(spec.ClusterIPs) > 0 || spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(ipsPath, "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		if cname := strings.TrimSuffix(spec.ExternalName, "."); cname == "" {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(cname) {
				errs = append(errs, field.Invalid(specPath.Child("externalName"), spec.ExternalName, msg))
			}
		}
	case corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		if serviceHeadless(svc) {
			errs = append(errs, field.Invalid(ipsPath.Index(0), spec.ClusterIP, fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	}
	if spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, validateServiceClusterIPs(svc, family, specPath)...)
	}

	errs = append(errs, metav1validation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	for i, ip := range spec.ExternalIPs {
		p := specPath.Child("externalIPs").Index(i)
		if ip == "0.0.0.0" {
			errs = append(errs, field.Invalid(p, ip, "must be a valid IP address"))
			continue
		}
		errs = append(errs, validation.IsValidIPForLegacyField(p, ip, true, nil)...)
	}

	affPath := specPath.Child("sessionAffinity")
	switch {
	case spec.SessionAffinity == "":
		errs = append(errs, field.Required(affPath, ""))
	case !slices.Contains(serviceAffinities, spec.SessionAffinity):
		errs = append(errs, field.NotSupported(affPath, spec.SessionAffinity, serviceAffinities))
	case spec.SessionAffinity == corev1.ServiceAffinityClientIP:
		cfgPath := specPath.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds")
		if c := spec.SessionAffinityConfig; c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			errs = append(errs, field.Required(cfgPath, "when session affinity type is ClientIP"))
		} else if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > serviceMaxAffinitySeconds {
			errs = append(errs, field.Invalid(cfgPath, t, fmt.Sprintf("must be greater than 0 and less than %d", serviceMaxAffinitySeconds)))
		}
	case spec.SessionAffinityConfig != nil:
		errs = append(errs, field.Invalid(specPath.Child("sessionAffinityConfig"), spec.SessionAffinityConfig,
			fmt.Sprintf("must not be set when session affinity is %s", spec.SessionAffinity)))
	}

	if spec.Type != corev1.ServiceTypeLoadBalancer {
		if len(spec.LoadBalancerSourceRanges) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("loadBalancerSourceRanges"), "may only be used when `type` is 'LoadBalancer'"))
		}
		if spec.AllocateLoadBalancerNodePorts != nil {
			errs = append(errs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
		}
		if spec.LoadBalancerClass != nil {
			errs = append(errs, field.Forbidden(specPath.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		}
	} else if spec.AllocateLoadBalancerNodePorts == nil {
		errs = append(errs, field.Required(specPath.Child("allocateLoadBalancerNodePorts"), ""))
	}
	for i, r := range spec.LoadBalancerSourceRanges {
		errs = append(errs, validation.IsValidCIDRForLegacyField(specPath.Child("loadBalancerSourceRanges").Index(i), strings.TrimSpace(r), true, nil)...)
	}

	extPath := specPath.Child("externalTrafficPolicy")
	switch {
	case !serviceExternallyAccessible(svc) && spec.ExternalTrafficPolicy != "":
		errs = append(errs, field.Invalid(extPath, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
	case serviceExternallyAccessible(svc) && spec.ExternalTrafficPolicy == "":
		errs = append(errs, field.Required(extPath, ""))
	case spec.ExternalTrafficPolicy != "" && !slices.Contains(serviceExtPolicies, spec.ExternalTrafficPolicy):
		errs = append(errs, field.NotSupported(extPath, spec.ExternalTrafficPolicy, serviceExtPolicies))
	}
	if spec.HealthCheckNodePort != 0 {
		hcPath := specPath.Child("healthCheckNodePort")
		if !serviceNeedsHealthCheck(svc) {
			errs = append(errs, field.Invalid(hcPath, spec.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		}
		for _, msg := range validation.IsValidPortNum(int(spec.HealthCheckNodePort)) {
			errs = append(errs, field.Invalid(hcPath, spec.HealthCheckNodePort, msg))
		}
	}
	intPath := specPath.Child("internalTrafficPolicy")
	switch {
	case spec.InternalTrafficPolicy == nil && spec.Type != corev1.ServiceTypeExternalName:
		errs = append(errs, field.Required(intPath, ""))
	case spec.InternalTrafficPolicy != nil && !slices.Contains(serviceIntPolicies, *spec.InternalTrafficPolicy):
		errs = append(errs, field.NotSupported(intPath, *spec.InternalTrafficPolicy, serviceIntPolicies))
	}
	return errs
}

// validateServiceClusterIPs checks clusterIP/clusterIPs and the IP
// families against a single-stack cluster of family.
func validateServiceClusterIPs(svc *corev1.Service, family corev1.IPFamily, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	spec := &svc.Spec
	ipsPath := specPath.Child("clusterIPs")
	if len(spec.ClusterIPs) > 0 && spec.ClusterIP != spec.ClusterIPs[0] {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
	}
	if len(spec.ClusterIPs) > 1 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold one value, this cluster is not configured for dual-stack services"))
	}
	for i, ip := range spec.ClusterIPs {
		p := ipsPath.Index(i)
		if ip == corev1.ClusterIPNone {
			if i > 0 || len(spec.ClusterIPs) > 1 {
				errs = append(errs, field.Invalid(p, ip, "'None' must be the first and only value"))
			}
			continue
		}
		if ipErrs := validation.IsValidIPForLegacyField(p, ip, true, nil); len(ipErrs) > 0 {
			errs = append(errs, ipErrs...)
			continue
		}
		if i < len(spec.IPFamilies) {
			if addr, err := netip.ParseAddr(ip); err == nil && serviceFamilyOf(addr) != spec.IPFamilies[i] {
				errs = append(errs, field.Invalid(p, ip, fmt.Sprintf("expected an %s value as indicated by `ipFamilies[%d]`", spec.IPFamilies[i], i)))
			}
		}
	}
	polPath := specPath.Child("ipFamilyPolicy")
	switch {
	case spec.IPFamilyPolicy == nil:
		errs = append(errs, field.Required(polPath, ""))
	case !slices.Contains(serviceFamilyPolicie, *spec.IPFamilyPolicy):
		errs = append(errs, field.NotSupported(polPath, *spec.IPFamilyPolicy, serviceFamilyPolicie))
	case *spec.IPFamilyPolicy == corev1.IPFamilyPolicyRequireDualStack:
		errs = append(errs, field.Invalid(polPath, *spec.IPFamilyPolicy, "this cluster is not configured for dual-stack services"))
	}
	famPath := specPath.Child("ipFamilies")
	families := []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	for i, f := range spec.IPFamilies {
		switch {
		case !slices.Contains(families, f):
			errs = append(errs, field.NotSupported(famPath.Index(i), f, families))
		case i > 0 && f == spec.IPFamilies[0]:
			errs = append(errs, field.Duplicate(famPath.Index(i), f))
		case i > 0 || f != family:
			errs = append(errs, field.Invalid(famPath.Index(i), f, "not configured on this cluster"))
		}
	}
	return errs
}

// validateServiceUpdate: cluster IPs and IP families may not change
// unless the service moves to or from ExternalName.
func validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	for i, ip := range old.Spec.ClusterIPs {
		if i < len(svc.Spec.ClusterIPs) && svc.Spec.ClusterIPs[i] != ip {
			errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(i), svc.Spec.ClusterIPs[i], "may not change once set"))
		}
	}
	if len(old.Spec.ClusterIPs) > 0 && len(svc.Spec.ClusterIPs) == 0 {
		errs = append(errs, field.Required(specPath.Child("clusterIPs"), "primary clusterIP can not be unset"))
	}
	for i, f := range old.Spec.IPFamilies {
		if i < len(svc.Spec.IPFamilies) && svc.Spec.IPFamilies[i] != f {
			errs = append(errs, field.Invalid(specPath.Child("ipFamilies").Index(i), svc.Spec.IPFamilies[i], "may not change once set"))
		}
	}
	return errs
}

func validateServiceStatus(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("status", "loadBalancer", "ingress")
	for i, ing := range svc.Status.LoadBalancer.Ingress {
		if ing.IP != "" {
			errs = append(errs, validation.IsValidIPForLegacyField(p.Index(i).Child("ip"), ing.IP, true, nil)...)
		}
		if ing.Hostname != "" {
			for _, msg := range validation.IsDNS1123Subdomain(ing.Hostname) {
				errs = append(errs, field.Invalid(p.Index(i).Child("hostname"), ing.Hostname, msg))
			}
		}
	}
	return errs
}

// serviceTable prints NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE [SELECTOR].
func serviceTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("Type", "string", "type determines how the Service is exposed.", 0),
			column("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly.", 0),
			column("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.", 0),
			column("Port(s)", "string", "The list of ports that are exposed by this service.", 0),
			ageColumn,
			column("Selector", "string", "Route service traffic to pods with label keys and values matching this selector.", 1),
		},
		Row: func(obj runtime.Object) []any {
			svc := obj.(*corev1.Service)
			clusterIP := "<none>"
			if len(svc.Spec.ClusterIPs) > 0 {
				clusterIP = svc.Spec.ClusterIPs[0]
			}
			ports := servicePortsString(svc.Spec.Ports)
			if ports == "" {
				ports = "<none>"
			}
			return []any{string(svc.Spec.Type), clusterIP, serviceExternalIP(svc), ports,
				age(svc.CreationTimestamp), labels.FormatLabels(svc.Spec.Selector)}
		},
	}
}

func servicePortsString(ports []corev1.ServicePort) string {
	out := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			out[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			out[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(out, ",")
}

func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		var ips []string
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP != "" {
				ips = append(ips, ing.IP)
			} else if ing.Hostname != "" {
				ips = append(ips, ing.Hostname)
			}
		}
		slices.Sort(ips)
		ips = append(slices.Compact(ips), svc.Spec.ExternalIPs...)
		if len(ips) > 0 {
			return strings.Join(ips, ",")
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// serviceMaxAffinitySeconds caps sessionAffinityConfig.clientIP.timeoutSeconds (one day).
const serviceMaxAffinitySeconds = 86400
