package registry

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// apps/v1: deployments, replicasets, daemonsets and controllerrevisions
// (statefulsets live in apps_statefulset.go).

func appsResources() []*Resource {
	return []*Resource{
		deploymentResource(),
		replicaSetResource(),
		statefulSetResource(),
		daemonSetResource(),
		controllerRevisionResource(),
	}
}

// appsValidateTemplate checks the pod template of a replica-style
// controller: it must be selected by the selector, be a valid template,
// restart Always and set no activeDeadlineSeconds. kind names the
// controller in the activeDeadlineSeconds message, as upstream.
func appsValidateTemplate(tmpl *corev1.PodTemplateSpec, sel *metav1.LabelSelector, fldPath *field.Path, kind string) field.ErrorList {
	errs := groupSelectorMatchesTemplate(sel, tmpl, fldPath, "invalid label selector")
	tmplPath := fldPath.Child("template")
	errs = append(errs, validatePodTemplateSpec(tmpl, tmplPath)...)
	if tmpl.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tmplPath.Child("spec", "restartPolicy"), tmpl.Spec.RestartPolicy,
			[]corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if tmpl.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tmplPath.Child("spec", "activeDeadlineSeconds"),
			fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind)))
	}
	return errs
}

// appsReplicas reads an optional replica count (nil is 0, as an unset
// count is defaulted before validation).
func appsReplicas(r *int32) int32 {
	if r == nil {
		return 0
	}
	return *r
}

// appsScaleSelector returns the string form of a selector for /scale.
func appsScaleSelector(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}

// appsValidateReplicaStatus checks the counters every replica-style status
// has: non-negative, and no subset larger than the whole.
func appsValidateReplicaStatus(observedGeneration int64, replicas int32, subsets map[string]int32, fldPath *field.Path) field.ErrorList {
	errs := groupNonNegative(observedGeneration, fldPath.Child("observedGeneration"))
	errs = append(errs, groupNonNegative(int64(replicas), fldPath.Child("replicas"))...)
	for _, name := range []string{"updatedReplicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "currentReplicas", "unavailableReplicas"} {
		v, ok := subsets[name]
		if !ok {
			continue
		}
		errs = append(errs, groupNonNegative(int64(v), fldPath.Child(name))...)
		if name != "unavailableReplicas" && v > replicas {
			errs = append(errs, field.Invalid(fldPath.Child(name), v, "cannot be greater than status.replicas"))
		}
	}
	if subsets["availableReplicas"] > subsets["readyReplicas"] {
		errs = append(errs, field.Invalid(fldPath.Child("availableReplicas"), subsets["availableReplicas"], "cannot be greater than readyReplicas"))
	}
	return errs
}

// appsValidateCollisionCount rejects a negative or decremented collisionCount.
func appsValidateCollisionCount(n, old *int32, fldPath *field.Path) field.ErrorList {
	if n == nil {
		return nil
	}
	errs := groupNonNegative(int64(*n), fldPath)
	if old != nil && *n < *old {
		errs = append(errs, field.Invalid(fldPath, *n, "cannot be decremented"))
	}
	return errs
}

// --- Deployment ---

func deploymentResource() *Resource {
	return &Resource{
		Group: "apps", Version: "v1", Kind: "Deployment",
		Plural: "deployments", Singular: "deployment",
		ShortNames: []string{"deploy"}, Categories: []string{"all"}, Namespaced: true,
		New:     func() runtime.Object { return &appsv1.Deployment{} },
		NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
		Default: func(obj runtime.Object) { deploymentDefault(obj.(*appsv1.Deployment)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.Deployment).Status = appsv1.DeploymentStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*appsv1.Deployment).Status = old.(*appsv1.Deployment).Status
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return deploymentValidateSpec(&obj.(*appsv1.Deployment).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			errs := deploymentValidateSpec(&d.Spec, field.NewPath("spec"))
			return append(errs, groupImmutable(d.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))...)
		},
		Status: &StatusSubresource{ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := &obj.(*appsv1.Deployment).Status, &old.(*appsv1.Deployment).Status
			p := field.NewPath("status")
			errs := appsValidateReplicaStatus(s.ObservedGeneration, s.Replicas, map[string]int32{
				"updatedReplicas": s.UpdatedReplicas, "readyReplicas": s.ReadyReplicas,
				"availableReplicas": s.AvailableReplicas, "unavailableReplicas": s.UnavailableReplicas,
			}, p)
			return append(errs, appsValidateCollisionCount(s.CollisionCount, o.CollisionCount, p.Child("collisionCount"))...)
		}},
		Scale: &ScaleSubresource{
			Get: func(obj runtime.Object) (int32, int32, string) {
				d := obj.(*appsv1.Deployment)
				return appsReplicas(d.Spec.Replicas), d.Status.Replicas, appsScaleSelector(d.Spec.Selector)
			},
			Set: func(obj runtime.Object, replicas int32) { obj.(*appsv1.Deployment).Spec.Replicas = &replicas },
		},
		Table: deploymentTable(),
	}
}

