package registry

import (
	"path"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const podFileModeMsg = "must be a number between 0 and 0777 (octal), both inclusive"

var podHostPathTypes = []corev1.HostPathType{corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate,
	corev1.HostPathDirectory, corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket,
	corev1.HostPathCharDev, corev1.HostPathBlockDev}

// validatePodVolumes checks a pod's volumes and returns the set of their
// names, which volume mounts must refer to.
func validatePodVolumes(volumes []corev1.Volume, fldPath *field.Path) (map[string]bool, field.ErrorList) {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range volumes {
		v := &volumes[i]
		p := fldPath.Index(i)
		errs = append(errs, validatePodVolumeSource(&v.VolumeSource, p)...)
		np := p.Child("name")
		if v.Name == "" {
			errs = append(errs, field.Required(np, ""))
		} else {
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(np, v.Name, msg))
			}
		}
		if names[v.Name] {
			errs = append(errs, field.Duplicate(np, v.Name))
		}
		if v.Name != "" {
			names[v.Name] = true
		}
	}
	return names, errs
}

func validatePodVolumeSource(src *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch n := podVolumeSourceCount(src); {
	case n == 0:
		return field.ErrorList{field.Required(fldPath, "must specify a volume type")}
	case n > 1:
		errs = append(errs, field.Forbidden(fldPath, "may not specify more than 1 volume type"))
	}
	if h := src.HostPath; h != nil {
		p := fldPath.Child("hostPath")
		if h.Path == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		}
		if h.Type != nil && !slices.Contains(podHostPathTypes, *h.Type) {
			errs = append(errs, field.NotSupported(p.Child("type"), *h.Type, podHostPathTypes))
		}
	}
	if e := src.EmptyDir; e != nil {
		p := fldPath.Child("emptyDir")
		media := []corev1.StorageMedium{corev1.StorageMediumDefault, corev1.StorageMediumMemory, corev1.StorageMediumHugePages}
		if !slices.Contains(media, e.Medium) && len(e.Medium) <= len("HugePages-") {
			errs = append(errs, field.NotSupported(p.Child("medium"), e.Medium, media))
		}
		if e.SizeLimit != nil && e.SizeLimit.Sign() < 0 {
			errs = append(errs, field.Forbidden(p.Child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	}
	if s := src.Secret; s != nil {
		p := fldPath.Child("secret")
		if s.SecretName == "" {
			errs = append(errs, field.Required(p.Child("secretName"), ""))
		}
		errs = append(errs, validatePodFileMode(s.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validatePodKeyToPaths(s.Items, p.Child("items"))...)
	}
	if c := src.ConfigMap; c != nil {
		p := fldPath.Child("configMap")
		if c.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		errs = append(errs, validatePodFileMode(c.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validatePodKeyToPaths(c.Items, p.Child("items"))...)
	}
	if c := src.PersistentVolumeClaim; c != nil && c.ClaimName == "" {
		errs = append(errs, field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), ""))
	}
	if d := src.DownwardAPI; d != nil {
		p := fldPath.Child("downwardAPI")
		errs = append(errs, validatePodFileMode(d.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validatePodDownwardFiles(d.Items, p.Child("items"))...)
	}
	if pr := src.Projected; pr != nil {
		errs = append(errs, validatePodProjected(pr, fldPath.Child("projected"))...)
	}
	if nfs := src.NFS; nfs != nil {
		p := fldPath.Child("nfs")
		if nfs.Server == "" {
			errs = append(errs, field.Required(p.Child("server"), ""))
		}
		if nfs.Path == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		} else if !path.IsAbs(nfs.Path) {
			errs = append(errs, field.Invalid(p.Child("path"), nfs.Path, "must be an absolute path"))
		}
	}
	if c := src.CSI; c != nil && c.Driver == "" {
		errs = append(errs, field.Required(fldPath.Child("csi", "driver"), ""))
	}
	if e := src.Ephemeral; e != nil && e.VolumeClaimTemplate == nil {
		errs = append(errs, field.Required(fldPath.Child("ephemeral", "volumeClaimTemplate"), ""))
	}
	if im := src.Image; im != nil && im.Reference == "" {
		errs = append(errs, field.Required(fldPath.Child("image", "reference"), ""))
	}
	return errs
}

func validatePodFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, podFileModeMsg)}
	}
	return nil
}

