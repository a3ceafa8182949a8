package registry

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func appsTestTemplate(labels map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}},
	}
}

func appsTestSelector(labels map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: labels}
}

func appsTestLabels() map[string]string { return map[string]string{"app": "web"} }

func appsTestDeployment(mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Selector: appsTestSelector(appsTestLabels()),
			Template: appsTestTemplate(appsTestLabels()),
		},
	}
	deploymentDefault(d)
	if mutate != nil {
		mutate(d)
	}
	return d
}

func appsTestStatefulSet(mutate func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	ss := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: "db",
			Selector:    appsTestSelector(appsTestLabels()),
			Template:    appsTestTemplate(appsTestLabels()),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: resource.MustParse("1Gi"),
					}},
				},
			}},
		},
	}
	statefulSetDefault(ss)
	if mutate != nil {
		mutate(ss)
	}
	return ss
}

func appsTestDaemonSet(mutate func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{
			Selector: appsTestSelector(appsTestLabels()),
			Template: appsTestTemplate(appsTestLabels()),
		},
	}
	daemonSetDefault(ds)
	if mutate != nil {
		mutate(ds)
	}
	return ds
}

func TestDeploymentDefault(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: appsTestTemplate(nil)}}
	deploymentDefault(d)
	want := appsv1.DeploymentSpec{
		Replicas: new(int32(1)),
		Strategy: appsv1.DeploymentStrategy{
			Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: new(intstr.FromString("25%")),
				MaxSurge:       new(intstr.FromString("25%")),
			},
		},
		RevisionHistoryLimit:    new(int32(10)),
		ProgressDeadlineSeconds: new(int32(600)),
		Template:                d.Spec.Template,
	}
	if !apiequality.Semantic.DeepEqual(d.Spec, want) {
		t.Errorf("defaulted spec = %+v\nwant %+v", d.Spec, want)
	}
	if d.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("template restartPolicy = %q, want Always (pod template defaults applied)", d.Spec.Template.Spec.RestartPolicy)
	}

	// Set values are kept; Recreate gets no rollingUpdate.
	d = &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
		Replicas: new(int32(0)),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
	}}
	deploymentDefault(d)
	if *d.Spec.Replicas != 0 || d.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("replicas = %d, rollingUpdate = %v; want 0 and nil", *d.Spec.Replicas, d.Spec.Strategy.RollingUpdate)
	}

	// A partial rollingUpdate is completed.
	d = &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: new(intstr.FromInt32(2))},
	}}}
	deploymentDefault(d)
	if ru := d.Spec.Strategy.RollingUpdate; ru.MaxSurge.IntValue() != 2 || ru.MaxUnavailable.String() != "25%" {
		t.Errorf("rollingUpdate = %v/%v, want maxSurge 2, maxUnavailable 25%%", ru.MaxSurge, ru.MaxUnavailable)
	}
}

func TestDeploymentValidate(t *testing.T) {
	r := groupTestResource(t, "apps", "deployments")
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   []string
	}{
		{name: "valid"},
		{name: "zero replicas", mutate: func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(0)) }},
		{name: "negative replicas", mutate: func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(-1)) },
			want: []string{"spec.replicas: Invalid value"}},
		{name: "no selector", mutate: func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			want: []string{"spec.selector: Required value", "spec.template.metadata.labels: Invalid value"}},
		{name: "empty selector", mutate: func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			want: []string{"spec.selector: Invalid value"}},
		{name: "invalid selector", mutate: func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Sometimes"}}}
		}, want: []string{"spec.selector.matchExpressions[0].operator: Invalid value", "spec.selector: Invalid value"}},
		{name: "selector does not match", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} },
			want: []string{"spec.template.metadata.labels: Invalid value"}},
		{name: "restartPolicy OnFailure", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			want: []string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{name: "activeDeadlineSeconds", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = new(int64(5)) },
			want: []string{"spec.template.spec.activeDeadlineSeconds: Forbidden"}},
		{name: "maxSurge and maxUnavailable both 0", mutate: func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = new(intstr.FromInt32(0))
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = new(intstr.FromString("0%"))
		}, want: []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{name: "bad percentage", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = new(intstr.FromString("lots")) },
			want: []string{"spec.strategy.rollingUpdate.maxSurge: Invalid value"}},
		{name: "maxUnavailable over 100%", mutate: func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = new(intstr.FromString("120%"))
		},
			want: []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{name: "negative maxSurge", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = new(intstr.FromInt32(-1)) },
			want: []string{"spec.strategy.rollingUpdate.maxSurge: Invalid value"}},
		{name: "Recreate with rollingUpdate", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			want: []string{"spec.strategy.rollingUpdate: Forbidden"}},
		{name: "unknown strategy", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "Canary" },
			want: []string{"spec.strategy.type: Unsupported value"}},
		{name: "negative minReadySeconds", mutate: func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = -1 },
			want: []string{"spec.minReadySeconds: Invalid value"}},
		{name: "negative revisionHistoryLimit", mutate: func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = new(int32(-1)) },
			want: []string{"spec.revisionHistoryLimit: Invalid value"}},
		{name: "progressDeadlineSeconds not above minReadySeconds", mutate: func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 600 },
			want: []string{"spec.progressDeadlineSeconds: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groupTestCheckErrs(t, r.Validate(appsTestDeployment(tc.mutate)), tc.want)
		})
	}
}

