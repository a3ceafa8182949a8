package registry

import (
	"path"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// coreBetaStorageClassAnnotation is the pre-storageClassName way of naming
// a class, still honoured by the printers.
const coreBetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

var (
	coreAccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany,
		corev1.ReadWriteOnce, corev1.ReadWriteOncePod}
	coreVolumeModes    = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}
	coreReclaimPolices = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete,
		corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain}
)

// corePersistentVolumeResource is core/v1 persistentvolumes (cluster-scoped).
// Moving a volume from Pending to Available and binding it is a controller's job.
func corePersistentVolumeResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "PersistentVolume", Plural: "persistentvolumes", Singular: "persistentvolume",
		ShortNames: []string{"pv"},
		New:        func() runtime.Object { return &corev1.PersistentVolume{} },
		NewList:    func() runtime.Object { return &corev1.PersistentVolumeList{} },
		Default: func(obj runtime.Object) {
			pv := obj.(*corev1.PersistentVolume)
			if pv.Spec.PersistentVolumeReclaimPolicy == "" {
				pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
			}
			if pv.Spec.VolumeMode == nil {
				pv.Spec.VolumeMode = new(corev1.PersistentVolumeFilesystem)
			}
		},
		PrepareForCreate: func(obj runtime.Object) {
			now := metav1.NewTime(time.Now())
			obj.(*corev1.PersistentVolume).Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*corev1.PersistentVolume).Status = old.(*corev1.PersistentVolume).Status
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validateCorePV(obj.(*corev1.PersistentVolume)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			pv, oldPV := obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume)
			errs := validateCorePV(pv)
			if !equality.Semantic.DeepEqual(pv.Spec.PersistentVolumeSource, oldPV.Spec.PersistentVolumeSource) {
				errs = append(errs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
			}
			errs = append(errs, apivalidation.ValidateImmutableField(pv.Spec.VolumeMode, oldPV.Spec.VolumeMode, field.NewPath("volumeMode"))...)
			if oldPV.Spec.NodeAffinity != nil {
				errs = append(errs, apivalidation.ValidateImmutableField(pv.Spec.NodeAffinity, oldPV.Spec.NodeAffinity, field.NewPath("nodeAffinity"))...)
			}
			return errs
		},
		Status: &StatusSubresource{
			PrepareForUpdate: func(obj, old runtime.Object) {
				pv, oldPV := obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume)
				pv.Spec = oldPV.Spec
				if pv.Status.Phase != oldPV.Status.Phase && (pv.Status.LastPhaseTransitionTime == nil ||
					pv.Status.LastPhaseTransitionTime.Equal(oldPV.Status.LastPhaseTransitionTime)) {
					now := metav1.NewTime(time.Now())
					pv.Status.LastPhaseTransitionTime = &now
				}
			},
		},
		Table: corePVTable(),
	}
}

