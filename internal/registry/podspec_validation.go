package registry

import (
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Pod spec validation, shared by pods and pod templates. Field paths and
// messages follow the upstream API so that users see the errors they know.

// validatePodTemplateSpec checks a template's labels, annotations and pod spec.
func validatePodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	metaPath := fldPath.Child("metadata")
	errs := metav1validation.ValidateLabels(t.Labels, metaPath.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, metaPath.Child("annotations"))...)
	errs = append(errs, validatePodSpec(&t.Spec, fldPath.Child("spec"))...)
	return errs
}

// validatePodSpec checks a pod spec; fldPath is the path of the spec.
func validatePodSpec(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	volumes, errs := validatePodVolumes(spec.Volumes, fldPath.Child("volumes"))
	errs = append(errs, validatePodContainers(spec.Containers, volumes, fldPath.Child("containers"))...)
	errs = append(errs, validatePodInitContainers(spec.InitContainers, spec.Containers, volumes, fldPath.Child("initContainers"))...)
	errs = append(errs, validatePodRestartPolicy(spec.RestartPolicy, fldPath.Child("restartPolicy"))...)
	errs = append(errs, validatePodDNS(spec, fldPath)...)
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	errs = append(errs, validatePodTolerations(spec.Tolerations, fldPath.Child("tolerations"))...)
	errs = append(errs, validatePodAffinity(spec.Affinity, fldPath.Child("affinity"))...)
	errs = append(errs, validatePodTopologySpread(spec.TopologySpreadConstraints, fldPath.Child("topologySpreadConstraints"))...)
	errs = append(errs, validatePodSecurityContext(spec.SecurityContext, fldPath.Child("securityContext"))...)

	for _, f := range []struct {
		name, value string
		check       func(string) []string
	}{
		{"serviceAccountName", spec.ServiceAccountName, validation.IsDNS1123Subdomain},
		{"nodeName", spec.NodeName, validation.IsDNS1123Subdomain},
		{"priorityClassName", spec.PriorityClassName, validation.IsDNS1123Subdomain},
		{"hostname", spec.Hostname, validation.IsDNS1123Label},
		{"subdomain", spec.Subdomain, validation.IsDNS1123Label},
	} {
		if f.value == "" {
			continue
		}
		for _, msg := range f.check(f.value) {
			errs = append(errs, field.Invalid(fldPath.Child(f.name), f.value, msg))
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := *spec.ActiveDeadlineSeconds; v < 1 || v > math.MaxInt32 {
			errs = append(errs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	for i, g := range spec.ReadinessGates {
		for _, msg := range validation.IsQualifiedName(string(g.ConditionType)) {
			errs = append(errs, field.Invalid(fldPath.Child("readinessGates").Index(i).Child("conditionType"), g.ConditionType, msg))
		}
	}
	for i, a := range spec.HostAliases {
		p := fldPath.Child("hostAliases").Index(i)
		errs = append(errs, validation.IsValidIPForLegacyField(p.Child("ip"), a.IP, true, nil)...)
		for j, h := range a.Hostnames {
			for _, msg := range validation.IsDNS1123Subdomain(h) {
				errs = append(errs, field.Invalid(p.Child("hostnames").Index(j), h, msg))
			}
		}
	}
	gates := map[string]bool{}
	for i, g := range spec.SchedulingGates {
		p := fldPath.Child("schedulingGates").Index(i).Child("name")
		for _, msg := range validation.IsQualifiedName(g.Name) {
			errs = append(errs, field.Invalid(p, g.Name, msg))
		}
		if gates[g.Name] {
			errs = append(errs, field.Duplicate(p, g.Name))
		}
		gates[g.Name] = true
	}
	for i, s := range spec.ImagePullSecrets {
		if s.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	if spec.HostNetwork {
		for _, group := range []struct {
			name string
			ctrs []corev1.Container
		}{{"containers", spec.Containers}, {"initContainers", spec.InitContainers}} {
			for i, c := range group.ctrs {
				for j, p := range c.Ports {
					if p.HostPort != p.ContainerPort {
						errs = append(errs, field.Invalid(fldPath.Child(group.name).Index(i).Child("ports").Index(j).Child("containerPort"),
							p.ContainerPort, "must match `hostPort` when `hostNetwork` is true"))
					}
				}
			}
		}
	}
	return errs
}

var (
	podRestartPolicies = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	podDNSPolicies     = []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}
	podPullPolicies    = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	podPortProtocols   = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
	podTermMsgPolicies = []corev1.TerminationMessagePolicy{corev1.TerminationMessageFallbackToLogsOnError, corev1.TerminationMessageReadFile}
	podTaintEffects    = []corev1.TaintEffect{corev1.TaintEffectNoExecute, corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule}
	podURISchemes      = []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}
	// podEnvFieldPaths are the downward API fields an env var may reference.
	podEnvFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
		"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
	// podVolumeFieldPaths are the downward API fields a volume file may reference.
	podVolumeFieldPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"}
)

func validatePodRestartPolicy(p corev1.RestartPolicy, fldPath *field.Path) field.ErrorList {
	if p == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if !slices.Contains(podRestartPolicies, p) {
		return field.ErrorList{field.NotSupported(fldPath, p, podRestartPolicies)}
	}
	return nil
}

func validatePodDNS(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	p := fldPath.Child("dnsPolicy")
	switch {
	case spec.DNSPolicy == "":
		errs = append(errs, field.Required(p, ""))
	case !slices.Contains(podDNSPolicies, spec.DNSPolicy):
		errs = append(errs, field.NotSupported(p, spec.DNSPolicy, podDNSPolicies))
	}
	cfgPath := fldPath.Child("dnsConfig")
	if spec.DNSPolicy == corev1.DNSNone && spec.DNSConfig == nil {
		errs = append(errs, field.Required(cfgPath, "must provide `dnsConfig` when `dnsPolicy` is None"))
	}
	if cfg := spec.DNSConfig; cfg != nil {
		if spec.DNSPolicy == corev1.DNSNone && len(cfg.Nameservers) == 0 {
			errs = append(errs, field.Required(cfgPath.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"))
		}
		if len(cfg.Nameservers) > 3 {
			errs = append(errs, field.Invalid(cfgPath.Child("nameservers"), cfg.Nameservers, "must not have more than 3 nameservers"))
		}
		for i, ns := range cfg.Nameservers {
			errs = append(errs, validation.IsValidIPForLegacyField(cfgPath.Child("nameservers").Index(i), ns, true, nil)...)
		}
		if len(cfg.Searches) > 32 {
			errs = append(errs, field.Invalid(cfgPath.Child("searches"), cfg.Searches, "must not have more than 32 search paths"))
		}
		for i, s := range cfg.Searches {
			s = strings.TrimSuffix(s, ".")
			for _, msg := range validation.IsDNS1123Subdomain(s) {
				errs = append(errs, field.Invalid(cfgPath.Child("searches").Index(i), s, msg))
			}
		}
		for i, o := range cfg.Options {
			if o.Name == "" {
				errs = append(errs, field.Required(cfgPath.Child("options").Index(i), "Option.Name must not be empty"))
			}
		}
	}
	return errs
}

func validatePodContainers(ctrs []corev1.Container, volumes map[string]bool, fldPath *field.Path) field.ErrorList {
	if len(ctrs) == 0 {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range ctrs {
		c := &ctrs[i]
		p := fldPath.Index(i)
		errs = append(errs, validatePodContainer(c, volumes, p)...)
		if c.Name != "" && names[c.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		}
		names[c.Name] = true
		if c.RestartPolicy != nil {
			errs = append(errs, field.Forbidden(p.Child("restartPolicy"), "may not be set for non-init containers"))
		}
		errs = append(errs, validatePodContainerProbes(c, p)...)
		errs = append(errs, validatePodLifecycle(c.Lifecycle, p.Child("lifecycle"))...)
	}
	errs = append(errs, validatePodHostPorts(ctrs, fldPath)...)
	return errs
}

func validatePodInitContainers(ctrs, regular []corev1.Container, volumes map[string]bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for _, c := range regular {
		names[c.Name] = true
	}
	for i := range ctrs {
		c := &ctrs[i]
		p := fldPath.Index(i)
		errs = append(errs, validatePodContainer(c, volumes, p)...)
		if c.Name != "" && names[c.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		}
		names[c.Name] = true
		sidecar := false
		if c.RestartPolicy != nil {
			if *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
				sidecar = true
			} else {
				errs = append(errs, field.NotSupported(p.Child("restartPolicy"), *c.RestartPolicy,
					[]corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}))
			}
		}
		if sidecar {
			errs = append(errs, validatePodContainerProbes(c, p)...)
			errs = append(errs, validatePodLifecycle(c.Lifecycle, p.Child("lifecycle"))...)
			continue
		}
		const msg = "may not be set for init containers without restartPolicy=Always"
		if c.Lifecycle != nil {
			errs = append(errs, field.Forbidden(p.Child("lifecycle"), msg))
		}
		if c.LivenessProbe != nil {
			errs = append(errs, field.Forbidden(p.Child("livenessProbe"), msg))
		}
		if c.ReadinessProbe != nil {
			errs = append(errs, field.Forbidden(p.Child("readinessProbe"), msg))
		}
		if c.StartupProbe != nil {
			errs = append(errs, field.Forbidden(p.Child("startupProbe"), msg))
		}
	}
	errs = append(errs, validatePodHostPorts(ctrs, fldPath)...)
	return errs
}

// validatePodContainer checks what regular and init containers share.
func validatePodContainer(c *corev1.Container, volumes map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
		}
	}
	if c.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	}
	switch {
	case c.ImagePullPolicy == "":
		errs = append(errs, field.Required(p.Child("imagePullPolicy"), ""))
	case !slices.Contains(podPullPolicies, c.ImagePullPolicy):
		errs = append(errs, field.NotSupported(p.Child("imagePullPolicy"), c.ImagePullPolicy, podPullPolicies))
	}
	switch {
	case c.TerminationMessagePolicy == "":
		errs = append(errs, field.Required(p.Child("terminationMessagePolicy"), ""))
	case !slices.Contains(podTermMsgPolicies, c.TerminationMessagePolicy):
		errs = append(errs, field.NotSupported(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, podTermMsgPolicies))
	}
	errs = append(errs, validatePodContainerPorts(c.Ports, p.Child("ports"))...)
	errs = append(errs, validatePodEnv(c.Env, p.Child("env"))...)
	errs = append(errs, validatePodEnvFrom(c.EnvFrom, p.Child("envFrom"))...)
	errs = append(errs, validatePodVolumeMounts(c.VolumeMounts, volumes, p.Child("volumeMounts"))...)
	errs = append(errs, validatePodResources(&c.Resources, p.Child("resources"))...)
	errs = append(errs, validatePodContainerSecurityContext(c.SecurityContext, p.Child("securityContext"))...)
	return errs
}

func validatePodContainerPorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		p := fldPath.Index(i)
		if port.Name != "" {
			if msgs := validation.IsValidPortName(port.Name); len(msgs) != 0 {
				for _, msg := range msgs {
					errs = append(errs, field.Invalid(p.Child("name"), port.Name, msg))
				}
			} else if names[port.Name] {
				errs = append(errs, field.Duplicate(p.Child("name"), port.Name))
			}
			names[port.Name] = true
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(p.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(p.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(p.Child("hostPort"), port.HostPort, msg))
			}
		}
		switch {
		case port.Protocol == "":
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		case !slices.Contains(podPortProtocols, port.Protocol):
			errs = append(errs, field.NotSupported(p.Child("protocol"), port.Protocol, podPortProtocols))
		}
		if port.HostIP != "" {
			errs = append(errs, validation.IsValidIPForLegacyField(p.Child("hostIP"), port.HostIP, true, nil)...)
		}
	}
	return errs
}

