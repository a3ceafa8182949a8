package registry

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// coreTestErrs renders errors as sorted "path: type" strings.
func coreTestErrs(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Field+": "+e.Type.String())
	}
	slices.Sort(out)
	return out
}

// coreTestCheckErrs fails unless errs have exactly the wanted paths and types.
func coreTestCheckErrs(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	got := coreTestErrs(errs)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("errors = %q, want %q\nfull: %v", got, want, errs.ToAggregate())
	}
}

// podTestPod returns a defaulted, valid pod changed by mutate (applied
// before defaulting when pre is true).
func podTestPod(mutate func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}},
		},
	}
	defaultPod(pod)
	if mutate != nil {
		mutate(pod)
	}
	return pod
}

func TestPodDefaults(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "app", Image: "nginx",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}},
			Env: []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
		}},
		Volumes: []corev1.Volume{
			{Name: "scratch"},
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
		},
	}}
	defaultPod(pod)
	spec := pod.Spec
	c := spec.Containers[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"restartPolicy", spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", spec.DNSPolicy, corev1.DNSClusterFirst},
		{"schedulerName", spec.SchedulerName, "default-scheduler"},
		{"terminationGracePeriodSeconds", *spec.TerminationGracePeriodSeconds, int64(30)},
		{"securityContext set", spec.SecurityContext != nil, true},
		{"enableServiceLinks", *spec.EnableServiceLinks, true},
		{"imagePullPolicy", c.ImagePullPolicy, corev1.PullAlways},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"port protocol", c.Ports[0].Protocol, corev1.ProtocolTCP},
		{"fieldRef apiVersion", c.Env[0].ValueFrom.FieldRef.APIVersion, "v1"},
		{"cpu request from limit", c.Resources.Requests.Cpu().String(), "500m"},
		{"memory request from limit", c.Resources.Requests.Memory().String(), "128Mi"},
		{"probe timeout", c.LivenessProbe.TimeoutSeconds, int32(1)},
		{"probe period", c.LivenessProbe.PeriodSeconds, int32(10)},
		{"probe success", c.LivenessProbe.SuccessThreshold, int32(1)},
		{"probe failure", c.LivenessProbe.FailureThreshold, int32(3)},
		{"probe scheme", c.LivenessProbe.HTTPGet.Scheme, corev1.URISchemeHTTP},
		{"probe path", c.LivenessProbe.HTTPGet.Path, "/"},
		{"emptyDir default", spec.Volumes[0].EmptyDir != nil, true},
		{"configMap mode", *spec.Volumes[1].ConfigMap.DefaultMode, int32(420)},
		{"hostPath type", *spec.Volumes[2].HostPath.Type, corev1.HostPathUnset},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if err := validatePod(pod).ToAggregate(); err != nil {
		t.Errorf("defaulted pod is invalid: %v", err)
	}
}

func TestPodTemplateDefaultsStayTemplateOnly(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "app", Image: "nginx:1.27",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
	}}}}
	defaultPodTemplateSpec(tmpl)
	if tmpl.Spec.EnableServiceLinks != nil {
		t.Errorf("template got enableServiceLinks; upstream sets it on pods only")
	}
	if tmpl.Spec.Containers[0].Resources.Requests != nil {
		t.Errorf("template got requests from limits; upstream does that on pods only")
	}
	if tmpl.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy = %q, want IfNotPresent", tmpl.Spec.Containers[0].ImagePullPolicy)
	}
}

func TestPodImagePullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                      corev1.PullAlways,
		"nginx:latest":               corev1.PullAlways,
		"nginx:1.27":                 corev1.PullIfNotPresent,
		"localhost:5000/app":         corev1.PullAlways,
		"localhost:5000/app:v1":      corev1.PullIfNotPresent,
		"nginx@sha256:0123456789abc": corev1.PullIfNotPresent,
		"nginx:latest@sha256:0123":   corev1.PullAlways,
		"":                           corev1.PullIfNotPresent,
	} {
		if got := podImagePullPolicy(image); got != want {
			t.Errorf("podImagePullPolicy(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestPodSpecValidation(t *testing.T) {
	ctr := func(p *corev1.Pod) *corev1.Container { return &p.Spec.Containers[0] }
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"valid", nil, nil},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, []string{"spec.containers: Required value"}},
		{"container name missing", func(p *corev1.Pod) { ctr(p).Name = "" }, []string{"spec.containers[0].name: Required value"}},
		{"container name invalid", func(p *corev1.Pod) { ctr(p).Name = "App_1" }, []string{"spec.containers[0].name: Invalid value"}},
		{"duplicate container names", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, *ctr(p))
		}, []string{"spec.containers[1].name: Duplicate value"}},
		{"init container shares a name", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{*ctr(p)}
		}, []string{"spec.initContainers[0].name: Duplicate value"}},
		{"image missing", func(p *corev1.Pod) { ctr(p).Image = "" }, []string{"spec.containers[0].image: Required value"}},
		{"image with spaces", func(p *corev1.Pod) { ctr(p).Image = " nginx" }, []string{"spec.containers[0].image: Invalid value"}},
		{"pull policy", func(p *corev1.Pod) { ctr(p).ImagePullPolicy = "Sometimes" }, []string{"spec.containers[0].imagePullPolicy: Unsupported value"}},
		{"restart policy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, []string{"spec.restartPolicy: Unsupported value"}},
		{"dns policy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }, []string{"spec.dnsPolicy: Unsupported value"}},
		{"dns none needs config", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, []string{"spec.dnsConfig: Required value"}},
		{"container port zero", func(p *corev1.Pod) {
			ctr(p).Ports = []corev1.ContainerPort{{ContainerPort: 0, Protocol: corev1.ProtocolTCP}}
		}, []string{"spec.containers[0].ports[0].containerPort: Required value"}},
		{"container port range", func(p *corev1.Pod) {
			ctr(p).Ports = []corev1.ContainerPort{{ContainerPort: 70000, Protocol: corev1.ProtocolTCP}}
		}, []string{"spec.containers[0].ports[0].containerPort: Invalid value"}},
		{"container port name", func(p *corev1.Pod) {
			ctr(p).Ports = []corev1.ContainerPort{{Name: "way-too-long-name", ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
		}, []string{"spec.containers[0].ports[0].name: Invalid value"}},
		{"duplicate port names", func(p *corev1.Pod) {
			ctr(p).Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP},
				{Name: "http", ContainerPort: 81, Protocol: corev1.ProtocolTCP}}
		}, []string{"spec.containers[0].ports[1].name: Duplicate value"}},
		{"port protocol", func(p *corev1.Pod) {
			ctr(p).Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: "HTTP"}}
		}, []string{"spec.containers[0].ports[0].protocol: Unsupported value"}},
		{"host port conflict", func(p *corev1.Pod) {
			c2 := *ctr(p)
			c2.Name = "other"
			ctr(p).Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolTCP}}
			c2.Ports = []corev1.ContainerPort{{ContainerPort: 81, HostPort: 8080, Protocol: corev1.ProtocolTCP}}
			p.Spec.Containers = append(p.Spec.Containers, c2)
		}, []string{"spec.containers[1].ports[0].hostPort: Duplicate value"}},
		{"env name", func(p *corev1.Pod) { ctr(p).Env = []corev1.EnvVar{{Name: "A=B"}} }, []string{"spec.containers[0].env[0].name: Invalid value"}},
		{"env name missing", func(p *corev1.Pod) { ctr(p).Env = []corev1.EnvVar{{Value: "x"}} }, []string{"spec.containers[0].env[0].name: Required value"}},
		{"env value and valueFrom", func(p *corev1.Pod) {
			ctr(p).Env = []corev1.EnvVar{{Name: "A", Value: "x", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}}}
		}, []string{"spec.containers[0].env[0].valueFrom: Invalid value"}},
		{"env fieldRef unsupported", func(p *corev1.Pod) {
			ctr(p).Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.containers"}}}}
		}, []string{"spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value"}},
		{"env fieldRef label subscript", func(p *corev1.Pod) {
			ctr(p).Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['app']"}}}}
		}, nil},
		{"env configMapKeyRef key missing", func(p *corev1.Pod) {
			ctr(p).Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}}}
		}, []string{"spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Required value"}},
		{"envFrom without source", func(p *corev1.Pod) { ctr(p).EnvFrom = []corev1.EnvFromSource{{}} }, []string{"spec.containers[0].envFrom[0]: Invalid value"}},
		{"volume mount unknown volume", func(p *corev1.Pod) {
			ctr(p).VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, []string{"spec.containers[0].volumeMounts[0].name: Not found"}},
		{"volume mount path missing and duplicated", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			ctr(p).VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/d"}, {Name: "data", MountPath: "/d"}, {Name: "data"}}
		}, []string{"spec.containers[0].volumeMounts[1].mountPath: Invalid value", "spec.containers[0].volumeMounts[2].mountPath: Required value"}},
		{"subPath escapes", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			ctr(p).VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/d", SubPath: "../etc"}}
		}, []string{"spec.containers[0].volumeMounts[0].subPath: Invalid value"}},
		{"volume name invalid and duplicate", func(p *corev1.Pod) {
			src := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
			p.Spec.Volumes = []corev1.Volume{{Name: "Data", VolumeSource: src}, {Name: "a", VolumeSource: src}, {Name: "a", VolumeSource: src}}
		}, []string{"spec.volumes[0].name: Invalid value", "spec.volumes[2].name: Duplicate value"}},
		{"volume without type", func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: "a"}} }, []string{"spec.volumes[0]: Required value"}},
		{"volume with two types", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}
		}, []string{"spec.volumes[0]: Forbidden"}},
		{"secret volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				DefaultMode: new(int32(01000)), Items: []corev1.KeyToPath{{Key: "k", Path: "/abs"}}}}}}
		}, []string{"spec.volumes[0].secret.secretName: Required value", "spec.volumes[0].secret.defaultMode: Invalid value",
			"spec.volumes[0].secret.items[0].path: Invalid value"}},
		{"pvc volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{}}}}
		}, []string{"spec.volumes[0].persistentVolumeClaim.claimName: Required value"}},
		{"requests above limits", func(p *corev1.Pod) {
			ctr(p).Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			}
		}, []string{"spec.containers[0].resources.requests[cpu]: Invalid value"}},
		{"negative request", func(p *corev1.Pod) {
			ctr(p).Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1")}}
		}, []string{"spec.containers[0].resources.requests[memory]: Invalid value"}},
		{"unknown resource", func(p *corev1.Pod) {
			ctr(p).Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{"gpu": resource.MustParse("1")}}
		}, []string{"spec.containers[0].resources.limits[gpu]: Invalid value"}},
		{"extended resource needs equal limit", func(p *corev1.Pod) {
			ctr(p).Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}}
		}, []string{"spec.containers[0].resources.limits: Required value"}},
		{"probe without handler", func(p *corev1.Pod) {
			ctr(p).LivenessProbe = &corev1.Probe{SuccessThreshold: 1}
		}, []string{"spec.containers[0].livenessProbe: Required value"}},
		{"probe two handlers and bad port", func(p *corev1.Pod) {
			ctr(p).ReadinessProbe = &corev1.Probe{SuccessThreshold: 1, ProbeHandler: corev1.ProbeHandler{
				HTTPGet:   &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(0)},
				TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")},
			}}
		}, []string{"spec.containers[0].readinessProbe.httpGet.port: Invalid value", "spec.containers[0].readinessProbe.tcpSocket: Forbidden"}},
		{"liveness success threshold", func(p *corev1.Pod) {
			ctr(p).LivenessProbe = &corev1.Probe{SuccessThreshold: 2, ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		}, []string{"spec.containers[0].livenessProbe.successThreshold: Invalid value"}},
		{"probe on plain init container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", ImagePullPolicy: corev1.PullAlways,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				ReadinessProbe:           &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, []string{"spec.initContainers[0].readinessProbe: Forbidden"}},
		{"sidecar init container may probe", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", ImagePullPolicy: corev1.PullAlways,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile, RestartPolicy: new(corev1.ContainerRestartPolicyAlways),
				ReadinessProbe: &corev1.Probe{SuccessThreshold: 1, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, nil},
		{"restartPolicy on regular container", func(p *corev1.Pod) {
			ctr(p).RestartPolicy = new(corev1.ContainerRestartPolicyAlways)
		}, []string{"spec.containers[0].restartPolicy: Forbidden"}},
		{"tolerations", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{
				{Operator: corev1.TolerationOpEqual, Value: "x"},
				{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"},
				{Key: "k", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: new(int64(5))},
				{Key: "k", Operator: "Maybe"},
				{Key: "k", Effect: "Sometimes"},
				{Operator: corev1.TolerationOpExists},
			}
		}, []string{"spec.tolerations[0].operator: Invalid value", "spec.tolerations[1].operator: Invalid value",
			"spec.tolerations[2].effect: Invalid value", "spec.tolerations[3].operator: Unsupported value",
			"spec.tolerations[4].effect: Unsupported value"}},
		{"nodeSelector label", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"bad key!": "x"} }, []string{"spec.nodeSelector: Invalid value"}},
		{"names of refs", func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = "Bad_SA"
			p.Spec.NodeName = "Node_1"
			p.Spec.Hostname = "a.b"
		}, []string{"spec.serviceAccountName: Invalid value", "spec.nodeName: Invalid value", "spec.hostname: Invalid value"}},
		{"activeDeadlineSeconds", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(0)) }, []string{"spec.activeDeadlineSeconds: Invalid value"}},
		{"hostNetwork port mismatch", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			ctr(p).Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 81, Protocol: corev1.ProtocolTCP}}
		}, []string{"spec.containers[0].ports[0].containerPort: Invalid value"}},
		{"affinity", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{
				NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
						{Key: "zone", Operator: corev1.NodeSelectorOpIn}}}}}},
				PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}},
			}
		}, []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value",
			"spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value"}},
		{"topology spread", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, WhenUnsatisfiable: "Never"}}
		}, []string{"spec.topologySpreadConstraints[0].maxSkew: Invalid value", "spec.topologySpreadConstraints[0].topologyKey: Required value",
			"spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value"}},
		{"ephemeral containers on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{}}
		}, []string{"spec.ephemeralContainers: Forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			coreTestCheckErrs(t, validatePod(podTestPod(tt.mutate)), tt.want)
		})
	}
}

