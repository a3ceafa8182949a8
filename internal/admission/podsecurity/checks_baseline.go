package podsecurity

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Baseline checks: each returns ok, or the reason and detail of its
// violation. Messages follow upstream's wording.

const appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

func checkAppArmor(meta *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	var bad []string
	for k, v := range meta.Annotations {
		if !strings.HasPrefix(k, appArmorAnnotationPrefix) {
			continue
		}
		if v == "" || v == "runtime/default" || strings.HasPrefix(v, "localhost/") {
			continue
		}
		bad = append(bad, fmt.Sprintf("%s=%q", k, v))
	}
	slices.Sort(bad)
	unconfined := func(p *corev1.AppArmorProfile) bool {
		return p != nil && p.Type == corev1.AppArmorProfileTypeUnconfined
	}
	podBad := spec.SecurityContext != nil && unconfined(spec.SecurityContext.AppArmorProfile)
	var badContainers []string
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext != nil && unconfined(c.SecurityContext.AppArmorProfile) {
			badContainers = append(badContainers, c.Name)
		}
	})
	n := len(bad)
	if podBad || len(badContainers) > 0 {
		n++
		bad = append(bad, fmt.Sprintf("%s must not set securityContext.appArmorProfile.type to %q",
			setters(podBad, badContainers), corev1.AppArmorProfileTypeUnconfined))
	}
	if n == 0 {
		return "", "", true
	}
	return pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", n), strings.Join(bad, ", "), false
}

func checkHostNamespaces(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	var bad []string
	if spec.HostNetwork {
		bad = append(bad, "hostNetwork=true")
	}
	if spec.HostPID {
		bad = append(bad, "hostPID=true")
	}
	if spec.HostIPC {
		bad = append(bad, "hostIPC=true")
	}
	if len(bad) == 0 {
		return "", "", true
	}
	return "host namespaces", strings.Join(bad, ", "), false
}

func checkHostPorts(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	var badContainers []string
	ports := map[int32]struct{}{}
	visitContainers(spec, func(c *corev1.Container) {
		bad := false
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				bad = true
				ports[p.HostPort] = struct{}{}
			}
		}
		if bad {
			badContainers = append(badContainers, c.Name)
		}
	})
	if len(badContainers) == 0 {
		return "", "", true
	}
	// Upstream sorts the ports as strings.
	list := make(sortedSet)
	for p := range ports {
		list.add(strconv.Itoa(int(p)))
	}
	return "hostPort", fmt.Sprintf("%s %s %s %s",
		containers(badContainers),
		pluralize("uses", "use", len(badContainers)),
		pluralize("hostPort", "hostPorts", len(ports)),
		strings.Join(list.list(), ", ")), false
}

func checkProbeHosts(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	badContainers := make(sortedSet)
	hosts := make(sortedSet)
	handler := func(name string, h *corev1.HTTPGetAction, t *corev1.TCPSocketAction) {
		if h != nil && h.Host != "" {
			badContainers.add(name)
			hosts.add(h.Host)
		}
		if t != nil && t.Host != "" {
			badContainers.add(name)
			hosts.add(t.Host)
		}
	}
	visitContainers(spec, func(c *corev1.Container) {
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if p != nil {
				handler(c.Name, p.HTTPGet, p.TCPSocket)
			}
		}
		if c.Lifecycle != nil {
			for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
				if h != nil {
					handler(c.Name, h.HTTPGet, h.TCPSocket)
				}
			}
		}
	})
	if len(badContainers) == 0 {
		return "", "", true
	}
	return "probe or lifecycle host", fmt.Sprintf("%s %s %s %s",
		containers(badContainers.list()),
		pluralize("uses", "use", len(badContainers)),
		pluralize("probe or lifecycle host", "probe or lifecycle hosts", len(hosts)),
		joinQuote(hosts.list())), false
}

func checkPrivileged(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	var bad []string
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return "", "", true
	}
	return "privileged", containers(bad) + " must not set securityContext.privileged=true", false
}

func checkProcMount(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	var bad []string
	types := make(sortedSet)
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.ProcMount == nil {
			return
		}
		if t := *c.SecurityContext.ProcMount; t != corev1.DefaultProcMount {
			bad = append(bad, c.Name)
			types.add(string(t))
		}
	})
	if len(bad) == 0 {
		return "", "", true
	}
	return "procMount", fmt.Sprintf("%s must not set securityContext.procMount to %s",
		containers(bad), joinQuote(types.list())), false
}

var seLinuxAllowedTypes = []string{"", "container_t", "container_init_t", "container_kvm_t"}

