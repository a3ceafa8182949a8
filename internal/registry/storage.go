package registry

import (
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// storage.k8s.io/v1: storageclasses, csidrivers, csinodes and
// volumeattachments.

// Limits the upstream API enforces on storage classes and CSI objects.
const (
	storageClassMaxParameters     = 512
	storageClassMaxParametersSize = 256 * 1024
	csiDriverMaxNameLength        = 63
)

func storageResources() []*Resource {
	return []*Resource{storageClassResource(), csiDriverResource(), csiNodeResource(), volumeAttachmentResource()}
}

// --- StorageClass ---

func storageClassResource() *Resource {
	return &Resource{
		Group: "storage.k8s.io", Version: "v1", Kind: "StorageClass",
		Plural: "storageclasses", Singular: "storageclass", ShortNames: []string{"sc"},
		New:     func() runtime.Object { return &storagev1.StorageClass{} },
		NewList: func() runtime.Object { return &storagev1.StorageClassList{} },
		Default: func(obj runtime.Object) {
			sc := obj.(*storagev1.StorageClass)
			if sc.ReclaimPolicy == nil {
				sc.ReclaimPolicy = new(corev1.PersistentVolumeReclaimDelete)
			}
			if sc.VolumeBindingMode == nil {
				sc.VolumeBindingMode = new(storagev1.VolumeBindingImmediate)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return storageClassValidate(obj.(*storagev1.StorageClass)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			sc, o := obj.(*storagev1.StorageClass), old.(*storagev1.StorageClass)
			errs := storageClassValidate(sc)
			if !reflect.DeepEqual(sc.Parameters, o.Parameters) {
				errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
			}
			if sc.Provisioner != o.Provisioner {
				errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
			}
			if !apiequality.Semantic.DeepEqual(sc.ReclaimPolicy, o.ReclaimPolicy) {
				errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
			}
			return append(errs, groupImmutable(sc.VolumeBindingMode, o.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
		},
		Table: storageClassTable(),
	}
}

func storageClassValidate(sc *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	pp := field.NewPath("provisioner")
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(pp, ""))
	} else {
		errs = append(errs, groupQualifiedName(strings.ToLower(sc.Provisioner), pp)...)
	}
	errs = append(errs, storageValidateParameters(sc.Parameters, field.NewPath("parameters"))...)
	if sc.ReclaimPolicy != nil && *sc.ReclaimPolicy != "" {
		policies := []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain}
		if !slices.Contains(policies, *sc.ReclaimPolicy) {
			errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *sc.ReclaimPolicy, policies))
		}
	}
	mp := field.NewPath("volumeBindingMode")
	modes := []storagev1.VolumeBindingMode{storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer}
	switch {
	case sc.VolumeBindingMode == nil:
		errs = append(errs, field.Required(mp, ""))
	case !slices.Contains(modes, *sc.VolumeBindingMode):
		errs = append(errs, field.NotSupported(mp, *sc.VolumeBindingMode, modes))
	}
	return append(errs, storageClassValidateTopologies(sc.AllowedTopologies, field.NewPath("allowedTopologies"))...)
}

func storageValidateParameters(params map[string]string, fldPath *field.Path) field.ErrorList {
	if len(params) > storageClassMaxParameters {
		return field.ErrorList{field.TooLong(fldPath, "Provisioner Parameters exceeded max allowed", storageClassMaxParameters)}
	}
	var errs field.ErrorList
	size := 0
	for k, v := range params {
		if k == "" {
			errs = append(errs, field.Invalid(fldPath, k, "field can not be empty."))
		}
		size += len(k) + len(v)
	}
	if size > storageClassMaxParametersSize {
		errs = append(errs, field.TooLong(fldPath, "", storageClassMaxParametersSize))
	}
	return errs
}