func TestPodValidationMessages(t *testing.T) {
	pod := podTestPod(func(p *corev1.Pod) {
		p.Spec.Containers = []corev1.Container{{Image: "nginx", ImagePullPolicy: corev1.PullAlways,
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			}}}
	})
	got := validatePod(pod).ToAggregate().Error()
	for _, want := range []string{
		"spec.containers[0].name: Required value",
		`spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q lack %q", got, want)
		}
	}
}

func TestPodTemplateValidation(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "bad value!"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	defaultPodTemplateSpec(tmpl)
	coreTestCheckErrs(t, validatePodTemplateSpec(tmpl, field.NewPath("spec", "template")),
		[]string{"spec.template.metadata.labels: Invalid value"})
}

func TestPodUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"nothing changed", nil, nil},
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }, nil},
		{"labels are metadata", func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }, nil},
		{"activeDeadlineSeconds lowered", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(50)) }, nil},
		{"activeDeadlineSeconds raised", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(200)) },
			[]string{"spec.activeDeadlineSeconds: Invalid value"}},
		{"activeDeadlineSeconds unset", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil },
			[]string{"spec.activeDeadlineSeconds: Invalid value"}},
		{"toleration added", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "b", Operator: corev1.TolerationOpExists})
		}, nil},
		{"toleration removed", func(p *corev1.Pod) { p.Spec.Tolerations = nil }, []string{"spec.tolerations: Forbidden"}},
		{"container port", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
		}, []string{"spec: Forbidden"}},
		{"container added", func(p *corev1.Pod) {
			c := p.Spec.Containers[0]
			c.Name = "second"
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, []string{"spec.containers: Forbidden"}},
		{"nodeName", func(p *corev1.Pod) { p.Spec.NodeName = "node-2" }, []string{"spec: Forbidden"}},
		{"scheduling gate removed", func(p *corev1.Pod) { p.Spec.SchedulingGates = nil }, nil},
		{"scheduling gate added", func(p *corev1.Pod) {
			p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: "example.com/other"})
		}, []string{"spec.schedulingGates[1]: Forbidden"}},
	}
	base := func(p *corev1.Pod) {
		p.Spec.ActiveDeadlineSeconds = new(int64(100))
		p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}}
		p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/gate"}}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := podTestPod(base)
			pod := old.DeepCopy()
			if tt.mutate != nil {
				tt.mutate(pod)
			}
			coreTestCheckErrs(t, validatePodUpdate(pod, old), tt.want)
		})
	}
}

func TestPodUpdateMessage(t *testing.T) {
	old := podTestPod(nil)
	pod := old.DeepCopy()
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	errs := validatePodUpdate(pod, old)
	if len(errs) != 1 {
		t.Fatalf("errors = %v, want one", errs)
	}
	got := errs[0].Error()
	if !strings.HasPrefix(got, "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`") ||
		!strings.Contains(got, "spec.restartPolicy") {
		t.Errorf("message = %q", got)
	}
}