func checkSELinux(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	badTypes := make(sortedSet)
	setUser, setRole := false, false
	valid := func(o *corev1.SELinuxOptions) bool {
		ok := true
		if !slices.Contains(seLinuxAllowedTypes, o.Type) {
			ok = false
			badTypes.add(o.Type)
		}
		if o.User != "" {
			ok = false
			setUser = true
		}
		if o.Role != "" {
			ok = false
			setRole = true
		}
		return ok
	}
	podBad := spec.SecurityContext != nil && spec.SecurityContext.SELinuxOptions != nil &&
		!valid(spec.SecurityContext.SELinuxOptions)
	var bad []string
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext != nil && c.SecurityContext.SELinuxOptions != nil && !valid(c.SecurityContext.SELinuxOptions) {
			bad = append(bad, c.Name)
		}
	})
	if !podBad && len(bad) == 0 {
		return "", "", true
	}
	var what []string
	if len(badTypes) > 0 {
		what = append(what, pluralize("type", "types", len(badTypes))+" "+joinQuote(badTypes.list()))
	}
	if setUser {
		what = append(what, "user may not be set")
	}
	if setRole {
		what = append(what, "role may not be set")
	}
	return "seLinuxOptions", fmt.Sprintf("%s set forbidden securityContext.seLinuxOptions: %s",
		setters(podBad, bad), strings.Join(what, "; ")), false
}

// safeSysctls is upstream's allowed set at the latest policy version.
var safeSysctls = []string{
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ping_group_range",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.tcp_wmem",
}

func checkSysctls(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	if spec.SecurityContext == nil {
		return "", "", true
	}
	var bad []string
	for _, s := range spec.SecurityContext.Sysctls {
		if !slices.Contains(safeSysctls, s.Name) {
			bad = append(bad, s.Name)
		}
	}
	if len(bad) == 0 {
		return "", "", true
	}
	return "forbidden sysctls", strings.Join(bad, ", "), false
}

func checkHostProcess(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	hostProcess := func(o *corev1.WindowsSecurityContextOptions) bool {
		return o != nil && o.HostProcess != nil && *o.HostProcess
	}
	var bad []string
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext != nil && hostProcess(c.SecurityContext.WindowsOptions) {
			bad = append(bad, c.Name)
		}
	})
	podBad := spec.SecurityContext != nil && hostProcess(spec.SecurityContext.WindowsOptions)
	if !podBad && len(bad) == 0 {
		return "", "", true
	}
	return "hostProcess", setters(podBad, bad) + " must not set securityContext.windowsOptions.hostProcess=true", false
}

// Baseline checks that restricted replaces with stricter ones.

var baselineCapabilities = []string{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

func checkCapabilitiesBaseline(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	var bad []string
	caps := make(sortedSet)
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
			return
		}
		ok := true
		for _, cp := range c.SecurityContext.Capabilities.Add {
			if !slices.Contains(baselineCapabilities, string(cp)) {
				ok = false
				caps.add(string(cp))
			}
		}
		if !ok {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return "", "", true
	}
	return "non-default capabilities", fmt.Sprintf("%s must not include %s in securityContext.capabilities.add",
		containers(bad), joinQuote(caps.list())), false
}

func checkHostPathVolumes(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	var bad []string
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			bad = append(bad, v.Name)
		}
	}
	if len(bad) == 0 {
		return "", "", true
	}
	return "hostPath volumes", pluralize("volume", "volumes", len(bad)) + " " + joinQuote(bad), false
}

func validSeccomp(t corev1.SeccompProfileType) bool {
	return t == corev1.SeccompProfileTypeRuntimeDefault || t == corev1.SeccompProfileTypeLocalhost
}

// seccompViolations collects the pod and containers that set a seccomp
// type other than RuntimeDefault or Localhost, and the containers that
// set nothing.
func seccompViolations(spec *corev1.PodSpec) (podBad, podValid bool, bad, unset []string, values sortedSet) {
	values = make(sortedSet)
	if spec.SecurityContext != nil && spec.SecurityContext.SeccompProfile != nil {
		if t := spec.SecurityContext.SeccompProfile.Type; validSeccomp(t) {
			podValid = true
		} else {
			podBad = true
			values.add(string(t))
		}
	}
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.SeccompProfile == nil {
			unset = append(unset, c.Name)
			return
		}
		if t := c.SecurityContext.SeccompProfile.Type; !validSeccomp(t) {
			bad = append(bad, c.Name)
			values.add(string(t))
		}
	})
	return podBad, podValid, bad, unset, values
}

func checkSeccompBaseline(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	podBad, _, bad, _, values := seccompViolations(spec)
	if !podBad && len(bad) == 0 {
		return "", "", true
	}
	return "seccompProfile", fmt.Sprintf("%s must not set securityContext.seccompProfile.type to %s",
		setters(podBad, bad), joinQuote(values.list())), false
}
