package podsecurity

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// restrictedPod complies with every level.
func restrictedPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   new(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:  "c",
				Image: "busybox",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: new(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x"}}},
				{Name: "pvc", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "x"}}},
			},
		},
	}
}

// sc returns the first container's security context.
func sc(p *corev1.Pod) *corev1.SecurityContext { return p.Spec.Containers[0].SecurityContext }

func TestEvaluateEachCheck(t *testing.T) {
	tests := []struct {
		name   string
		level  Level
		modify func(p *corev1.Pod)
		want   []Violation // nil: complies
	}{
		{name: "restricted pod complies with restricted", level: Restricted, modify: func(*corev1.Pod) {}},
		{name: "privileged allows anything", level: Privileged, modify: func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			sc(p).Privileged = new(true)
		}},
		{name: "empty pod complies with baseline", level: Baseline, modify: func(p *corev1.Pod) {
			p.Spec = corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}
		}},
		{name: "hostProcess pod and container", level: Baseline, modify: func(p *corev1.Pod) {
			p.Spec.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: new(true)}
			sc(p).WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: new(true)}
		}, want: []Violation{{"windowsHostProcess", "hostProcess", `pod and container "c" must not set securityContext.windowsOptions.hostProcess=true`}}},
		{name: "host namespaces", level: Baseline, modify: func(p *corev1.Pod) {
			p.Spec.HostIPC, p.Spec.HostNetwork, p.Spec.HostPID = true, true, true
		}, want: []Violation{{"hostNamespaces", "host namespaces", "hostNetwork=true, hostPID=true, hostIPC=true"}}},
		{name: "privileged container", level: Baseline, modify: func(p *corev1.Pod) {
			sc(p).Privileged = new(true)
		}, want: []Violation{{"privileged", "privileged", `container "c" must not set securityContext.privileged=true`}}},
		{name: "baseline capabilities", level: Baseline, modify: func(p *corev1.Pod) {
			sc(p).Capabilities.Add = []corev1.Capability{"NET_RAW", "CHOWN", "SYS_ADMIN"}
		}, want: []Violation{{"capabilities_baseline", "non-default capabilities", `container "c" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add`}}},
		{name: "default capabilities are baseline", level: Baseline, modify: func(p *corev1.Pod) {
			sc(p).Capabilities.Add = []corev1.Capability{"CHOWN", "KILL", "NET_BIND_SERVICE"}
		}},
		{name: "hostPath volume at baseline", level: Baseline, modify: func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
		}, want: []Violation{{"hostPathVolumes", "hostPath volumes", `volume "h"`}}},
		{name: "host ports", level: Baseline, modify: func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "d"})
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
			p.Spec.Containers[1].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 443}, {ContainerPort: 81}}
		}, want: []Violation{{"hostPorts", "hostPort", `containers "c", "d" use hostPorts 443, 8080`}}},
		{name: "apparmor annotation and field", level: Baseline, modify: func(p *corev1.Pod) {
			p.Annotations = map[string]string{
				"container.apparmor.security.beta.kubernetes.io/c": "unconfined",
				"container.apparmor.security.beta.kubernetes.io/d": "localhost/x",
			}
			sc(p).AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
		}, want: []Violation{{"appArmorProfile", "forbidden AppArmor profiles",
			`container.apparmor.security.beta.kubernetes.io/c="unconfined", container "c" must not set securityContext.appArmorProfile.type to "Unconfined"`}}},
		{name: "apparmor runtime default", level: Restricted, modify: func(p *corev1.Pod) {
			p.Spec.SecurityContext.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
		}},
		{name: "selinux", level: Baseline, modify: func(p *corev1.Pod) {
			p.Spec.SecurityContext.SELinuxOptions = &corev1.SELinuxOptions{Type: "spc_t", User: "root"}
			sc(p).SELinuxOptions = &corev1.SELinuxOptions{Type: "container_t", Level: "s0:c1"}
		}, want: []Violation{{"seLinuxOptions", "seLinuxOptions", `pod set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set`}}},
		{name: "selinux allowed types and level", level: Baseline, modify: func(p *corev1.Pod) {
			sc(p).SELinuxOptions = &corev1.SELinuxOptions{Type: "container_init_t", Level: "s0:c1"}
		}},
		{name: "proc mount", level: Baseline, modify: func(p *corev1.Pod) {
			sc(p).ProcMount = new(corev1.UnmaskedProcMount)
		}, want: []Violation{{"procMount", "procMount", `container "c" must not set securityContext.procMount to "Unmasked"`}}},
		{name: "seccomp unconfined at baseline", level: Baseline, modify: func(p *corev1.Pod) {
			sc(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, want: []Violation{{"seccompProfile_baseline", "seccompProfile", `container "c" must not set securityContext.seccompProfile.type to "Unconfined"`}}},
		{name: "sysctls", level: Baseline, modify: func(p *corev1.Pod) {
			p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "kernel.msgmax"}, {Name: "net.ipv4.tcp_syncookies"}, {Name: "net.core.somaxconn"}}
		}, want: []Violation{{"sysctls", "forbidden sysctls", "kernel.msgmax, net.core.somaxconn"}}},
		{name: "probe host", level: Baseline, modify: func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: "10.0.0.1"}}}
		}, want: []Violation{{"hostProbesAndHostLifecycle", "probe or lifecycle host", `container "c" uses probe or lifecycle host "10.0.0.1"`}}},
		{name: "allowPrivilegeEscalation", level: Restricted, modify: func(p *corev1.Pod) {
			sc(p).AllowPrivilegeEscalation = nil
			p.Spec.InitContainers = []corev1.Container{{Name: "i", SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: new(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}}
		}, want: []Violation{{"allowPrivilegeEscalation", "allowPrivilegeEscalation != false", `containers "i", "c" must set securityContext.allowPrivilegeEscalation=false`}}},
		{name: "restricted capabilities", level: Restricted, modify: func(p *corev1.Pod) {
			sc(p).Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE", "CHOWN"}}
		}, want: []Violation{{"capabilities_restricted", "unrestricted capabilities",
			`container "c" must set securityContext.capabilities.drop=["ALL"]; container "c" must not include "CHOWN" in securityContext.capabilities.add`}}},
		{name: "NET_BIND_SERVICE is restricted", level: Restricted, modify: func(p *corev1.Pod) {
			sc(p).Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE"}
		}},
		{name: "restricted volume types", level: Restricted, modify: func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes,
				corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}},
				corev1.Volume{Name: "n", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "/"}}})
		}, want: []Violation{{"restrictedVolumes", "restricted volume types", `volumes "h", "n" use restricted volume types "hostPath", "nfs"`}}},
		{name: "runAsNonRoot unset", level: Restricted, modify: func(p *corev1.Pod) {
			p.Spec.SecurityContext.RunAsNonRoot = nil
		}, want: []Violation{{"runAsNonRoot", "runAsNonRoot != true", `pod or container "c" must set securityContext.runAsNonRoot=true`}}},
		{name: "runAsNonRoot set on container only", level: Restricted, modify: func(p *corev1.Pod) {
			p.Spec.SecurityContext.RunAsNonRoot = nil
			sc(p).RunAsNonRoot = new(true)
		}},
		{name: "runAsNonRoot false", level: Restricted, modify: func(p *corev1.Pod) {
			sc(p).RunAsNonRoot = new(false)
		}, want: []Violation{{"runAsNonRoot", "runAsNonRoot != true", `container "c" must not set securityContext.runAsNonRoot=false`}}},
		{name: "runAsUser 0", level: Restricted, modify: func(p *corev1.Pod) {
			p.Spec.SecurityContext.RunAsUser = new(int64(0))
			sc(p).RunAsUser = new(int64(1000))
		}, want: []Violation{{"runAsUser", "runAsUser=0", "pod must not set runAsUser=0"}}},
		{name: "seccomp unset at restricted", level: Restricted, modify: func(p *corev1.Pod) {
			p.Spec.SecurityContext.SeccompProfile = nil
		}, want: []Violation{{"seccompProfile_restricted", "seccompProfile", `pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`}}},
		{name: "seccomp localhost on container", level: Restricted, modify: func(p *corev1.Pod) {
			p.Spec.SecurityContext.SeccompProfile = nil
			sc(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: new("x.json")}
		}},
		{name: "seccomp unconfined pod at restricted", level: Restricted, modify: func(p *corev1.Pod) {
			p.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, want: []Violation{{"seccompProfile_restricted", "seccompProfile", `pod must not set securityContext.seccompProfile.type to "Unconfined"`}}},
		{name: "ephemeral containers are checked", level: Baseline, modify: func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", SecurityContext: &corev1.SecurityContext{Privileged: new(true)}}}}
		}, want: []Violation{{"privileged", "privileged", `container "debug" must not set securityContext.privileged=true`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := restrictedPod()
			tt.modify(p)
			got := Evaluate(tt.level, &p.ObjectMeta, &p.Spec)
			if len(got) != len(tt.want) {
				t.Fatalf("Evaluate = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("violation %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestEvaluateLevels checks that one pod gets each level's checks, in
// upstream's order, and that restricted replaces the overlapping baseline
// checks.
func TestEvaluateLevels(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{
		HostNetwork: true,
		Containers: []corev1.Container{{Name: "c", SecurityContext: &corev1.SecurityContext{
			Privileged:   new(true),
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}},
		}}},
		Volumes: []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
	}}
	ids := func(vs []Violation) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.Check)
		}
		return out
	}
	tests := []struct {
		level Level
		want  []string
	}{
		{Privileged, nil},
		{Level("bogus"), nil},
		{Baseline, []string{"hostNamespaces", "privileged", "capabilities_baseline", "hostPathVolumes"}},
		{Restricted, []string{"hostNamespaces", "privileged", "allowPrivilegeEscalation", "capabilities_restricted",
			"restrictedVolumes", "runAsNonRoot", "seccompProfile_restricted"}},
	}
	for _, tt := range tests {
		got := ids(Evaluate(tt.level, &p.ObjectMeta, &p.Spec))
		if len(got) != len(tt.want) {
			t.Errorf("%s: checks %v, want %v", tt.level, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: checks %v, want %v", tt.level, got, tt.want)
				break
			}
		}
	}
}

func TestEvaluateNilInputs(t *testing.T) {
	if got := Evaluate(Restricted, nil, nil); got != nil {
		t.Errorf("Evaluate(nil, nil) = %v, want nil", got)
	}
}

func TestFormatViolations(t *testing.T) {
	got := FormatViolations([]Violation{{Reason: "a", Detail: "x"}, {Reason: "b"}, {Reason: "c", Detail: "y"}})
	if want := "a (x), b, c (y)"; got != want {
		t.Errorf("FormatViolations = %q, want %q", got, want)
	}
}