func TestDeploymentSelectorMismatchMessage(t *testing.T) {
	d := appsTestDeployment(func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} })
	errs := groupTestResource(t, "apps", "deployments").Validate(d)
	// apimachinery prints map values as JSON.
	want := "spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("errors = %v, want %q", errs, want)
	}
}

func TestAppsSelectorImmutable(t *testing.T) {
	newSel := appsTestSelector(map[string]string{"app": "web", "tier": "front"})
	newLabels := map[string]string{"app": "web", "tier": "front"}
	for _, tc := range []struct {
		plural   string
		old, obj runtime.Object
		want     []string
	}{
		{"deployments", appsTestDeployment(nil), appsTestDeployment(func(d *appsv1.Deployment) {
			d.Spec.Selector, d.Spec.Template.Labels = newSel, newLabels
		}), []string{"spec.selector: Invalid value"}},
		{"replicasets", &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: new(int32(1)), Selector: appsTestSelector(appsTestLabels()), Template: appsTestTemplate(appsTestLabels())}},
			&appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: new(int32(1)), Selector: newSel, Template: appsTestTemplate(newLabels)}},
			[]string{"spec.selector: Invalid value"}},
		{"daemonsets", appsTestDaemonSet(nil), appsTestDaemonSet(func(ds *appsv1.DaemonSet) {
			ds.Spec.Selector, ds.Spec.Template.Labels = newSel, newLabels
		}), []string{"spec.selector: Invalid value"}},
		{"statefulsets", appsTestStatefulSet(nil), appsTestStatefulSet(func(ss *appsv1.StatefulSet) {
			ss.Spec.Selector, ss.Spec.Template.Labels = newSel, newLabels
		}), []string{"spec: Forbidden"}},
	} {
		t.Run(tc.plural, func(t *testing.T) {
			r := groupTestResource(t, "apps", tc.plural)
			if r.Default != nil {
				r.Default(tc.old)
				r.Default(tc.obj)
			}
			errs := r.ValidateUpdate(tc.obj, tc.old)
			groupTestCheckErrs(t, errs, tc.want)
			if tc.plural != "statefulsets" && len(errs) == 1 && !strings.HasSuffix(errs[0].Error(), "field is immutable") {
				t.Errorf("error = %q, want it to say the field is immutable", errs[0].Error())
			}
			// The same object is a valid update of itself.
			groupTestCheckErrs(t, r.ValidateUpdate(tc.old, tc.old), nil)
		})
	}
}