// validatePodHostPorts rejects two containers claiming the same host port.
func validatePodHostPorts(ctrs []corev1.Container, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, c := range ctrs {
		for j, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", port.HostIP, port.Protocol, port.HostPort)
			if seen[key] {
				errs = append(errs, field.Duplicate(fldPath.Index(i).Child("ports").Index(j).Child("hostPort"), key))
			}
			seen[key] = true
		}
	}
	return errs
}

func validatePodEnv(env []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range env {
		p := fldPath.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(ev.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), ev.Name, msg))
			}
		}
		if ev.ValueFrom == nil {
			continue
		}
		vp := p.Child("valueFrom")
		vf := ev.ValueFrom
		sources := 0
		if vf.FieldRef != nil {
			sources++
			errs = append(errs, validatePodFieldSelector(vf.FieldRef, podEnvFieldPaths, vp.Child("fieldRef"))...)
		}
		if vf.ResourceFieldRef != nil {
			sources++
			errs = append(errs, validatePodResourceFieldSelector(vf.ResourceFieldRef, vp.Child("resourceFieldRef"))...)
		}
		if r := vf.ConfigMapKeyRef; r != nil {
			sources++
			errs = append(errs, validatePodKeySelector(r.Name, r.Key, vp.Child("configMapKeyRef"))...)
		}
		if r := vf.SecretKeyRef; r != nil {
			sources++
			errs = append(errs, validatePodKeySelector(r.Name, r.Key, vp.Child("secretKeyRef"))...)
		}
		if vf.FileKeyRef != nil {
			sources++
		}
		switch {
		case sources == 0:
			errs = append(errs, field.Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case ev.Value != "":
			errs = append(errs, field.Invalid(vp, "", "may not be specified when `value` is not empty"))
		case sources > 1:
			errs = append(errs, field.Invalid(vp, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func validatePodKeySelector(name, key string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name != "" {
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			errs = append(errs, field.Invalid(fldPath.Child("name"), name, msg))
		}
	}
	if key == "" {
		errs = append(errs, field.Required(fldPath.Child("key"), ""))
	} else {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(fldPath.Child("key"), key, msg))
		}
	}
	return errs
}

// validatePodFieldSelector checks a downward API field reference against
// the allowed field paths (labels and annotations may be subscripted).
func validatePodFieldSelector(fs *corev1.ObjectFieldSelector, allowed []string, fldPath *field.Path) field.ErrorList {
	if fs.APIVersion == "" {
		return field.ErrorList{field.Required(fldPath.Child("apiVersion"), "")}
	}
	if fs.FieldPath == "" {
		return field.ErrorList{field.Required(fldPath.Child("fieldPath"), "")}
	}
	if fs.APIVersion != "v1" {
		return field.ErrorList{field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath,
			fmt.Sprintf("error converting fieldPath: unsupported pod version: %s", fs.APIVersion))}
	}
	fp := fs.FieldPath
	if i := strings.IndexByte(fp, '['); i > 0 && strings.HasSuffix(fp, "']") && strings.HasPrefix(fp[i:], "['") {
		base, key := fp[:i], fp[i+2:len(fp)-2]
		if base != "metadata.labels" && base != "metadata.annotations" {
			return field.ErrorList{field.Invalid(fldPath, base, "does not support subscript")}
		}
		var errs field.ErrorList
		for _, msg := range validation.IsQualifiedName(strings.ToLower(key)) {
			errs = append(errs, field.Invalid(fldPath, key, msg))
		}
		return errs
	}
	if !slices.Contains(allowed, fp) {
		return field.ErrorList{field.NotSupported(fldPath.Child("fieldPath"), fp, allowed)}
	}
	return nil
}