func TestPodPrepareForCreate(t *testing.T) {
	r := podResource()
	pod := podTestPod(func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP = "10.0.0.1"
	})
	r.PrepareForCreate(pod)
	if pod.Status.Phase != corev1.PodPending || pod.Status.PodIP != "" || pod.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status = %+v, want Pending, no IP, BestEffort", pod.Status)
	}
}

func TestPodQOSClass(t *testing.T) {
	res := func(req, lim string) corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{}
		if req != "" {
			r.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req), corev1.ResourceMemory: resource.MustParse("64Mi")}
		}
		if lim != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim), corev1.ResourceMemory: resource.MustParse("64Mi")}
		}
		return r
	}
	tests := []struct {
		name string
		ctrs []corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{"nothing", []corev1.ResourceRequirements{{}}, corev1.PodQOSBestEffort},
		{"only other resources", []corev1.ResourceRequirements{{Requests: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}}}, corev1.PodQOSBestEffort},
		{"requests only", []corev1.ResourceRequirements{res("100m", "")}, corev1.PodQOSBurstable},
		{"equal", []corev1.ResourceRequirements{res("100m", "100m")}, corev1.PodQOSGuaranteed},
		{"limits only (defaulted requests)", []corev1.ResourceRequirements{res("", "100m")}, corev1.PodQOSGuaranteed},
		{"requests below limits", []corev1.ResourceRequirements{res("50m", "100m")}, corev1.PodQOSBurstable},
		{"one container without limits", []corev1.ResourceRequirements{res("100m", "100m"), {}}, corev1.PodQOSBurstable},
		{"only cpu limit", []corev1.ResourceRequirements{{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}, corev1.PodQOSBurstable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{}
			for i, r := range tt.ctrs {
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: string(rune('a' + i)), Image: "x", Resources: r})
			}
			defaultPod(pod)
			if got := podQOSClass(&pod.Spec); got != tt.want {
				t.Errorf("qos = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPodFields(t *testing.T) {
	pod := podTestPod(func(p *corev1.Pod) {
		p.Spec.NodeName = "n1"
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.5"}}
	})
	f := podFields(pod)
	for k, want := range map[string]string{
		"spec.nodeName": "n1", "status.phase": "Running", "status.podIP": "10.42.0.5",
		"spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler", "spec.hostNetwork": "false",
	} {
		if f[k] != want {
			t.Errorf("%s = %q, want %q", k, f[k], want)
		}
	}
}

func TestPodTableStatus(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	waiting := func(r string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: r}}
	}
	terminated := func(code int32, reason string) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}}
	}
	twoInits := []corev1.Container{{Name: "i1"}, {Name: "i2"}}
	tests := []struct {
		name          string
		pod           corev1.Pod
		ready, status string
		restarts      string
	}{
		{"pending", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}, "0/1", "Pending", "0"},
		{"creating", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: waiting("ContainerCreating")}}}}, "0/1", "ContainerCreating", "0"},
		{"running", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: running}}}}, "1/1", "Running", "0"},
		{"crashloop with restarts", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 4, State: waiting("CrashLoopBackOff"),
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					FinishedAt: metav1.NewTime(now.Add(-5 * time.Minute))}}}}}}, "0/1", "CrashLoopBackOff", "4 (5m ago)"},
		{"completed", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: terminated(0, "Completed")}}}}, "0/1", "Completed", "0"},
		{"exit code without reason", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: terminated(3, "")}}}}, "0/1", "ExitCode:3", "0"},
		{"evicted", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}}, "0/1", "Evicted", "0"},
		{"init progress", corev1.Pod{Spec: corev1.PodSpec{InitContainers: twoInits}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "i1", State: terminated(0, "Completed")}, {Name: "i2", State: running}}}},
			"0/1", "Init:1/2", "0"},
		{"init crashloop", corev1.Pod{Spec: corev1.PodSpec{InitContainers: twoInits}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "i1", State: waiting("CrashLoopBackOff")}}}},
			"0/1", "Init:CrashLoopBackOff", "0"},
		{"init failed", corev1.Pod{Spec: corev1.PodSpec{InitContainers: twoInits}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "i1", State: terminated(1, "")}}}},
			"0/1", "Init:ExitCode:1", "0"},
		{"init pending", corev1.Pod{Spec: corev1.PodSpec{InitContainers: twoInits}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "i1", State: waiting("PodInitializing")}}}},
			"0/1", "Init:0/2", "0"},
		{"sidecar counts", corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "side",
			RestartPolicy: new(corev1.ContainerRestartPolicyAlways)}}}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "side", Ready: true, Started: new(true), State: running}},
			ContainerStatuses:     []corev1.ContainerStatus{{Name: "app", Ready: true, State: running}}}},
			"2/2", "Running", "0"},
		{"terminating", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{Time: now}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: running}}}}, "1/1", "Terminating", "0"},
		{"scheduling gated", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated}}}}, "0/1", "SchedulingGated", "0"},
		{"completed with a running container", corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: terminated(0, "Completed")},
					{Name: "b", Ready: true, State: running}}}}, "1/2", "NotReady", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod
			if len(pod.Spec.Containers) == 0 {
				pod.Spec.Containers = []corev1.Container{{Name: "app"}}
			}
			row := podRow(&pod, now)
			if row[0] != tt.ready || row[1] != tt.status || row[2] != tt.restarts {
				t.Errorf("READY STATUS RESTARTS = %v %v %v, want %v %v %v", row[0], row[1], row[2], tt.ready, tt.status, tt.restarts)
			}
		})
	}
}

func TestPodTableWideColumns(t *testing.T) {
	pod := podTestPod(func(p *corev1.Pod) {
		p.Spec.NodeName = "n1"
		p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/ready"}}
		p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.7"}}
		p.Status.Conditions = []corev1.PodCondition{{Type: "example.com/ready", Status: corev1.ConditionTrue}}
	})
	table := podTable()
	row := table.Row(pod)
	if len(row) != len(table.Columns) {
		t.Fatalf("row has %d cells for %d columns", len(row), len(table.Columns))
	}
	want := []any{"10.42.0.7", "n1", "<none>", "1/1"}
	if got := row[4:]; !slices.Equal(got, want) {
		t.Errorf("wide cells = %v, want %v", got, want)
	}
}

func TestPodImageWhitespaceIsPodOnly(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: " "}}}}
	defaultPodTemplateSpec(tmpl)
	coreTestCheckErrs(t, validatePodTemplateSpec(tmpl, field.NewPath("template")), nil)
	pod := podTestPod(func(p *corev1.Pod) { p.Spec.Containers[0].Image = " " })
	coreTestCheckErrs(t, validatePod(pod), []string{"spec.containers[0].image: Invalid value"})
}
