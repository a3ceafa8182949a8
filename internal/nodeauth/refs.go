package nodeauth

import corev1 "k8s.io/api/core/v1"

// What a pod references, by name, in its own namespace. Each visitor
// calls see for every name and stops as soon as see returns true; it
// reports whether it stopped.

// allContainers calls f for each init, regular and ephemeral container's
// env and envFrom until f returns true.
func allContainers(spec *corev1.PodSpec, f func(env []corev1.EnvVar, from []corev1.EnvFromSource) bool) bool {
	for i := range spec.InitContainers {
		if f(spec.InitContainers[i].Env, spec.InitContainers[i].EnvFrom) {
			return true
		}
	}
	for i := range spec.Containers {
		if f(spec.Containers[i].Env, spec.Containers[i].EnvFrom) {
			return true
		}
	}
	for i := range spec.EphemeralContainers {
		c := &spec.EphemeralContainers[i].EphemeralContainerCommon
		if f(c.Env, c.EnvFrom) {
			return true
		}
	}
	return false
}

// refName is the name a LocalObjectReference pointer names ("" if nil).
func refName(r *corev1.LocalObjectReference) string {
	if r == nil {
		return ""
	}
	return r.Name
}

// visitSecrets visits the secrets pod references: image pull secrets,
// env and envFrom of every container, and volumes (secret, projected,
// and the volume plugins that take a secret reference).
func visitSecrets(pod *corev1.Pod, see func(name string) bool) bool {
	for _, s := range pod.Spec.ImagePullSecrets {
		if see(s.Name) {
			return true
		}
	}
	if allContainers(&pod.Spec, func(env []corev1.EnvVar, from []corev1.EnvFromSource) bool {
		for _, f := range from {
			if f.SecretRef != nil && see(f.SecretRef.Name) {
				return true
			}
		}
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && see(e.ValueFrom.SecretKeyRef.Name) {
				return true
			}
		}
		return false
	}) {
		return true
	}
	for i := range pod.Spec.Volumes {
		for _, name := range volumeSecrets(&pod.Spec.Volumes[i].VolumeSource) {
			if name != "" && see(name) {
				return true
			}
		}
	}
	return false
}

// volumeSecrets lists the secret names one volume source references.
func volumeSecrets(v *corev1.VolumeSource) []string {
	var names []string
	switch {
	case v.Secret != nil:
		names = append(names, v.Secret.SecretName)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			if src.Secret != nil {
				names = append(names, src.Secret.Name)
			}
		}
	case v.CSI != nil:
		names = append(names, refName(v.CSI.NodePublishSecretRef))
	case v.AzureFile != nil:
		names = append(names, v.AzureFile.SecretName)
	case v.CephFS != nil:
		names = append(names, refName(v.CephFS.SecretRef))
	case v.Cinder != nil:
		names = append(names, refName(v.Cinder.SecretRef))
	case v.FlexVolume != nil:
		names = append(names, refName(v.FlexVolume.SecretRef))
	case v.ISCSI != nil:
		names = append(names, refName(v.ISCSI.SecretRef))
	case v.RBD != nil:
		names = append(names, refName(v.RBD.SecretRef))
	case v.ScaleIO != nil:
		names = append(names, refName(v.ScaleIO.SecretRef))
	case v.StorageOS != nil:
		names = append(names, refName(v.StorageOS.SecretRef))
	}
	return names
}

// visitConfigMaps visits the config maps pod references: env and envFrom
// of every container, configMap and projected volumes.
func visitConfigMaps(pod *corev1.Pod, see func(name string) bool) bool {
	if allContainers(&pod.Spec, func(env []corev1.EnvVar, from []corev1.EnvFromSource) bool {
		for _, f := range from {
			if f.ConfigMapRef != nil && see(f.ConfigMapRef.Name) {
				return true
			}
		}
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && see(e.ValueFrom.ConfigMapKeyRef.Name) {
				return true
			}
		}
		return false
	}) {
		return true
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			if see(v.ConfigMap.Name) {
				return true
			}
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil && see(src.ConfigMap.Name) {
					return true
				}
			}
		}
	}
	return false
}

// visitClaims visits the persistent volume claims pod uses: named claims
// and the claims of generic ephemeral volumes ("<pod>-<volume>").
func visitClaims(pod *corev1.Pod, see func(name string) bool) bool {
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			if see(v.PersistentVolumeClaim.ClaimName) {
				return true
			}
		case v.Ephemeral != nil:
			if see(pod.Name + "-" + v.Name) {
				return true
			}
		}
	}
	return false
}

// serviceAccountOf is the service account pod runs as.
func serviceAccountOf(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName == "" {
		return "default"
	}
	return pod.Spec.ServiceAccountName
}

// references reports whether pod references name through visit.
func references(pod *corev1.Pod, visit func(*corev1.Pod, func(string) bool) bool, name string) bool {
	return visit(pod, func(n string) bool { return n == name })
}