func validatePodResourceFieldSelector(rs *corev1.ResourceFieldSelector, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	allowed := []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"}
	switch {
	case rs.Resource == "":
		errs = append(errs, field.Required(fldPath.Child("resource"), ""))
	case !slices.Contains(allowed, rs.Resource) && !strings.HasPrefix(rs.Resource, "limits.hugepages-") && !strings.HasPrefix(rs.Resource, "requests.hugepages-"):
		errs = append(errs, field.NotSupported(fldPath.Child("resource"), rs.Resource, allowed))
	}
	if rs.Divisor.Sign() < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("divisor"), rs.Divisor.String(), "must be greater than or equal to 0"))
	}
	return errs
}

func validatePodEnvFrom(envFrom []corev1.EnvFromSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ef := range envFrom {
		p := fldPath.Index(i)
		if ef.Prefix != "" {
			for _, msg := range validation.IsRelaxedEnvVarName(ef.Prefix) {
				errs = append(errs, field.Invalid(p.Child("prefix"), ef.Prefix, msg))
			}
		}
		sources := 0
		for _, ref := range []struct {
			name string
			set  bool
			ref  string
		}{
			{"configMapRef", ef.ConfigMapRef != nil, podRefName(ef.ConfigMapRef)},
			{"secretRef", ef.SecretRef != nil, podSecretRefName(ef.SecretRef)},
		} {
			if !ref.set {
				continue
			}
			sources++
			np := p.Child(ref.name).Child("name")
			if ref.ref == "" {
				errs = append(errs, field.Required(np, ""))
				continue
			}
			for _, msg := range validation.IsDNS1123Subdomain(ref.ref) {
				errs = append(errs, field.Invalid(np, ref.ref, msg))
			}
		}
		switch {
		case sources == 0:
			errs = append(errs, field.Invalid(p, "", "must specify one of: `configMapRef` or `secretRef`"))
		case sources > 1:
			errs = append(errs, field.Invalid(p, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func podRefName(r *corev1.ConfigMapEnvSource) string {
	if r == nil {
		return ""
	}
	return r.Name
}

func podSecretRefName(r *corev1.SecretEnvSource) string {
	if r == nil {
		return ""
	}
	return r.Name
}

func validatePodVolumeMounts(mounts []corev1.VolumeMount, volumes map[string]bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := map[string]bool{}
	propagations := []corev1.MountPropagationMode{corev1.MountPropagationBidirectional, corev1.MountPropagationHostToContainer, corev1.MountPropagationNone}
	for i, m := range mounts {
		p := fldPath.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else if !volumes[m.Name] {
			errs = append(errs, field.NotFound(p.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(p.Child("mountPath"), ""))
		}
		if paths[m.MountPath] {
			errs = append(errs, field.Invalid(p.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths[m.MountPath] = true
		if m.SubPath != "" {
			errs = append(errs, validatePodRelativePath(m.SubPath, p.Child("subPath"))...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(p.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			errs = append(errs, validatePodRelativePath(m.SubPathExpr, p.Child("subPathExpr"))...)
		}
		if m.MountPropagation != nil && !slices.Contains(propagations, *m.MountPropagation) {
			errs = append(errs, field.NotSupported(p.Child("mountPropagation"), *m.MountPropagation, propagations))
		}
	}
	return errs
}

// validatePodRelativePath accepts relative paths that do not step out of
// their root ("a/b", not "/a" nor "../a").
func validatePodRelativePath(target string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(target) {
		errs = append(errs, field.Invalid(fldPath, target, "must be a relative path"))
	}
	for _, part := range strings.Split(target, "/") {
		if part == ".." {
			errs = append(errs, field.Invalid(fldPath, target, "must not contain '..'"))
			break
		}
	}
	return errs
}

// validatePodResources checks resource names, quantities and requests <= limits.
func validatePodResources(r *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := fldPath.Child("limits"), fldPath.Child("requests")
	for _, name := range slices.Sorted(maps.Keys(r.Limits)) {
		q := r.Limits[name]
		p := limPath.Key(string(name))
		errs = append(errs, validatePodResourceName(name, p)...)
		errs = append(errs, validatePodQuantity(name, q, p)...)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Requests)) {
		q := r.Requests[name]
		p := reqPath.Key(string(name))
		errs = append(errs, validatePodResourceName(name, p)...)
		errs = append(errs, validatePodQuantity(name, q, p)...)
		lim, hasLimit := r.Limits[name]
		switch {
		case hasLimit && q.Cmp(lim) > 0:
			errs = append(errs, field.Invalid(p, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		case !podOvercommittable(name) && hasLimit && q.Cmp(lim) != 0:
			errs = append(errs, field.Invalid(p, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, lim.String())))
		case !podOvercommittable(name) && !hasLimit:
			errs = append(errs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
		}
	}
	return errs
}

// podOvercommittable reports whether requests may be below limits:
// true for the native resources except hugepages.
func podOvercommittable(name corev1.ResourceName) bool {
	return podNativeResource(name) && !strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

func podNativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

func validatePodResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(string(name)) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	if len(errs) != 0 {
		return errs
	}
	switch {
	case !strings.Contains(string(name), "/"):
		switch {
		case name == corev1.ResourceCPU, name == corev1.ResourceMemory, name == corev1.ResourceEphemeralStorage,
			strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
		default:
			errs = append(errs, field.Invalid(fldPath, name, "must be a standard resource for containers"))
		}
	case !podNativeResource(name):
		if strings.HasPrefix(string(name), "requests.") {
			errs = append(errs, field.Invalid(fldPath, name, "doesn't follow extended resource name standard"))
		}
	}
	return errs
}

func validatePodQuantity(name corev1.ResourceName, q resource.Quantity, fldPath *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(fldPath, q.String(), "must be greater than or equal to 0")}
	}
	if !podNativeResource(name) && q.MilliValue()%1000 != 0 {
		return field.ErrorList{field.Invalid(fldPath, q.String(), "must be an integer")}
	}
	return nil
}

func validatePodContainerProbes(c *corev1.Container, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validatePodProbe(c.LivenessProbe, p.Child("livenessProbe"))...)
	errs = append(errs, validatePodProbe(c.ReadinessProbe, p.Child("readinessProbe"))...)
	errs = append(errs, validatePodProbe(c.StartupProbe, p.Child("startupProbe"))...)
	if c.LivenessProbe != nil && c.LivenessProbe.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("livenessProbe", "successThreshold"), c.LivenessProbe.SuccessThreshold, "must be 1"))
	}
	if c.StartupProbe != nil && c.StartupProbe.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("startupProbe", "successThreshold"), c.StartupProbe.SuccessThreshold, "must be 1"))
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.TerminationGracePeriodSeconds != nil {
		errs = append(errs, field.Invalid(p.Child("readinessProbe", "terminationGracePeriodSeconds"),
			*c.ReadinessProbe.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
	}
	return errs
}

func validatePodProbe(probe *corev1.Probe, fldPath *field.Path) field.ErrorList {
	if probe == nil {
		return nil
	}
	h := probe.ProbeHandler
	errs := validatePodHandler(h.Exec, h.HTTPGet, h.TCPSocket, h.GRPC, nil, fldPath)
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"initialDelaySeconds", probe.InitialDelaySeconds}, {"timeoutSeconds", probe.TimeoutSeconds},
		{"periodSeconds", probe.PeriodSeconds}, {"successThreshold", probe.SuccessThreshold},
		{"failureThreshold", probe.FailureThreshold},
	} {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(f.v), fldPath.Child(f.name))...)
	}
	if g := probe.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
	}
	return errs
}

func validatePodLifecycle(l *corev1.Lifecycle, fldPath *field.Path) field.ErrorList {
	if l == nil {
		return nil
	}
	var errs field.ErrorList
	for _, h := range []struct {
		name string
		h    *corev1.LifecycleHandler
	}{{"postStart", l.PostStart}, {"preStop", l.PreStop}} {
		if h.h != nil {
			errs = append(errs, validatePodHandler(h.h.Exec, h.h.HTTPGet, h.h.TCPSocket, nil, h.h.Sleep, fldPath.Child(h.name))...)
		}
	}
	return errs
}

// validatePodHandler checks a probe or lifecycle handler: exactly one
// action, each well-formed.
func validatePodHandler(exec *corev1.ExecAction, httpGet *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction,
	grpc *corev1.GRPCAction, sleep *corev1.SleepAction, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	handlers := 0
	more := func(name string) {
		handlers++
		if handlers > 1 {
			errs = append(errs, field.Forbidden(fldPath.Child(name), "may not specify more than 1 handler type"))
		}
	}
	if exec != nil {
		more("exec")
		if len(exec.Command) == 0 {
			errs = append(errs, field.Required(fldPath.Child("exec", "command"), ""))
		}
	}
	if httpGet != nil {
		more("httpGet")
		p := fldPath.Child("httpGet")
		if httpGet.Path == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		}
		errs = append(errs, validatePodPortNumOrName(httpGet.Port, p.Child("port"))...)
		if httpGet.Scheme != "" && !slices.Contains(podURISchemes, httpGet.Scheme) {
			errs = append(errs, field.NotSupported(p.Child("scheme"), httpGet.Scheme, podURISchemes))
		}
		for i, hdr := range httpGet.HTTPHeaders {
			for _, msg := range validation.IsHTTPHeaderName(hdr.Name) {
				errs = append(errs, field.Invalid(p.Child("httpHeaders").Index(i).Child("name"), hdr.Name, msg))
			}
		}
	}
	if tcp != nil {
		more("tcpSocket")
		errs = append(errs, validatePodPortNumOrName(tcp.Port, fldPath.Child("tcpSocket", "port"))...)
	}
	if grpc != nil {
		more("grpc")
		for _, msg := range validation.IsValidPortNum(int(grpc.Port)) {
			errs = append(errs, field.Invalid(fldPath.Child("grpc", "port"), grpc.Port, msg))
		}
	}
	if sleep != nil {
		more("sleep")
		if sleep.Seconds < 0 {
			errs = append(errs, field.Invalid(fldPath.Child("sleep", "seconds"), sleep.Seconds, "must be non-negative"))
		}
	}
	if handlers == 0 {
		errs = append(errs, field.Required(fldPath, "must specify a handler type"))
	}
	return errs
}

func validatePodPortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch port.Type {
	case intstr.Int:
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			errs = append(errs, field.Invalid(fldPath, port.IntValue(), msg))
		}
	case intstr.String:
		for _, msg := range validation.IsValidPortName(port.StrVal) {
			errs = append(errs, field.Invalid(fldPath, port.StrVal, msg))
		}
	}
	return errs
}

func validatePodSecurityContext(sc *corev1.PodSecurityContext, fldPath *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	errs = append(errs, validatePodID(sc.RunAsUser, fldPath.Child("runAsUser"))...)
	errs = append(errs, validatePodID(sc.RunAsGroup, fldPath.Child("runAsGroup"))...)
	errs = append(errs, validatePodID(sc.FSGroup, fldPath.Child("fsGroup"))...)
	for i, g := range sc.SupplementalGroups {
		errs = append(errs, validatePodID(&g, fldPath.Child("supplementalGroups").Index(i))...)
	}
	for i, s := range sc.Sysctls {
		if s.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("sysctls").Index(i).Child("name"), ""))
		}
	}
	return errs
}

func validatePodContainerSecurityContext(sc *corev1.SecurityContext, fldPath *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	errs = append(errs, validatePodID(sc.RunAsUser, fldPath.Child("runAsUser"))...)
	errs = append(errs, validatePodID(sc.RunAsGroup, fldPath.Child("runAsGroup"))...)
	if sc.Privileged != nil && *sc.Privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		errs = append(errs, field.Invalid(fldPath, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
	}
	return errs
}

func validatePodID(id *int64, fldPath *field.Path) field.ErrorList {
	if id == nil {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range validation.IsValidUserID(*id) {
		errs = append(errs, field.Invalid(fldPath, *id, msg))
	}
	return errs
}