func deploymentDefault(d *appsv1.Deployment) {
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = new(int32(1))
	}
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = new(intstr.FromString("25%"))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = new(intstr.FromString("25%"))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = new(int32(10))
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = new(int32(600))
	}
	defaultPodTemplateSpec(&d.Spec.Template)
}

func deploymentValidateSpec(spec *appsv1.DeploymentSpec, fldPath *field.Path) field.ErrorList {
	errs := groupNonNegative(int64(appsReplicas(spec.Replicas)), fldPath.Child("replicas"))
	errs = append(errs, groupWorkloadSelector(spec.Selector, "deployment", fldPath.Child("selector"))...)
	errs = append(errs, appsValidateTemplate(&spec.Template, spec.Selector, fldPath, "ReplicaSet")...)
	errs = append(errs, deploymentValidateStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	errs = append(errs, groupNonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, groupNonNegative(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	if spec.ProgressDeadlineSeconds != nil {
		p := fldPath.Child("progressDeadlineSeconds")
		errs = append(errs, groupPositive(int64(*spec.ProgressDeadlineSeconds), p)...)
		if *spec.ProgressDeadlineSeconds <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(p, *spec.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func deploymentValidateStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"),
				"may not be specified when strategy `type` is 'Recreate'")}
		}
		return nil
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		p := fldPath.Child("rollingUpdate")
		var maxUnavailable, maxSurge intstr.IntOrString
		if s.RollingUpdate.MaxUnavailable != nil {
			maxUnavailable = *s.RollingUpdate.MaxUnavailable
		}
		if s.RollingUpdate.MaxSurge != nil {
			maxSurge = *s.RollingUpdate.MaxSurge
		}
		errs := groupIntOrPercent(maxUnavailable, p.Child("maxUnavailable"))
		errs = append(errs, groupIntOrPercent(maxSurge, p.Child("maxSurge"))...)
		if groupIntOrPercentValue(maxUnavailable) == 0 && groupIntOrPercentValue(maxSurge) == 0 {
			errs = append(errs, field.Invalid(p.Child("maxUnavailable"), maxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
		return append(errs, groupNotMoreThan100Percent(maxUnavailable, p.Child("maxUnavailable"))...)
	default:
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), s.Type,
			[]appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
}

func deploymentTable() *Table {
	cols := []metav1.TableColumnDefinition{
		column("Ready", "string", "Number of the pod with ready state", 0),
		column("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0),
		column("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0),
		ageColumn,
	}
	cols = append(cols, groupContainerColumns()...)
	cols = append(cols, column("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", 1))
	return &Table{
		Columns: cols,
		Row: func(obj runtime.Object) []any {
			d := obj.(*appsv1.Deployment)
			names, images := groupContainerCells(d.Spec.Template.Spec.Containers)
			return []any{
				fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, appsReplicas(d.Spec.Replicas)),
				int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas),
				age(d.CreationTimestamp), names, images, groupSelectorString(d.Spec.Selector),
			}
		},
	}
}

// --- ReplicaSet ---

func replicaSetResource() *Resource {
	return &Resource{
		Group: "apps", Version: "v1", Kind: "ReplicaSet",
		Plural: "replicasets", Singular: "replicaset",
		ShortNames: []string{"rs"}, Categories: []string{"all"}, Namespaced: true,
		New:     func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} },
		Default: func(obj runtime.Object) {
			rs := obj.(*appsv1.ReplicaSet)
			if rs.Spec.Replicas == nil {
				rs.Spec.Replicas = new(int32(1))
			}
			defaultPodTemplateSpec(&rs.Spec.Template)
		},
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.ReplicaSet).Status = appsv1.ReplicaSetStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*appsv1.ReplicaSet).Status = old.(*appsv1.ReplicaSet).Status
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return replicaSetValidateSpec(&obj.(*appsv1.ReplicaSet).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			rs, o := obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet)
			errs := replicaSetValidateSpec(&rs.Spec, field.NewPath("spec"))
			return append(errs, groupImmutable(rs.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))...)
		},
		Status: &StatusSubresource{ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			s := &obj.(*appsv1.ReplicaSet).Status
			return appsValidateReplicaStatus(s.ObservedGeneration, s.Replicas, map[string]int32{
				"fullyLabeledReplicas": s.FullyLabeledReplicas, "readyReplicas": s.ReadyReplicas,
				"availableReplicas": s.AvailableReplicas,
			}, field.NewPath("status"))
		}},
		Scale: &ScaleSubresource{
			Get: func(obj runtime.Object) (int32, int32, string) {
				rs := obj.(*appsv1.ReplicaSet)
				return appsReplicas(rs.Spec.Replicas), rs.Status.Replicas, appsScaleSelector(rs.Spec.Selector)
			},
			Set: func(obj runtime.Object, replicas int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &replicas },
		},
		Table: replicaSetTable(),
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.replicas": fmt.Sprint(obj.(*appsv1.ReplicaSet).Status.Replicas)}
		},
	}
}