func TestReplicaSetValidate(t *testing.T) {
	r := groupTestResource(t, "apps", "replicasets")
	mk := func(mutate func(*appsv1.ReplicaSet)) *appsv1.ReplicaSet {
		rs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Selector: appsTestSelector(appsTestLabels()), Template: appsTestTemplate(appsTestLabels())}}
		r.Default(rs)
		if mutate != nil {
			mutate(rs)
		}
		return rs
	}
	if got := *mk(nil).Spec.Replicas; got != 1 {
		t.Errorf("default replicas = %d, want 1", got)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.ReplicaSet)
		want   []string
	}{
		{name: "valid"},
		{name: "negative replicas", mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.Replicas = new(int32(-2)) },
			want: []string{"spec.replicas: Invalid value"}},
		{name: "mismatch", mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Labels = nil },
			want: []string{"spec.template.metadata.labels: Invalid value"}},
		{name: "restartPolicy Never", mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			want: []string{"spec.template.spec.restartPolicy: Unsupported value"}},
	} {
		t.Run(tc.name, func(t *testing.T) { groupTestCheckErrs(t, r.Validate(mk(tc.mutate)), tc.want) })
	}
}

func TestDaemonSetDefaultAndValidate(t *testing.T) {
	ds := appsTestDaemonSet(nil)
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru.MaxUnavailable.IntValue() != 1 ||
		ru.MaxSurge.IntValue() != 0 || *ds.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("defaulted = %+v, revisionHistoryLimit %d", ds.Spec.UpdateStrategy, *ds.Spec.RevisionHistoryLimit)
	}
	r := groupTestResource(t, "apps", "daemonsets")
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.DaemonSet)
		want   []string
	}{
		{name: "valid"},
		{name: "surge instead of unavailable", mutate: func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(0))
			ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = new(intstr.FromString("10%"))
		}},
		{name: "both set", mutate: func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = new(intstr.FromInt32(1)) },
			want: []string{"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value"}},
		{name: "both zero", mutate: func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(0))
		},
			want: []string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value"}},
		{name: "OnDelete", mutate: func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		}},
		{name: "no selector", mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Selector = nil },
			want: []string{"spec.selector: Required value", "spec.template.metadata.labels: Invalid value"}},
		{name: "restartPolicy OnFailure", mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			want: []string{"spec.template.spec.restartPolicy: Unsupported value"}},
	} {
		t.Run(tc.name, func(t *testing.T) { groupTestCheckErrs(t, r.Validate(appsTestDaemonSet(tc.mutate)), tc.want) })
	}
}

func TestStatefulSetDefault(t *testing.T) {
	ss := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
	}}
	statefulSetDefault(ss)
	s := ss.Spec
	if *s.Replicas != 1 || s.PodManagementPolicy != appsv1.OrderedReadyPodManagement || *s.RevisionHistoryLimit != 10 {
		t.Errorf("replicas %d, podManagementPolicy %q, revisionHistoryLimit %d", *s.Replicas, s.PodManagementPolicy, *s.RevisionHistoryLimit)
	}
	if s.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType || *s.UpdateStrategy.RollingUpdate.Partition != 0 ||
		s.UpdateStrategy.RollingUpdate.MaxUnavailable.IntValue() != 1 {
		t.Errorf("updateStrategy = %+v", s.UpdateStrategy)
	}
	if p := s.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("persistentVolumeClaimRetentionPolicy = %+v", p)
	}
	if c := s.VolumeClaimTemplates[0]; *c.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || c.Status.Phase != corev1.ClaimPending {
		t.Errorf("claim template volumeMode %v, phase %q", *c.Spec.VolumeMode, c.Status.Phase)
	}
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("template not defaulted")
	}

	// OnDelete gets no rollingUpdate.
	ss = &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}}}
	statefulSetDefault(ss)
	if ss.Spec.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("OnDelete got rollingUpdate %+v", ss.Spec.UpdateStrategy.RollingUpdate)
	}
}