func validatePodKeyToPaths(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, kp := range items {
		p := fldPath.Index(i)
		if kp.Key == "" {
			errs = append(errs, field.Required(p.Child("key"), ""))
		}
		errs = append(errs, validatePodItemPath(kp.Path, p.Child("path"))...)
		errs = append(errs, validatePodFileMode(kp.Mode, p.Child("mode"))...)
	}
	return errs
}

func validatePodItemPath(target string, fldPath *field.Path) field.ErrorList {
	if target == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return validatePodRelativePath(target, fldPath)
}

func validatePodDownwardFiles(items []corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range items {
		p := fldPath.Index(i)
		errs = append(errs, validatePodItemPath(f.Path, p.Child("path"))...)
		errs = append(errs, validatePodFileMode(f.Mode, p.Child("mode"))...)
		switch {
		case f.FieldRef != nil && f.ResourceFieldRef != nil:
			errs = append(errs, field.Invalid(p, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case f.FieldRef != nil:
			errs = append(errs, validatePodFieldSelector(f.FieldRef, podVolumeFieldPaths, p.Child("fieldRef"))...)
		case f.ResourceFieldRef != nil:
			errs = append(errs, validatePodResourceFieldSelector(f.ResourceFieldRef, p.Child("resourceFieldRef"))...)
		default:
			errs = append(errs, field.Required(p, "one of fieldRef and resourceFieldRef is required"))
		}
	}
	return errs
}

func validatePodProjected(pr *corev1.ProjectedVolumeSource, fldPath *field.Path) field.ErrorList {
	errs := validatePodFileMode(pr.DefaultMode, fldPath.Child("defaultMode"))
	paths := map[string]bool{}
	addPath := func(p string, fp *field.Path) {
		if p == "" {
			return
		}
		if paths[p] {
			errs = append(errs, field.Invalid(fp, p, "conflicting duplicate paths"))
		}
		paths[p] = true
	}
	for i, s := range pr.Sources {
		p := fldPath.Child("sources").Index(i)
		n := 0
		if s.Secret != nil {
			n++
			sp := p.Child("secret")
			if s.Secret.Name == "" {
				errs = append(errs, field.Required(sp.Child("name"), ""))
			}
			errs = append(errs, validatePodKeyToPaths(s.Secret.Items, sp.Child("items"))...)
			for j, kp := range s.Secret.Items {
				addPath(kp.Path, sp.Child("items").Index(j).Child("path"))
			}
		}
		if s.ConfigMap != nil {
			n++
			cp := p.Child("configMap")
			if s.ConfigMap.Name == "" {
				errs = append(errs, field.Required(cp.Child("name"), ""))
			}
			errs = append(errs, validatePodKeyToPaths(s.ConfigMap.Items, cp.Child("items"))...)
			for j, kp := range s.ConfigMap.Items {
				addPath(kp.Path, cp.Child("items").Index(j).Child("path"))
			}
		}
		if s.DownwardAPI != nil {
			n++
			dp := p.Child("downwardAPI")
			errs = append(errs, validatePodDownwardFiles(s.DownwardAPI.Items, dp.Child("items"))...)
			for j, f := range s.DownwardAPI.Items {
				addPath(f.Path, dp.Child("items").Index(j).Child("path"))
			}
		}
		if t := s.ServiceAccountToken; t != nil {
			n++
			tp := p.Child("serviceAccountToken")
			if t.ExpirationSeconds != nil {
				if *t.ExpirationSeconds < 600 {
					errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
				} else if *t.ExpirationSeconds > 1<<32 {
					errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
				}
			}
			if t.Path == "" {
				errs = append(errs, field.Required(tp.Child("path"), ""))
			} else {
				errs = append(errs, validatePodRelativePath(t.Path, tp.Child("path"))...)
				addPath(t.Path, tp.Child("path"))
			}
		}
		if s.ClusterTrustBundle != nil {
			n++
			addPath(s.ClusterTrustBundle.Path, p.Child("clusterTrustBundle", "path"))
		}
		if s.PodCertificate != nil {
			n++
		}
		if n > 1 {
			errs = append(errs, field.Forbidden(p, "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}
