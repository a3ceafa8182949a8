package registry

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Pod spec defaulting, shared by pods and every workload that embeds a pod
// template. What only a Pod (not a template) gets — requests copied from
// limits, enableServiceLinks, host-network host ports — lives in
// defaultPod, as upstream keeps it out of templates so that template
// hashes stay stable across versions.

// defaultPodSpec fills a pod spec's unset fields the way the upstream API does.
func defaultPodSpec(spec *corev1.PodSpec) {
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = new(int64(corev1.DefaultTerminationGracePeriodSeconds))
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	for i := range spec.Volumes {
		defaultPodVolume(&spec.Volumes[i])
	}
	for i := range spec.InitContainers {
		defaultPodContainer(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		defaultPodContainer(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		defaultPodContainer((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	if spec.Resources != nil {
		podRoundResources(spec.Resources)
	}
	podRoundResourceList(spec.Overhead)
	if spec.HostNetwork {
		// A hostNetwork pod's ports are the node's: hostPort defaults to
		// containerPort, as upstream.
		for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
			for i := range cs {
				for j := range cs[i].Ports {
					if p := &cs[i].Ports[j]; p.HostPort == 0 {
						p.HostPort = p.ContainerPort
					}
				}
			}
		}
	}
}

// defaultPodTemplateSpec defaults the pod spec of a template.
func defaultPodTemplateSpec(t *corev1.PodTemplateSpec) {
	defaultPodSpec(&t.Spec)
}

// defaultPod applies the pod-only defaults on top of defaultPodSpec.
func defaultPod(pod *corev1.Pod) {
	defaultPodSpec(&pod.Spec)
	for _, ctrs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range ctrs {
			res := &ctrs[i].Resources
			if res.Limits == nil {
				continue
			}
			if res.Requests == nil {
				res.Requests = corev1.ResourceList{}
			}
			for name, q := range res.Limits {
				if _, ok := res.Requests[name]; !ok {
					res.Requests[name] = q.DeepCopy()
				}
			}
		}
	}
	if pod.Spec.EnableServiceLinks == nil {
		pod.Spec.EnableServiceLinks = new(corev1.DefaultEnableServiceLinks)
	}
	if pod.Spec.HostNetwork {
		for _, ctrs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			for i := range ctrs {
				for j := range ctrs[i].Ports {
					if ctrs[i].Ports[j].HostPort == 0 {
						ctrs[i].Ports[j].HostPort = ctrs[i].Ports[j].ContainerPort
					}
				}
			}
		}
	}
}

func defaultPodContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = podImagePullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	podRoundResources(&c.Resources)
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p == nil {
			continue
		}
		if p.TimeoutSeconds == 0 {
			p.TimeoutSeconds = 1
		}
		if p.PeriodSeconds == 0 {
			p.PeriodSeconds = 10
		}
		if p.SuccessThreshold == 0 {
			p.SuccessThreshold = 1
		}
		if p.FailureThreshold == 0 {
			p.FailureThreshold = 3
		}
		defaultPodHTTPGet(p.HTTPGet)
		if p.GRPC != nil && p.GRPC.Service == nil {
			p.GRPC.Service = new("")
		}
	}
	if c.Lifecycle != nil {
		for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
			if h != nil {
				defaultPodHTTPGet(h.HTTPGet)
			}
		}
	}
}

func defaultPodHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

// podImagePullPolicy is Always for ":latest" or untagged images without a
// digest, IfNotPresent otherwise (also for unparsable references).
func podImagePullPolicy(image string) corev1.PullPolicy {
	if image == "" || strings.TrimSpace(image) != image {
		return corev1.PullIfNotPresent
	}
	name, hasDigest := image, false
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, hasDigest = name[:i], true
	}
	tag := ""
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		tag = name[i+1:]
	}
	if tag == "latest" || (tag == "" && !hasDigest) {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

func defaultPodVolume(v *corev1.Volume) {
	src := &v.VolumeSource
	if podVolumeSourceCount(src) == 0 {
		src.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if src.HostPath != nil && src.HostPath.Type == nil {
		src.HostPath.Type = new(corev1.HostPathUnset)
	}
	if src.ConfigMap != nil && src.ConfigMap.DefaultMode == nil {
		src.ConfigMap.DefaultMode = new(corev1.ConfigMapVolumeSourceDefaultMode)
	}
	if src.Secret != nil && src.Secret.DefaultMode == nil {
		src.Secret.DefaultMode = new(corev1.SecretVolumeSourceDefaultMode)
	}
	if d := src.DownwardAPI; d != nil {
		if d.DefaultMode == nil {
			d.DefaultMode = new(corev1.DownwardAPIVolumeSourceDefaultMode)
		}
		defaultPodDownwardItems(d.Items)
	}
	if p := src.Projected; p != nil {
		if p.DefaultMode == nil {
			p.DefaultMode = new(corev1.ProjectedVolumeSourceDefaultMode)
		}
		for i := range p.Sources {
			s := &p.Sources[i]
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.ExpirationSeconds == nil {
				s.ServiceAccountToken.ExpirationSeconds = new(int64(3600))
			}
			if s.DownwardAPI != nil {
				defaultPodDownwardItems(s.DownwardAPI.Items)
			}
		}
	}
	if e := src.Ephemeral; e != nil && e.VolumeClaimTemplate != nil {
		if e.VolumeClaimTemplate.Spec.VolumeMode == nil {
			e.VolumeClaimTemplate.Spec.VolumeMode = new(corev1.PersistentVolumeFilesystem)
		}
	}
}

func defaultPodDownwardItems(items []corev1.DownwardAPIVolumeFile) {
	for i := range items {
		if f := items[i].FieldRef; f != nil && f.APIVersion == "" {
			f.APIVersion = "v1"
		}
	}
}

// podRoundResources rounds quantities up to milli precision, as upstream
// does for every resource list it stores.
func podRoundResources(r *corev1.ResourceRequirements) {
	podRoundResourceList(r.Limits)
	podRoundResourceList(r.Requests)
}

func podRoundResourceList(l corev1.ResourceList) {
	for name, q := range l {
		q.RoundUp(resource.Milli)
		l[name] = q
	}
}

// podVolumeSourceCount counts the volume types set in src.
func podVolumeSourceCount(src *corev1.VolumeSource) int {
	n := 0
	for _, set := range []bool{
		src.HostPath != nil, src.EmptyDir != nil, src.GCEPersistentDisk != nil,
		src.AWSElasticBlockStore != nil, src.GitRepo != nil, src.Secret != nil,
		src.NFS != nil, src.ISCSI != nil, src.Glusterfs != nil,
		src.PersistentVolumeClaim != nil, src.RBD != nil, src.FlexVolume != nil,
		src.Cinder != nil, src.CephFS != nil, src.Flocker != nil,
		src.DownwardAPI != nil, src.FC != nil, src.AzureFile != nil,
		src.ConfigMap != nil, src.VsphereVolume != nil, src.Quobyte != nil,
		src.AzureDisk != nil, src.PhotonPersistentDisk != nil, src.Projected != nil,
		src.PortworxVolume != nil, src.ScaleIO != nil, src.StorageOS != nil,
		src.CSI != nil, src.Ephemeral != nil, src.Image != nil,
	} {
		if set {
			n++
		}
	}
	return n
}