func validateCorePV(pv *corev1.PersistentVolume) field.ErrorList {
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	errs = append(errs, validateCoreAccessModes(pv.Spec.AccessModes, specPath.Child("accessModes"))...)
	capPath := specPath.Child("capacity")
	if len(pv.Spec.Capacity) == 0 {
		errs = append(errs, field.Required(capPath, ""))
	} else if _, ok := pv.Spec.Capacity[corev1.ResourceStorage]; !ok || len(pv.Spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(capPath, pv.Spec.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for name, q := range pv.Spec.Capacity {
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(capPath.Key(string(name)), q.String(), "must be greater than or equal to 0"))
		}
	}
	if p := pv.Spec.PersistentVolumeReclaimPolicy; p != "" && !slices.Contains(coreReclaimPolices, p) {
		errs = append(errs, field.NotSupported(specPath.Child("persistentVolumeReclaimPolicy"), p, coreReclaimPolices))
	}
	if pv.Spec.StorageClassName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(pv.Spec.StorageClassName) {
			errs = append(errs, field.Invalid(specPath.Child("storageClassName"), pv.Spec.StorageClassName, msg))
		}
	}
	if m := pv.Spec.VolumeMode; m != nil && !slices.Contains(coreVolumeModes, *m) {
		errs = append(errs, field.NotSupported(specPath.Child("volumeMode"), *m, coreVolumeModes))
	}
	if na := pv.Spec.NodeAffinity; na != nil {
		p := specPath.Child("nodeAffinity", "required")
		if na.Required == nil || len(na.Required.NodeSelectorTerms) == 0 {
			errs = append(errs, field.Required(p, "must have at least one node selector term"))
		} else {
			for i, t := range na.Required.NodeSelectorTerms {
				errs = append(errs, validatePodNodeSelectorTerm(t, p.Child("nodeSelectorTerms").Index(i))...)
			}
		}
	}

	src := &pv.Spec.PersistentVolumeSource
	n := corePVSourceCount(src)
	switch {
	case n == 0:
		errs = append(errs, field.Required(specPath, "must specify a volume type"))
	case n > 1:
		errs = append(errs, field.Forbidden(specPath, "may not specify more than 1 volume type"))
	}
	if h := src.HostPath; h != nil {
		if h.Path == "" {
			errs = append(errs, field.Required(specPath.Child("hostPath", "path"), ""))
		}
		if h.Type != nil && !slices.Contains(podHostPathTypes, *h.Type) {
			errs = append(errs, field.NotSupported(specPath.Child("hostPath", "type"), *h.Type, podHostPathTypes))
		}
	}
	if l := src.Local; l != nil {
		if l.Path == "" {
			errs = append(errs, field.Required(specPath.Child("local", "path"), ""))
		} else if !path.IsAbs(l.Path) {
			errs = append(errs, field.Invalid(specPath.Child("local", "path"), l.Path, "must be an absolute path"))
		}
		if pv.Spec.NodeAffinity == nil {
			errs = append(errs, field.Required(specPath.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	}
	if nfs := src.NFS; nfs != nil {
		if nfs.Server == "" {
			errs = append(errs, field.Required(specPath.Child("nfs", "server"), ""))
		}
		if nfs.Path == "" {
			errs = append(errs, field.Required(specPath.Child("nfs", "path"), ""))
		}
	}
	if c := src.CSI; c != nil {
		if c.Driver == "" {
			errs = append(errs, field.Required(specPath.Child("csi", "driver"), ""))
		}
		if c.VolumeHandle == "" {
			errs = append(errs, field.Required(specPath.Child("csi", "volumeHandle"), ""))
		}
	}
	return errs
}

// corePVSourceCount counts the volume types set in a PV source.
func corePVSourceCount(src *corev1.PersistentVolumeSource) int {
	n := 0
	for _, set := range []bool{
		src.GCEPersistentDisk != nil, src.AWSElasticBlockStore != nil, src.HostPath != nil,
		src.Glusterfs != nil, src.NFS != nil, src.RBD != nil, src.ISCSI != nil, src.Cinder != nil,
		src.CephFS != nil, src.FC != nil, src.Flocker != nil, src.FlexVolume != nil,
		src.AzureFile != nil, src.VsphereVolume != nil, src.Quobyte != nil, src.AzureDisk != nil,
		src.PhotonPersistentDisk != nil, src.PortworxVolume != nil, src.ScaleIO != nil,
		src.Local != nil, src.StorageOS != nil, src.CSI != nil,
	} {
		if set {
			n++
		}
	}
	return n
}

func validateCoreAccessModes(modes []corev1.PersistentVolumeAccessMode, fldPath *field.Path) field.ErrorList {
	if len(modes) == 0 {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var errs field.ErrorList
	for _, m := range modes {
		if !slices.Contains(coreAccessModes, m) {
			errs = append(errs, field.NotSupported(fldPath, m, coreAccessModes))
		}
	}
	if slices.Contains(modes, corev1.ReadWriteOncePod) && len(modes) > 1 {
		errs = append(errs, field.Forbidden(fldPath, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

// coreAccessModesString prints access modes as kubectl does ("RWO,ROX").
func coreAccessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"}, {corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"}} {
		if slices.Contains(modes, m.mode) {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

func corePVTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("Capacity", "string", "capacity is the description of the persistent volume's resources and capacity.", 0),
			column("Access Modes", "string", "accessModes contains all ways the volume can be mounted.", 0),
			column("Reclaim Policy", "string", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.", 0),
			column("Status", "string", "phase indicates if a volume is available, bound to a claim, or released by a claim.", 0),
			column("Claim", "string", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.", 0),
			column("StorageClass", "string", "storageClassName is the name of StorageClass to which this persistent volume belongs.", 0),
			column("VolumeAttributesClass", "string", "Name of VolumeAttributesClass to which this persistent volume belongs.", 0),
			column("Reason", "string", "reason is a brief CamelCase string that describes any failure.", 0),
			ageColumn,
			column("VolumeMode", "string", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.", 1),
		},
		Row: func(obj runtime.Object) []any {
			pv := obj.(*corev1.PersistentVolume)
			claim := ""
			if r := pv.Spec.ClaimRef; r != nil {
				claim = r.Namespace + "/" + r.Name
			}
			capacity := pv.Spec.Capacity[corev1.ResourceStorage]
			phase := string(pv.Status.Phase)
			if pv.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			class := pv.Spec.StorageClassName
			if a, ok := pv.Annotations[coreBetaStorageClassAnnotation]; ok {
				class = a
			}
			return []any{capacity.String(), coreAccessModesString(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
				phase, claim, class, coreUnsetIfNil(pv.Spec.VolumeAttributesClassName), pv.Status.Reason,
				age(pv.CreationTimestamp), coreUnsetIfNil((*string)(pv.Spec.VolumeMode))}
		},
	}
}

func coreUnsetIfNil(s *string) string {
	if s == nil || *s == "" {
		return "<unset>"
	}
	return *s
}

// corePersistentVolumeClaimResource is core/v1 persistentvolumeclaims.
func corePersistentVolumeClaimResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "PersistentVolumeClaim", Plural: "persistentvolumeclaims", Singular: "persistentvolumeclaim",
		ShortNames: []string{"pvc"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
		NewList: func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
		Default: func(obj runtime.Object) {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			if pvc.Spec.VolumeMode == nil {
				pvc.Spec.VolumeMode = new(corev1.PersistentVolumeFilesystem)
			}
		},
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*corev1.PersistentVolumeClaim).Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*corev1.PersistentVolumeClaim).Status = old.(*corev1.PersistentVolumeClaim).Status
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateCorePVCSpec(&obj.(*corev1.PersistentVolumeClaim).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			pvc, oldPVC := obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim)
			return append(validateCorePVCSpec(&pvc.Spec, field.NewPath("spec")), validateCorePVCUpdate(pvc, oldPVC)...)
		},
		Status: &StatusSubresource{},
		Table:  corePVCTable(),
	}
}

// validateCorePVCSpec checks a claim spec (also used by ephemeral volume
// and StatefulSet claim templates).
func validateCorePVCSpec(spec *corev1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(fldPath.Child("accessModes"), "at least 1 access mode is required"))
	} else {
		errs = append(errs, validateCoreAccessModes(spec.AccessModes, fldPath.Child("accessModes"))...)
	}
	storagePath := fldPath.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(storagePath, ""))
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(storagePath, q.String(), "must be greater than zero"))
	}
	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))...)
	}
	if c := spec.StorageClassName; c != nil && *c != "" {
		for _, msg := range validation.IsDNS1123Subdomain(*c) {
			errs = append(errs, field.Invalid(fldPath.Child("storageClassName"), *c, msg))
		}
	}
	if m := spec.VolumeMode; m != nil && !slices.Contains(coreVolumeModes, *m) {
		errs = append(errs, field.NotSupported(fldPath.Child("volumeMode"), *m, coreVolumeModes))
	}
	if ds := spec.DataSource; ds != nil {
		if ds.Kind == "" {
			errs = append(errs, field.Required(fldPath.Child("dataSource", "kind"), ""))
		}
		if ds.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("dataSource", "name"), ""))
		}
	}
	if ds := spec.DataSourceRef; ds != nil {
		if ds.Kind == "" {
			errs = append(errs, field.Required(fldPath.Child("dataSourceRef", "kind"), ""))
		}
		if ds.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("dataSourceRef", "name"), ""))
		}
	}
	return errs
}