func TestStatefulSetValidate(t *testing.T) {
	r := groupTestResource(t, "apps", "statefulsets")
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		want   []string
	}{
		{name: "valid"},
		{name: "no serviceName", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "" }},
		{name: "bad serviceName", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "DB.svc" },
			want: []string{"spec.serviceName: Invalid value"}},
		{name: "bad podManagementPolicy", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.PodManagementPolicy = "Random" },
			want: []string{"spec.podManagementPolicy: Invalid value"}},
		{name: "OnDelete with rollingUpdate", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType },
			want: []string{"spec.updateStrategy.rollingUpdate: Invalid value"}},
		{name: "negative partition", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.UpdateStrategy.RollingUpdate.Partition = new(int32(-1)) },
			want: []string{"spec.updateStrategy.rollingUpdate.partition: Invalid value"}},
		{name: "maxUnavailable 0", mutate: func(ss *appsv1.StatefulSet) {
			ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(0))
		},
			want: []string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{name: "bad retention", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = "Keep" },
			want: []string{"spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value"}},
		{name: "negative ordinals start", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: -1} },
			want: []string{"spec.ordinals.start: Invalid value"}},
		{name: "nameless claim template", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.VolumeClaimTemplates[0].Name = "" },
			want: []string{"spec.volumeClaimTemplates[0].metadata.name: Required value"}},
		{name: "duplicate claim template", mutate: func(ss *appsv1.StatefulSet) {
			ss.Spec.VolumeClaimTemplates = append(ss.Spec.VolumeClaimTemplates, ss.Spec.VolumeClaimTemplates[0])
		}, want: []string{"spec.volumeClaimTemplates[1].metadata.name: Duplicate value"}},
		{name: "empty selector", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.Selector = &metav1.LabelSelector{} },
			want: []string{"spec.selector: Invalid value"}},
		{name: "restartPolicy Never", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			want: []string{"spec.template.spec.restartPolicy: Unsupported value"}},
	} {
		t.Run(tc.name, func(t *testing.T) { groupTestCheckErrs(t, r.Validate(appsTestStatefulSet(tc.mutate)), tc.want) })
	}
}

func TestStatefulSetValidateUpdate(t *testing.T) {
	r := groupTestResource(t, "apps", "statefulsets")
	old := appsTestStatefulSet(nil)
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		want   []string
	}{
		{name: "replicas", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.Replicas = new(int32(5)) }},
		{name: "template image", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.Template.Spec.Containers[0].Image = "nginx:1.28" }},
		{name: "updateStrategy", mutate: func(ss *appsv1.StatefulSet) {
			ss.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}},
		{name: "retention, minReadySeconds, ordinals, history", mutate: func(ss *appsv1.StatefulSet) {
			ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
			ss.Spec.MinReadySeconds = 5
			ss.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 2}
			ss.Spec.RevisionHistoryLimit = new(int32(3))
		}},
		{name: "serviceName", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "other" },
			want: []string{"spec: Forbidden"}},
		{name: "claim templates", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.VolumeClaimTemplates[0].Name = "other" },
			want: []string{"spec: Forbidden"}},
		{name: "podManagementPolicy", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.PodManagementPolicy = appsv1.ParallelPodManagement },
			want: []string{"spec: Forbidden"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groupTestCheckErrs(t, r.ValidateUpdate(appsTestStatefulSet(tc.mutate), old), tc.want)
		})
	}
	errs := r.ValidateUpdate(appsTestStatefulSet(func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "other" }), old)
	want := "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("errors = %v\nwant %q", errs, want)
	}
}

func TestAppsScale(t *testing.T) {
	sel := appsTestSelector(map[string]string{"app": "web", "tier": "front"})
	for _, tc := range []struct {
		plural string
		obj    runtime.Object
		spec   func(runtime.Object) int32
	}{
		{"deployments", &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: new(int32(3)), Selector: sel}, Status: appsv1.DeploymentStatus{Replicas: 2}},
			func(o runtime.Object) int32 { return *o.(*appsv1.Deployment).Spec.Replicas }},
		{"replicasets", &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: new(int32(3)), Selector: sel}, Status: appsv1.ReplicaSetStatus{Replicas: 2}},
			func(o runtime.Object) int32 { return *o.(*appsv1.ReplicaSet).Spec.Replicas }},
		{"statefulsets", &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Replicas: new(int32(3)), Selector: sel}, Status: appsv1.StatefulSetStatus{Replicas: 2}},
			func(o runtime.Object) int32 { return *o.(*appsv1.StatefulSet).Spec.Replicas }},
	} {
		t.Run(tc.plural, func(t *testing.T) {
			r := groupTestResource(t, "apps", tc.plural)
			spec, status, selector := r.Scale.Get(tc.obj)
			if spec != 3 || status != 2 || selector != "app=web,tier=front" {
				t.Errorf("Get = %d, %d, %q; want 3, 2, \"app=web,tier=front\"", spec, status, selector)
			}
			r.Scale.Set(tc.obj, 7)
			if got := tc.spec(tc.obj); got != 7 {
				t.Errorf("after Set(7) spec.replicas = %d", got)
			}
		})
	}
	if groupTestResource(t, "apps", "daemonsets").Scale != nil {
		t.Errorf("daemonsets have no /scale upstream")
	}
}

