package podsecurity

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Violation is one failed check: Check is its upstream id
// ("allowPrivilegeEscalation"), Reason the short text every message shows
// ("allowPrivilegeEscalation != false"), Detail what exactly is wrong
// (`container "c" must set securityContext.allowPrivilegeEscalation=false`).
type Violation struct {
	Check  string
	Reason string
	Detail string
}

type check struct {
	id string
	fn func(meta *metav1.ObjectMeta, spec *corev1.PodSpec) (reason, detail string, ok bool)
}

// The checks in upstream's evaluation order: baseline checks, then either
// the baseline checks a restricted check replaces (for baseline) or the
// restricted checks (for restricted). The order fixes the message order.
var (
	baselineChecks = []check{
		{"appArmorProfile", checkAppArmor},
		{"hostNamespaces", checkHostNamespaces},
		{"hostPorts", checkHostPorts},
		{"hostProbesAndHostLifecycle", checkProbeHosts},
		{"privileged", checkPrivileged},
		{"procMount", checkProcMount},
		{"seLinuxOptions", checkSELinux},
		{"sysctls", checkSysctls},
		{"windowsHostProcess", checkHostProcess},
	}
	baselineOnlyChecks = []check{
		{"capabilities_baseline", checkCapabilitiesBaseline},
		{"hostPathVolumes", checkHostPathVolumes},
		{"seccompProfile_baseline", checkSeccompBaseline},
	}
	restrictedChecks = []check{
		{"allowPrivilegeEscalation", checkPrivilegeEscalation},
		{"capabilities_restricted", checkCapabilitiesRestricted},
		{"restrictedVolumes", checkRestrictedVolumes},
		{"runAsNonRoot", checkRunAsNonRoot},
		{"runAsUser", checkRunAsUser},
		{"seccompProfile_restricted", checkSeccompRestricted},
	}
)

// Evaluate returns the ways a pod (its metadata and spec, or a workload's
// pod template) breaks the given level of the Pod Security Standards, in
// upstream's order; nil means it complies. Privileged (and any unknown
// level) allows everything. It reads only its arguments.
func Evaluate(level Level, podMeta *metav1.ObjectMeta, spec *corev1.PodSpec) []Violation {
	if podMeta == nil {
		podMeta = &metav1.ObjectMeta{}
	}
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	var checks []check
	switch level {
	case Baseline:
		checks = append(slices.Clone(baselineChecks), baselineOnlyChecks...)
	case Restricted:
		checks = append(slices.Clone(baselineChecks), restrictedChecks...)
	default:
		return nil
	}
	var out []Violation
	for _, c := range checks {
		if reason, detail, ok := c.fn(podMeta, spec); !ok {
			out = append(out, Violation{Check: c.id, Reason: reason, Detail: detail})
		}
	}
	return out
}

// FormatViolations renders violations as upstream does in messages:
// "reason (detail), reason (detail)".
func FormatViolations(vs []Violation) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.Reason)
		if v.Detail != "" {
			b.WriteString(" (")
			b.WriteString(v.Detail)
			b.WriteString(")")
		}
	}
	return b.String()
}

// reasons renders only the reasons, as upstream's namespace warnings do.
func reasons(vs []Violation) string {
	rs := make([]string, len(vs))
	for i, v := range vs {
		rs[i] = v.Reason
	}
	return strings.Join(rs, ", ")
}

// visitContainers calls fn for init, regular and ephemeral containers, in
// that order.
func visitContainers(spec *corev1.PodSpec, fn func(c *corev1.Container)) {
	for i := range spec.InitContainers {
		fn(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		fn(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		fn((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
}

func joinQuote(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return `"` + strings.Join(items, `", "`) + `"`
}

func pluralize(singular, plural string, n int) string {
	if n == 1 {
		return singular
	}
	return plural
}

// containers renders `container "a"` or `containers "a", "b"`.
func containers(names []string) string {
	return pluralize("container", "containers", len(names)) + " " + joinQuote(names)
}

// sortedSet is a tiny string set that lists its members sorted.
type sortedSet map[string]struct{}

func (s sortedSet) add(v string) { s[v] = struct{}{} }

func (s sortedSet) list() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// setters joins "pod" (when the pod-level field is bad) with the bad
// containers: `pod and containers "a", "b"`.
func setters(pod bool, bad []string) string {
	var parts []string
	if pod {
		parts = append(parts, "pod")
	}
	if len(bad) > 0 {
		parts = append(parts, containers(bad))
	}
	return strings.Join(parts, " and ")
}
