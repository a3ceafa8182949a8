package registry

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// apps/v1 statefulsets.

func statefulSetResource() *Resource {
	return &Resource{
		Group: "apps", Version: "v1", Kind: "StatefulSet",
		Plural: "statefulsets", Singular: "statefulset",
		ShortNames: []string{"sts"}, Categories: []string{"all"}, Namespaced: true,
		New:     func() runtime.Object { return &appsv1.StatefulSet{} },
		NewList: func() runtime.Object { return &appsv1.StatefulSetList{} },
		Default: func(obj runtime.Object) { statefulSetDefault(obj.(*appsv1.StatefulSet)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.StatefulSet).Status = appsv1.StatefulSetStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*appsv1.StatefulSet).Status = old.(*appsv1.StatefulSet).Status
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return statefulSetValidateSpec(&obj.(*appsv1.StatefulSet).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return statefulSetValidateUpdate(obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet))
		},
		Status: &StatusSubresource{ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := &obj.(*appsv1.StatefulSet).Status, &old.(*appsv1.StatefulSet).Status
			p := field.NewPath("status")
			errs := appsValidateReplicaStatus(s.ObservedGeneration, s.Replicas, map[string]int32{
				"readyReplicas": s.ReadyReplicas, "currentReplicas": s.CurrentReplicas,
				"updatedReplicas": s.UpdatedReplicas, "availableReplicas": s.AvailableReplicas,
			}, p)
			return append(errs, appsValidateCollisionCount(s.CollisionCount, o.CollisionCount, p.Child("collisionCount"))...)
		}},
		Scale: &ScaleSubresource{
			Get: func(obj runtime.Object) (int32, int32, string) {
				ss := obj.(*appsv1.StatefulSet)
				return appsReplicas(ss.Spec.Replicas), ss.Status.Replicas, appsScaleSelector(ss.Spec.Selector)
			},
			Set: func(obj runtime.Object, replicas int32) { obj.(*appsv1.StatefulSet).Spec.Replicas = &replicas },
		},
		Table: statefulSetTable(),
	}
}