func TestAppsTables(t *testing.T) {
	created := metav1.NewTime(time.Now().Add(-5 * 24 * time.Hour)) // whole days: a slow run cannot change the cell
	d := appsTestDeployment(func(d *appsv1.Deployment) {
		d.CreationTimestamp = created
		d.Spec.Replicas = new(int32(3))
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "side", Image: "busybox"})
		d.Status = appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 1}
	})
	ss := appsTestStatefulSet(func(ss *appsv1.StatefulSet) {
		ss.CreationTimestamp = created
		ss.Status.ReadyReplicas = 1
	})
	ds := appsTestDaemonSet(func(ds *appsv1.DaemonSet) {
		ds.CreationTimestamp = created
		ds.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
		ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2}
	})
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created},
		Spec:       appsv1.ReplicaSetSpec{Replicas: new(int32(2)), Selector: appsTestSelector(appsTestLabels()), Template: appsTestTemplate(appsTestLabels())},
		Status:     appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 1},
	}
	for _, tc := range []struct {
		plural  string
		obj     runtime.Object
		columns string
		want    []any
	}{
		{"deployments", d, "Ready,Up-to-date,Available,Age,Containers,Images,Selector",
			[]any{"2/3", int64(3), int64(1), "5d", "app,side", "nginx:1.27,busybox", "app=web"}},
		{"replicasets", rs, "Desired,Current,Ready,Age,Containers,Images,Selector",
			[]any{int64(2), int64(2), int64(1), "5d", "app", "nginx:1.27", "app=web"}},
		{"statefulsets", ss, "Ready,Age,Containers,Images", []any{"1/1", "5d", "app", "nginx:1.27"}},
		{"daemonsets", ds, "Desired,Current,Ready,Up-to-date,Available,Node Selector,Age,Containers,Images,Selector",
			[]any{int64(3), int64(3), int64(2), int64(3), int64(2), "kubernetes.io/os=linux", "5d", "app", "nginx:1.27", "app=web"}},
	} {
		t.Run(tc.plural, func(t *testing.T) {
			groupTestCheckTable(t, groupTestResource(t, "apps", tc.plural).Table, tc.obj, tc.columns, tc.want)
		})
	}
}

// groupTestCheckTable checks a table's column names (comma-separated) and
// the row it prints for obj.
func groupTestCheckTable(t *testing.T, table *Table, obj runtime.Object, columns string, want []any) {
	t.Helper()
	var names []string
	for _, c := range table.Columns {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != columns {
		t.Errorf("columns = %s, want %s", got, columns)
	}
	got := table.Row(obj)
	if len(got) != len(want) {
		t.Fatalf("row = %#v, want %#v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("cell %d (%s) = %#v, want %#v", i, names[i], got[i], want[i])
		}
	}
}

func TestControllerRevisionValidate(t *testing.T) {
	r := groupTestResource(t, "apps", "controllerrevisions")
	cr := &appsv1.ControllerRevision{Revision: 1, Data: runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}}
	groupTestCheckErrs(t, r.Validate(cr), nil)
	groupTestCheckErrs(t, r.Validate(&appsv1.ControllerRevision{Revision: -1}), []string{"data: Required value", "revision: Invalid value"})
	changed := cr.DeepCopy()
	changed.Data.Raw = []byte(`{"spec":{"x":1}}`)
	groupTestCheckErrs(t, r.ValidateUpdate(changed, cr), []string{"data: Invalid value"})

	owned := cr.DeepCopy()
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", Controller: new(true)}}
	if got := r.Table.Row(owned)[0]; got != "daemonset.apps/agent" {
		t.Errorf("controller cell = %v, want daemonset.apps/agent", got)
	}
}