func storageClassValidateTopologies(terms []corev1.TopologySelectorTerm, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, term := range terms {
		keys := sets.New[string]()
		for j, req := range term.MatchLabelExpressions {
			p := fldPath.Index(i).Child("matchLabelExpressions").Index(j)
			if len(req.Values) == 0 {
				errs = append(errs, field.Required(p.Child("values"), "must specify as least one value"))
			}
			values := sets.New[string]()
			for k, v := range req.Values {
				if values.Has(v) {
					errs = append(errs, field.Duplicate(p.Child("values").Index(k), v))
				}
				values.Insert(v)
			}
			errs = append(errs, metavalidation.ValidateLabelName(req.Key, p.Child("key"))...)
			if keys.Has(req.Key) {
				errs = append(errs, field.Duplicate(p.Child("key"), req.Key))
			}
			keys.Insert(req.Key)
		}
	}
	return errs
}

func storageClassTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("Provisioner", "string", "provisioner indicates the type of the provisioner.", 0),
			column("ReclaimPolicy", "string", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.", 0),
			column("VolumeBindingMode", "string", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.", 0),
			column("AllowVolumeExpansion", "string", "allowVolumeExpansion shows whether the storage class allow volume expand.", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) []any {
			sc := obj.(*storagev1.StorageClass)
			reclaim := string(corev1.PersistentVolumeReclaimDelete)
			if sc.ReclaimPolicy != nil {
				reclaim = string(*sc.ReclaimPolicy)
			}
			binding := string(storagev1.VolumeBindingImmediate)
			if sc.VolumeBindingMode != nil {
				binding = string(*sc.VolumeBindingMode)
			}
			expand := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
			return []any{sc.Provisioner, reclaim, binding, expand, age(sc.CreationTimestamp)}
		},
	}
}

// storageValidateDriverName checks a CSI driver name: a DNS subdomain of
// at most 63 characters that starts and ends with an alphanumeric.
func storageValidateDriverName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if len(name) > csiDriverMaxNameLength {
		return field.ErrorList{field.TooLong(fldPath, "", csiDriverMaxNameLength)}
	}
	return groupDNSSubdomain(strings.ToLower(name), fldPath)
}

// --- CSIDriver ---