// validateCorePVCUpdate: the spec is immutable except volumeName (set
// once, by binding) and, for bound claims, a larger storage request.
func validateCorePVCUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	var errs field.ErrorList
	newSpec, oldSpec := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	if oldSpec.VolumeName == "" {
		oldSpec.VolumeName = newSpec.VolumeName
	}
	bound := pvc.Status.Phase == corev1.ClaimBound
	if bound && newSpec.Resources.Requests != nil {
		if q, ok := oldSpec.Resources.Requests[corev1.ResourceStorage]; ok {
			newSpec.Resources.Requests[corev1.ResourceStorage] = q
		}
	}
	newSpec.VolumeAttributesClassName = oldSpec.VolumeAttributesClassName
	if !equality.Semantic.DeepEqual(newSpec, oldSpec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"),
			"spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	oldSize := old.Spec.Resources.Requests[corev1.ResourceStorage]
	newSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) < 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than previous value"))
	}
	return errs
}

func corePVCTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("Status", "string", "phase represents the current phase of PersistentVolumeClaim.", 0),
			column("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim.", 0),
			column("Capacity", "string", "capacity represents the actual resources of the underlying volume.", 0),
			column("Access Modes", "string", "accessModes contains the desired access modes the volume should have.", 0),
			column("StorageClass", "string", "storageClassName is the name of the StorageClass required by the claim.", 0),
			column("VolumeAttributesClass", "string", "volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.", 0),
			ageColumn,
			column("VolumeMode", "string", "volumeMode defines what type of volume is required by the claim.", 1),
		},
		Row: func(obj runtime.Object) []any {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			phase := string(pvc.Status.Phase)
			if pvc.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			capacity, modes := "", ""
			if pvc.Spec.VolumeName != "" {
				modes = coreAccessModesString(pvc.Status.AccessModes)
				q := pvc.Status.Capacity[corev1.ResourceStorage]
				capacity = q.String()
			}
			class := ""
			if pvc.Spec.StorageClassName != nil {
				class = *pvc.Spec.StorageClassName
			}
			if a, ok := pvc.Annotations[coreBetaStorageClassAnnotation]; ok {
				class = a
			}
			return []any{phase, pvc.Spec.VolumeName, capacity, modes, class,
				coreUnsetIfNil(pvc.Status.CurrentVolumeAttributesClassName), age(pvc.CreationTimestamp),
				coreUnsetIfNil((*string)(pvc.Spec.VolumeMode))}
		},
	}
}