func statefulSetDefault(ss *appsv1.StatefulSet) {
	spec := &ss.Spec
	if spec.PodManagementPolicy == "" {
		spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if spec.UpdateStrategy.Type == "" {
		spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if spec.UpdateStrategy.RollingUpdate == nil {
			spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := spec.UpdateStrategy.RollingUpdate; spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ru != nil {
		if ru.Partition == nil {
			ru.Partition = new(int32(0))
		}
		// MaxUnavailableStatefulSet is on by default since 1.37.
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = new(intstr.FromInt32(1))
		}
	}
	if spec.PersistentVolumeClaimRetentionPolicy == nil {
		spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted == "" {
		spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if spec.PersistentVolumeClaimRetentionPolicy.WhenScaled == "" {
		spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if spec.Replicas == nil {
		spec.Replicas = new(int32(1))
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = new(int32(10))
	}
	defaultPodTemplateSpec(&spec.Template)
	for i := range spec.VolumeClaimTemplates {
		// Claim templates get the PersistentVolumeClaim defaults.
		c := &spec.VolumeClaimTemplates[i]
		if c.Spec.VolumeMode == nil {
			c.Spec.VolumeMode = new(corev1.PersistentVolumeFilesystem)
		}
		if c.Status.Phase == "" {
			c.Status.Phase = corev1.ClaimPending
		}
	}
}

func statefulSetValidateSpec(spec *appsv1.StatefulSetSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(fldPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(fldPath.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	errs = append(errs, statefulSetValidateStrategy(&spec.UpdateStrategy, fldPath.Child("updateStrategy"))...)
	errs = append(errs, statefulSetValidateRetention(spec.PersistentVolumeClaimRetentionPolicy, fldPath.Child("persistentVolumeClaimRetentionPolicy"))...)
	errs = append(errs, groupNonNegative(int64(appsReplicas(spec.Replicas)), fldPath.Child("replicas"))...)
	errs = append(errs, groupNonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, groupNonNegative(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	if spec.Ordinals != nil {
		errs = append(errs, groupNonNegative(int64(spec.Ordinals.Start), fldPath.Child("ordinals.start"))...)
	}
	// serviceName is optional; when set it becomes the pods' subdomain.
	if spec.ServiceName != "" {
		errs = append(errs, groupDNSLabel(spec.ServiceName, fldPath.Child("serviceName"))...)
	}
	errs = append(errs, groupWorkloadSelector(spec.Selector, "statefulset", fldPath.Child("selector"))...)
	// Containers may mount the claim templates: validate the template as
	// the controller will create its pods, with one volume per claim.
	// Nameless or duplicate claims are reported on volumeClaimTemplates.
	tmpl := spec.Template.DeepCopy()
	seen := map[string]bool{}
	for _, v := range tmpl.Spec.Volumes {
		seen[v.Name] = true
	}
	for _, c := range spec.VolumeClaimTemplates {
		if c.Name == "" || seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		tmpl.Spec.Volumes = append(tmpl.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
	}
	errs = append(errs, appsValidateTemplate(tmpl, spec.Selector, fldPath, "StatefulSet")...)
	return append(errs, statefulSetValidateClaimTemplates(spec.VolumeClaimTemplates, fldPath.Child("volumeClaimTemplates"))...)
}

func statefulSetValidateStrategy(s *appsv1.StatefulSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Invalid(fldPath.Child("rollingUpdate"), s.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType))}
		}
		return nil
	case appsv1.RollingUpdateStatefulSetStrategyType:
		ru := s.RollingUpdate
		if ru == nil {
			return nil
		}
		p := fldPath.Child("rollingUpdate")
		var errs field.ErrorList
		if ru.Partition != nil {
			errs = append(errs, groupNonNegative(int64(*ru.Partition), p.Child("partition"))...)
		}
		if ru.MaxUnavailable != nil {
			mp := p.Child("maxUnavailable")
			errs = append(errs, groupIntOrPercent(*ru.MaxUnavailable, mp)...)
			if groupIntOrPercentValue(*ru.MaxUnavailable) == 0 {
				errs = append(errs, field.Invalid(mp, *ru.MaxUnavailable, "must not be 0"))
			}
			errs = append(errs, groupNotMoreThan100Percent(*ru.MaxUnavailable, mp)...)
		}
		return errs
	default:
		return field.ErrorList{field.Invalid(fldPath, s, fmt.Sprintf("must be '%s' or '%s'",
			appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType))}
	}
}

func statefulSetValidateRetention(p *appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	valid := []appsv1.PersistentVolumeClaimRetentionPolicyType{
		appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		v    appsv1.PersistentVolumeClaimRetentionPolicyType
	}{{"whenDeleted", p.WhenDeleted}, {"whenScaled", p.WhenScaled}} {
		switch f.v {
		case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		default:
			errs = append(errs, field.NotSupported(fldPath.Child(f.name), f.v, valid))
		}
	}
	return errs
}

// statefulSetValidateClaimTemplates checks what the controller needs to
// stamp claims out of the templates: a valid, unique name each. (Upstream
// only warns here; a nameless template could never produce a claim.)
func statefulSetValidateClaimTemplates(claims []corev1.PersistentVolumeClaim, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, c := range claims {
		p := fldPath.Index(i).Child("metadata", "name")
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(p, ""))
		case seen.Has(c.Name):
			errs = append(errs, field.Duplicate(p, c.Name))
		default:
			errs = append(errs, groupDNSSubdomain(c.Name, p)...)
		}
		seen.Insert(c.Name)
	}
	return errs
}

func statefulSetValidateUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	errs := statefulSetValidateSpec(&ss.Spec, field.NewPath("spec"))
	// Everything but these fields is fixed at creation.
	spec := *ss.Spec.DeepCopy()
	spec.Replicas = old.Spec.Replicas
	spec.Template = old.Spec.Template
	spec.UpdateStrategy = old.Spec.UpdateStrategy
	spec.MinReadySeconds = old.Spec.MinReadySeconds
	spec.Ordinals = old.Spec.Ordinals
	spec.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	spec.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	if !apiequality.Semantic.DeepEqual(spec, old.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than "+
			"'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "+
			"'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return errs
}

func statefulSetTable() *Table {
	cols := []metav1.TableColumnDefinition{
		column("Ready", "string", "Number of the pod with ready state", 0),
		ageColumn,
	}
	return &Table{
		Columns: append(cols, groupContainerColumns()...),
		Row: func(obj runtime.Object) []any {
			ss := obj.(*appsv1.StatefulSet)
			names, images := groupContainerCells(ss.Spec.Template.Spec.Containers)
			return []any{
				fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, appsReplicas(ss.Spec.Replicas)),
				age(ss.CreationTimestamp), names, images,
			}
		},
	}
}