func replicaSetValidateSpec(spec *appsv1.ReplicaSetSpec, fldPath *field.Path) field.ErrorList {
	errs := groupNonNegative(int64(appsReplicas(spec.Replicas)), fldPath.Child("replicas"))
	errs = append(errs, groupNonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	// Upstream says "deployment" here too.
	errs = append(errs, groupWorkloadSelector(spec.Selector, "deployment", fldPath.Child("selector"))...)
	return append(errs, appsValidateTemplate(&spec.Template, spec.Selector, fldPath, "ReplicaSet")...)
}

func replicaSetTable() *Table {
	cols := []metav1.TableColumnDefinition{
		column("Desired", "integer", "Replicas is the number of desired replicas.", 0),
		column("Current", "integer", "Replicas is the most recently observed number of replicas.", 0),
		column("Ready", "integer", "The number of ready replicas for this replica set.", 0),
		ageColumn,
	}
	cols = append(cols, groupContainerColumns()...)
	cols = append(cols, column("Selector", "string", "Selector is a label query over pods that should match the replica count.", 1))
	return &Table{
		Columns: cols,
		Row: func(obj runtime.Object) []any {
			rs := obj.(*appsv1.ReplicaSet)
			names, images := groupContainerCells(rs.Spec.Template.Spec.Containers)
			return []any{
				int64(appsReplicas(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
				age(rs.CreationTimestamp), names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
			}
		},
	}
}

// --- DaemonSet ---

func daemonSetResource() *Resource {
	return &Resource{
		Group: "apps", Version: "v1", Kind: "DaemonSet",
		Plural: "daemonsets", Singular: "daemonset",
		ShortNames: []string{"ds"}, Categories: []string{"all"}, Namespaced: true,
		New:     func() runtime.Object { return &appsv1.DaemonSet{} },
		NewList: func() runtime.Object { return &appsv1.DaemonSetList{} },
		Default: func(obj runtime.Object) { daemonSetDefault(obj.(*appsv1.DaemonSet)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.DaemonSet).Status = appsv1.DaemonSetStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*appsv1.DaemonSet).Status = old.(*appsv1.DaemonSet).Status
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return daemonSetValidateSpec(&obj.(*appsv1.DaemonSet).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			errs := daemonSetValidateSpec(&ds.Spec, field.NewPath("spec"))
			return append(errs, groupImmutable(ds.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))...)
		},
		Status: &StatusSubresource{ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := &obj.(*appsv1.DaemonSet).Status, &old.(*appsv1.DaemonSet).Status
			p := field.NewPath("status")
			errs := groupNonNegative(s.ObservedGeneration, p.Child("observedGeneration"))
			for _, f := range []struct {
				name string
				v    int32
			}{
				{"currentNumberScheduled", s.CurrentNumberScheduled}, {"numberMisscheduled", s.NumberMisscheduled},
				{"desiredNumberScheduled", s.DesiredNumberScheduled}, {"numberReady", s.NumberReady},
				{"updatedNumberScheduled", s.UpdatedNumberScheduled}, {"numberAvailable", s.NumberAvailable},
				{"numberUnavailable", s.NumberUnavailable},
			} {
				errs = append(errs, groupNonNegative(int64(f.v), p.Child(f.name))...)
			}
			return append(errs, appsValidateCollisionCount(s.CollisionCount, o.CollisionCount, p.Child("collisionCount"))...)
		}},
		Table: daemonSetTable(),
	}
}

func daemonSetDefault(ds *appsv1.DaemonSet) {
	s := &ds.Spec.UpdateStrategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if s.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(1))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = new(intstr.FromInt32(0))
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ds.Spec.RevisionHistoryLimit = new(int32(10))
	}
	defaultPodTemplateSpec(&ds.Spec.Template)
}

