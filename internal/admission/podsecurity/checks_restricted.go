package podsecurity

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Restricted checks, evaluated on top of the baseline ones.

func checkPrivilegeEscalation(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	var bad []string
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return "", "", true
	}
	return "allowPrivilegeEscalation != false", containers(bad) + " must set securityContext.allowPrivilegeEscalation=false", false
}

func checkCapabilitiesRestricted(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	var noDropAll, adding []string
	caps := make(sortedSet)
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
			noDropAll = append(noDropAll, c.Name)
			return
		}
		dropsAll := false
		for _, cp := range c.SecurityContext.Capabilities.Drop {
			if cp == "ALL" {
				dropsAll = true
				break
			}
		}
		if !dropsAll {
			noDropAll = append(noDropAll, c.Name)
		}
		bad := false
		for _, cp := range c.SecurityContext.Capabilities.Add {
			if cp != "NET_BIND_SERVICE" {
				bad = true
				caps.add(string(cp))
			}
		}
		if bad {
			adding = append(adding, c.Name)
		}
	})
	var details []string
	if len(noDropAll) > 0 {
		details = append(details, containers(noDropAll)+` must set securityContext.capabilities.drop=["ALL"]`)
	}
	if len(adding) > 0 {
		details = append(details, fmt.Sprintf("%s must not include %s in securityContext.capabilities.add",
			containers(adding), joinQuote(caps.list())))
	}
	if len(details) == 0 {
		return "", "", true
	}
	detail := details[0]
	if len(details) == 2 {
		detail += "; " + details[1]
	}
	return "unrestricted capabilities", detail, false
}

// volumeType names the source a volume uses, by its JSON field name.
func volumeType(v *corev1.VolumeSource) string {
	switch {
	case v.HostPath != nil:
		return "hostPath"
	case v.EmptyDir != nil:
		return "emptyDir"
	case v.GCEPersistentDisk != nil:
		return "gcePersistentDisk"
	case v.AWSElasticBlockStore != nil:
		return "awsElasticBlockStore"
	case v.GitRepo != nil:
		return "gitRepo"
	case v.Secret != nil:
		return "secret"
	case v.NFS != nil:
		return "nfs"
	case v.ISCSI != nil:
		return "iscsi"
	case v.Glusterfs != nil:
		return "glusterfs"
	case v.PersistentVolumeClaim != nil:
		return "persistentVolumeClaim"
	case v.RBD != nil:
		return "rbd"
	case v.FlexVolume != nil:
		return "flexVolume"
	case v.Cinder != nil:
		return "cinder"
	case v.CephFS != nil:
		return "cephfs"
	case v.Flocker != nil:
		return "flocker"
	case v.DownwardAPI != nil:
		return "downwardAPI"
	case v.FC != nil:
		return "fc"
	case v.AzureFile != nil:
		return "azureFile"
	case v.ConfigMap != nil:
		return "configMap"
	case v.VsphereVolume != nil:
		return "vsphereVolume"
	case v.Quobyte != nil:
		return "quobyte"
	case v.AzureDisk != nil:
		return "azureDisk"
	case v.PhotonPersistentDisk != nil:
		return "photonPersistentDisk"
	case v.Projected != nil:
		return "projected"
	case v.PortworxVolume != nil:
		return "portworxVolume"
	case v.ScaleIO != nil:
		return "scaleIO"
	case v.StorageOS != nil:
		return "storageos"
	case v.CSI != nil:
		return "csi"
	case v.Ephemeral != nil:
		return "ephemeral"
	case v.Image != nil:
		return "image"
	}
	return "unknown"
}

// restrictedAllowedVolumes are the volume types restricted allows: the core
// ones and those backed by PersistentVolumes.
var restrictedAllowedVolumes = map[string]bool{
	"configMap": true, "csi": true, "downwardAPI": true, "emptyDir": true,
	"ephemeral": true, "persistentVolumeClaim": true, "projected": true, "secret": true,
}

func checkRestrictedVolumes(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	var bad []string
	types := make(sortedSet)
	for i := range spec.Volumes {
		t := volumeType(&spec.Volumes[i].VolumeSource)
		if !restrictedAllowedVolumes[t] {
			bad = append(bad, spec.Volumes[i].Name)
			types.add(t)
		}
	}
	if len(bad) == 0 {
		return "", "", true
	}
	return "restricted volume types", fmt.Sprintf("%s %s %s %s %s",
		pluralize("volume", "volumes", len(bad)), joinQuote(bad),
		pluralize("uses", "use", len(bad)),
		pluralize("restricted volume type", "restricted volume types", len(types)),
		joinQuote(types.list())), false
}

func checkRunAsNonRoot(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	podBad, podTrue := false, false
	if spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil {
		if *spec.SecurityContext.RunAsNonRoot {
			podTrue = true
		} else {
			podBad = true
		}
	}
	var explicit, implicit []string
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil {
			if !*c.SecurityContext.RunAsNonRoot {
				explicit = append(explicit, c.Name)
			}
			return
		}
		if !podTrue {
			implicit = append(implicit, c.Name)
		}
	})
	if podBad || len(explicit) > 0 {
		return "runAsNonRoot != true", setters(podBad, explicit) + " must not set securityContext.runAsNonRoot=false", false
	}
	if len(implicit) > 0 {
		return "runAsNonRoot != true", "pod or " + containers(implicit) + " must set securityContext.runAsNonRoot=true", false
	}
	return "", "", true
}

func checkRunAsUser(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	podBad := spec.SecurityContext != nil && spec.SecurityContext.RunAsUser != nil && *spec.SecurityContext.RunAsUser == 0
	var bad []string
	visitContainers(spec, func(c *corev1.Container) {
		if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil && *c.SecurityContext.RunAsUser == 0 {
			bad = append(bad, c.Name)
		}
	})
	if !podBad && len(bad) == 0 {
		return "", "", true
	}
	return "runAsUser=0", setters(podBad, bad) + " must not set runAsUser=0", false
}

func checkSeccompRestricted(_ *metav1.ObjectMeta, spec *corev1.PodSpec) (string, string, bool) {
	podBad, podValid, bad, unset, values := seccompViolations(spec)
	if podBad || len(bad) > 0 {
		return "seccompProfile", fmt.Sprintf("%s must not set securityContext.seccompProfile.type to %s",
			setters(podBad, bad), joinQuote(values.list())), false
	}
	if !podValid && len(unset) > 0 {
		return "seccompProfile", "pod or " + containers(unset) +
			` must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`, false
	}
	return "", "", true
}