func csiDriverResource() *Resource {
	return &Resource{
		Group: "storage.k8s.io", Version: "v1", Kind: "CSIDriver",
		Plural: "csidrivers", Singular: "csidriver",
		New:     func() runtime.Object { return &storagev1.CSIDriver{} },
		NewList: func() runtime.Object { return &storagev1.CSIDriverList{} },
		Default: func(obj runtime.Object) { csiDriverDefault(&obj.(*storagev1.CSIDriver).Spec) },
		Validate: func(obj runtime.Object) field.ErrorList {
			d := obj.(*storagev1.CSIDriver)
			errs := storageValidateDriverName(d.Name, field.NewPath("metadata", "name"))
			return append(errs, csiDriverValidateSpec(&d.Spec, field.NewPath("spec"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := &obj.(*storagev1.CSIDriver).Spec, &old.(*storagev1.CSIDriver).Spec
			p := field.NewPath("spec")
			errs := csiDriverValidateSpec(s, p)
			errs = append(errs, groupImmutable(s.AttachRequired, o.AttachRequired, p.Child("attachRequired"))...)
			errs = append(errs, groupImmutable(s.FSGroupPolicy, o.FSGroupPolicy, p.Child("fsGroupPolicy"))...)
			return append(errs, groupImmutable(s.VolumeLifecycleModes, o.VolumeLifecycleModes, p.Child("volumeLifecycleModes"))...)
		},
		Table: csiDriverTable(),
	}
}

func csiDriverDefault(s *storagev1.CSIDriverSpec) {
	for _, b := range []**bool{&s.PodInfoOnMount, &s.StorageCapacity, &s.RequiresRepublish, &s.SELinuxMount} {
		if *b == nil {
			*b = new(false)
		}
	}
	if s.AttachRequired == nil {
		s.AttachRequired = new(true)
	}
	if s.FSGroupPolicy == nil {
		s.FSGroupPolicy = new(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)
	}
	if len(s.VolumeLifecycleModes) == 0 {
		s.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}
	}
}

func csiDriverValidateSpec(s *storagev1.CSIDriverSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		v    *bool
	}{
		{"attachRequired", s.AttachRequired}, {"podInfoOnMount", s.PodInfoOnMount},
		{"storageCapacity", s.StorageCapacity}, {"requiresRepublish", s.RequiresRepublish},
	} {
		if f.v == nil {
			errs = append(errs, field.Required(fldPath.Child(f.name), ""))
		}
	}
	policies := []storagev1.FSGroupPolicy{storagev1.FileFSGroupPolicy, storagev1.NoneFSGroupPolicy, storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy}
	if s.FSGroupPolicy != nil && !slices.Contains(policies, *s.FSGroupPolicy) {
		errs = append(errs, field.NotSupported(fldPath.Child("fsGroupPolicy"), *s.FSGroupPolicy, policies))
	}
	modes := []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral, storagev1.VolumeLifecyclePersistent}
	for i, m := range s.VolumeLifecycleModes {
		if !slices.Contains(modes, m) {
			errs = append(errs, field.NotSupported(fldPath.Child("volumeLifecycleModes").Index(i), m, modes))
		}
	}
	audiences := sets.New[string]()
	for i, tr := range s.TokenRequests {
		p := fldPath.Child("tokenRequests").Index(i)
		if audiences.Has(tr.Audience) {
			errs = append(errs, field.Duplicate(p.Child("audience"), tr.Audience))
		}
		audiences.Insert(tr.Audience)
		if tr.ExpirationSeconds != nil && *tr.ExpirationSeconds < 600 {
			errs = append(errs, field.Invalid(p.Child("expirationSeconds"), *tr.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
		}
	}
	return errs
}

func csiDriverTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("AttachRequired", "boolean", "Indicates this CSI volume driver requires an attach operation.", 0),
			column("PodInfoOnMount", "boolean", "Indicates this CSI volume driver requires additional pod information during mount operations.", 0),
			column("StorageCapacity", "boolean", "Indicates that the CSI volume driver wants pod scheduling to consider the storage capacity.", 0),
			column("TokenRequests", "string", "Indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication.", 0),
			column("RequiresRepublish", "boolean", "Indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume.", 0),
			column("Modes", "string", "Defines what kind of volumes this CSI volume driver supports.", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) []any {
			d := obj.(*storagev1.CSIDriver)
			tokens := "<unset>"
			if len(d.Spec.TokenRequests) > 0 {
				var auds []string
				for _, t := range d.Spec.TokenRequests {
					auds = append(auds, t.Audience)
				}
				tokens = strings.Join(auds, ",")
			}
			modes := "<none>"
			if len(d.Spec.VolumeLifecycleModes) > 0 {
				var m []string
				for _, mode := range d.Spec.VolumeLifecycleModes {
					m = append(m, string(mode))
				}
				modes = strings.Join(m, ",")
			}
			b := func(v *bool) bool { return v != nil && *v }
			return []any{
				b(d.Spec.AttachRequired), b(d.Spec.PodInfoOnMount), b(d.Spec.StorageCapacity), tokens,
				b(d.Spec.RequiresRepublish), modes, age(d.CreationTimestamp),
			}
		},
	}
}

// --- CSINode ---

func csiNodeResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		var errs field.ErrorList
		names := sets.New[string]()
		for i, d := range obj.(*storagev1.CSINode).Spec.Drivers {
			p := field.NewPath("spec", "drivers").Index(i)
			errs = append(errs, storageValidateDriverName(d.Name, p.Child("name"))...)
			if names.Has(d.Name) {
				errs = append(errs, field.Duplicate(p.Child("name"), d.Name))
			}
			names.Insert(d.Name)
			if d.NodeID == "" {
				errs = append(errs, field.Required(p.Child("nodeID"), ""))
			}
			if d.Allocatable != nil && d.Allocatable.Count != nil {
				errs = append(errs, groupNonNegative(int64(*d.Allocatable.Count), p.Child("allocatable", "count"))...)
			}
		}
		return errs
	}
	return &Resource{
		Group: "storage.k8s.io", Version: "v1", Kind: "CSINode",
		Plural: "csinodes", Singular: "csinode",
		New:      func() runtime.Object { return &storagev1.CSINode{} },
		NewList:  func() runtime.Object { return &storagev1.CSINodeList{} },
		Validate: validate,
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			errs := validate(obj)
			// A registered driver keeps its node ID and topology keys.
			oldDrivers := map[string]storagev1.CSINodeDriver{}
			for _, d := range old.(*storagev1.CSINode).Spec.Drivers {
				oldDrivers[d.Name] = d
			}
			for i, d := range obj.(*storagev1.CSINode).Spec.Drivers {
				o, ok := oldDrivers[d.Name]
				if !ok {
					continue
				}
				p := field.NewPath("spec", "drivers").Index(i)
				errs = append(errs, groupImmutable(d.NodeID, o.NodeID, p.Child("nodeID"))...)
				errs = append(errs, groupImmutable(d.TopologyKeys, o.TopologyKeys, p.Child("topologyKeys"))...)
			}
			return errs
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				n := obj.(*storagev1.CSINode)
				return []any{int64(len(n.Spec.Drivers)), age(n.CreationTimestamp)}
			},
		},
	}
}

// --- VolumeAttachment ---

func volumeAttachmentResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		s := &obj.(*storagev1.VolumeAttachment).Spec
		p := field.NewPath("spec")
		errs := storageValidateDriverName(s.Attacher, p.Child("attacher"))
		if s.NodeName == "" {
			errs = append(errs, field.Required(p.Child("nodeName"), ""))
		} else {
			errs = append(errs, groupDNSSubdomain(s.NodeName, p.Child("nodeName"))...)
		}
		sp := p.Child("source")
		switch hasPV, hasInline := s.Source.PersistentVolumeName != nil, s.Source.InlineVolumeSpec != nil; {
		case hasPV == hasInline:
			errs = append(errs, field.Required(sp, "must specify exactly one of persistentVolumeName and inlineVolumeSpec"))
		case hasPV && *s.Source.PersistentVolumeName == "":
			errs = append(errs, field.Required(sp.Child("persistentVolumeName"), "must specify non empty persistentVolumeName"))
		}
		return errs
	}
	return &Resource{
		Group: "storage.k8s.io", Version: "v1", Kind: "VolumeAttachment",
		Plural: "volumeattachments", Singular: "volumeattachment",
		New:     func() runtime.Object { return &storagev1.VolumeAttachment{} },
		NewList: func() runtime.Object { return &storagev1.VolumeAttachmentList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*storagev1.VolumeAttachment).Status = storagev1.VolumeAttachmentStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*storagev1.VolumeAttachment).Status = old.(*storagev1.VolumeAttachment).Status
		},
		Validate: validate,
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			errs := validate(obj)
			s, o := obj.(*storagev1.VolumeAttachment).Spec, old.(*storagev1.VolumeAttachment).Spec
			if !apiequality.Semantic.DeepEqual(s, o) {
				errs = append(errs, field.Invalid(field.NewPath("spec"), s, "field is immutable"))
			}
			return errs
		},
		Status: &StatusSubresource{},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Attacher", "string", "Attacher indicates the name of the volume driver that MUST handle this request.", 0),
				column("PV", "string", "Name of the persistent volume to attach.", 0),
				column("Node", "string", "The node that the volume should be attached to.", 0),
				column("Attached", "boolean", "Indicates the volume is successfully attached.", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				va := obj.(*storagev1.VolumeAttachment)
				var pv string
				if va.Spec.Source.PersistentVolumeName != nil {
					pv = *va.Spec.Source.PersistentVolumeName
				}
				return []any{va.Spec.Attacher, pv, va.Spec.NodeName, va.Status.Attached, age(va.CreationTimestamp)}
			},
		},
	}
}