func daemonSetValidateSpec(spec *appsv1.DaemonSetSpec, fldPath *field.Path) field.ErrorList {
	errs := groupWorkloadSelector(spec.Selector, "daemonset", fldPath.Child("selector"))
	errs = append(errs, appsValidateTemplate(&spec.Template, spec.Selector, fldPath, "DaemonSet")...)
	errs = append(errs, groupNonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	errs = append(errs, daemonSetValidateStrategy(&spec.UpdateStrategy, fldPath.Child("updateStrategy"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, groupNonNegative(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	return errs
}

func daemonSetValidateStrategy(s *appsv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		p := fldPath.Child("rollingUpdate")
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(p, "")}
		}
		var maxUnavailable, maxSurge intstr.IntOrString
		if s.RollingUpdate.MaxUnavailable != nil {
			maxUnavailable = *s.RollingUpdate.MaxUnavailable
		}
		if s.RollingUpdate.MaxSurge != nil {
			maxSurge = *s.RollingUpdate.MaxSurge
		}
		errs := groupIntOrPercent(maxUnavailable, p.Child("maxUnavailable"))
		errs = append(errs, groupIntOrPercent(maxSurge, p.Child("maxSurge"))...)
		errs = append(errs, groupNotMoreThan100Percent(maxUnavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, groupNotMoreThan100Percent(maxSurge, p.Child("maxSurge"))...)
		hasUnavailable := groupIntOrPercentValue(maxUnavailable) != 0
		hasSurge := groupIntOrPercentValue(maxSurge) != 0
		switch {
		case hasUnavailable && hasSurge:
			errs = append(errs, field.Invalid(p.Child("maxSurge"), maxSurge, "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			errs = append(errs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return errs
	default:
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), s.Type,
			[]appsv1.DaemonSetUpdateStrategyType{appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType})}
	}
}

func daemonSetTable() *Table {
	cols := []metav1.TableColumnDefinition{
		column("Desired", "integer", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).", 0),
		column("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.", 0),
		column("Ready", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.", 0),
		column("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod", 0),
		column("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)", 0),
		column("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node.", 0),
		ageColumn,
	}
	cols = append(cols, groupContainerColumns()...)
	cols = append(cols, column("Selector", "string", "A label query over pods that are managed by the daemon set.", 1))
	return &Table{
		Columns: cols,
		Row: func(obj runtime.Object) []any {
			ds := obj.(*appsv1.DaemonSet)
			names, images := groupContainerCells(ds.Spec.Template.Spec.Containers)
			return []any{
				int64(ds.Status.DesiredNumberScheduled), int64(ds.Status.CurrentNumberScheduled),
				int64(ds.Status.NumberReady), int64(ds.Status.UpdatedNumberScheduled), int64(ds.Status.NumberAvailable),
				labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector), age(ds.CreationTimestamp),
				names, images, metav1.FormatLabelSelector(ds.Spec.Selector),
			}
		},
	}
}

// --- ControllerRevision ---

func controllerRevisionResource() *Resource {
	validate := func(cr *appsv1.ControllerRevision) field.ErrorList {
		var errs field.ErrorList
		if cr.Data.Raw == nil && cr.Data.Object == nil {
			errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
		}
		return append(errs, groupNonNegative(cr.Revision, field.NewPath("revision"))...)
	}
	return &Resource{
		Group: "apps", Version: "v1", Kind: "ControllerRevision",
		Plural: "controllerrevisions", Singular: "controllerrevision", Namespaced: true,
		New:      func() runtime.Object { return &appsv1.ControllerRevision{} },
		NewList:  func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		Validate: func(obj runtime.Object) field.ErrorList { return validate(obj.(*appsv1.ControllerRevision)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			cr, o := obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision)
			errs := validate(cr)
			return append(errs, groupImmutable(cr.Data, o.Data, field.NewPath("data"))...)
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Controller", "string", "Controller of the object", 0),
				column("Revision", "integer", "Revision indicates the revision of the state represented by Data.", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				cr := obj.(*appsv1.ControllerRevision)
				controller := "<none>"
				if ref := metav1.GetControllerOf(cr); ref != nil {
					if gv, err := schema.ParseGroupVersion(ref.APIVersion); err == nil {
						gk := schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
						controller = strings.ToLower(gk.String()) + "/" + ref.Name
					}
				}
				return []any{controller, cr.Revision, age(cr.CreationTimestamp)}
			},
		},
	}
}
