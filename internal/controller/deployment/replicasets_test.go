package deployment

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func nginxTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}},
	}
}

func TestTemplateHashStable(t *testing.T) {
	tmpl := nginxTemplate()
	one := int32(1)
	// Pinned: a change here renames every ReplicaSet of every existing
	// Deployment (new pods for all). Expected only with a k8s.io/api bump
	// that changes PodTemplateSpec's fields, as upstream.
	if got, want := templateHash(&tmpl, nil), "76f8596b8b"; got != want {
		t.Errorf("templateHash = %s, want %s", got, want)
	}
	if got, want := templateHash(&tmpl, &one), "549bbcb6b7"; got != want {
		t.Errorf("templateHash with collisionCount 1 = %s, want %s", got, want)
	}
	// Map order does not matter; every run gives the same.
	for range 20 {
		t2 := nginxTemplate()
		t2.Labels = map[string]string{"b": "2", "app": "nginx", "a": "1"}
		t3 := nginxTemplate()
		t3.Labels = map[string]string{"a": "1", "app": "nginx", "b": "2"}
		if templateHash(&t2, nil) != templateHash(&t3, nil) {
			t.Fatal("hash depends on map order")
		}
	}
	changed := nginxTemplate()
	changed.Spec.Containers[0].Image = "nginx:1.28"
	if templateHash(&changed, nil) == templateHash(&tmpl, nil) {
		t.Error("a different image hashes the same")
	}
	for _, c := range templateHash(&tmpl, nil) {
		if strings.ContainsRune("aeiou013", c) {
			t.Errorf("hash %s is not safe-encoded (contains %q)", templateHash(&tmpl, nil), c)
		}
	}
}

func TestEqualIgnoreHash(t *testing.T) {
	a, b := nginxTemplate(), nginxTemplate()
	b.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = "abc"
	if !equalIgnoreHash(&a, &b) {
		t.Error("templates differing only in the hash label are not equal")
	}
	if _, ok := a.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok || b.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != "abc" {
		t.Error("equalIgnoreHash changed its inputs")
	}
	b.Spec.Containers[0].Image = "other"
	if equalIgnoreHash(&a, &b) {
		t.Error("templates with different images are equal")
	}
}

func TestNewReplicaSet(t *testing.T) {
	d := deploy(4, "1", "1")
	d.Spec.Template = nginxTemplate()
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}}
	d.Spec.MinReadySeconds = 3
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "v2", annotationRevision: "7", corev1.LastAppliedConfigAnnotation: "{}"}
	r := newReplicaSet(d, 2, 8, maxSurge(d))
	hash := templateHash(&d.Spec.Template, nil)
	if r.Name != "d-"+hash || r.Namespace != "ns" {
		t.Errorf("name %s/%s, want ns/d-%s", r.Namespace, r.Name, hash)
	}
	for what, labels := range map[string]map[string]string{
		"labels": r.Labels, "template labels": r.Spec.Template.Labels, "selector": r.Spec.Selector.MatchLabels,
	} {
		if labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || labels["app"] != "nginx" {
			t.Errorf("%s = %v, want app and pod-template-hash", what, labels)
		}
	}
	if _, ok := d.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Error("newReplicaSet labelled the Deployment's template")
	}
	if _, ok := d.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Error("newReplicaSet changed the Deployment's selector")
	}
	ref := metav1.GetControllerOf(r)
	if ref == nil || ref.UID != d.UID || ref.Kind != "Deployment" {
		t.Errorf("controller reference %+v", ref)
	}
	want := map[string]string{
		annotationRevision: "8", annotationDesiredReplicas: "4", annotationMaxReplicas: "5",
		"kubernetes.io/change-cause": "v2",
	}
	if len(r.Annotations) != len(want) {
		t.Errorf("annotations %v, want %v", r.Annotations, want)
	}
	for k, v := range want {
		if r.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, r.Annotations[k], v)
		}
	}
	if *r.Spec.Replicas != 2 || r.Spec.MinReadySeconds != 3 {
		t.Errorf("replicas %d minReadySeconds %d", *r.Spec.Replicas, r.Spec.MinReadySeconds)
	}
}

func TestSetNewReplicaSetAnnotations(t *testing.T) {
	d := deploy(3, "1", "1")
	tests := []struct {
		name        string
		have        map[string]string
		newRevision int64
		wantRev     string
		wantHistory string
		wantChanged bool
	}{
		{"first revision", nil, 1, "1", "", true},
		{"up to date", map[string]string{annotationRevision: "4"}, 4, "4", "", false},
		{"never lowered", map[string]string{annotationRevision: "6"}, 4, "6", "", false},
		{"rollback keeps history", map[string]string{annotationRevision: "2"}, 5, "5", "2", true},
		{"history appends", map[string]string{annotationRevision: "5", annotationRevisionHistory: "2"}, 7, "7", "2,5", true},
		{"bad revision left alone", map[string]string{annotationRevision: "x"}, 3, "x", "", false},
	}
	for _, tt := range tests {
		r := rs("r", 1, 1, 0)
		for k, v := range tt.have {
			r.Annotations[k] = v
		}
		changed := setNewReplicaSetAnnotations(d, r, tt.newRevision, true, 1)
		if changed != tt.wantChanged || r.Annotations[annotationRevision] != tt.wantRev || r.Annotations[annotationRevisionHistory] != tt.wantHistory {
			t.Errorf("%s: changed %v revision %q history %q; want %v %q %q", tt.name, changed,
				r.Annotations[annotationRevision], r.Annotations[annotationRevisionHistory], tt.wantChanged, tt.wantRev, tt.wantHistory)
		}
		if _, ok := r.Annotations[annotationDesiredReplicas]; ok {
			t.Errorf("%s: replica annotations set on an existing ReplicaSet", tt.name)
		}
	}
}

func TestAppendRevisionHistory(t *testing.T) {
	if got := appendRevisionHistory("", "3"); got != "3" {
		t.Errorf("empty history + 3 = %q", got)
	}
	if got := appendRevisionHistory("1,3", "5"); got != "1,3,5" {
		t.Errorf("1,3 + 5 = %q", got)
	}
	long := strings.Repeat("1234,", 399) + "1234" // 1,999 characters
	got := appendRevisionHistory(long, "99")
	// The oldest entry goes to make room.
	if want := long[5:] + ",99"; got != want {
		t.Errorf("long history + 99: %d characters, want %d", len(got), len(want))
	}
}

func TestSplitReplicaSets(t *testing.T) {
	d := deploy(3, "1", "1")
	d.Spec.Template = nginxTemplate()
	old := rs("old", 1, 1, 0)
	old.Spec.Template = nginxTemplate()
	old.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	dup1, dup2 := rs("dup-b", 1, 1, 5), rs("dup-a", 1, 1, 3)
	for _, r := range []*appsv1.ReplicaSet{dup1, dup2} {
		r.Spec.Template = nginxTemplate()
		r.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = r.Name
	}
	newRS, olds := splitReplicaSets(d, []*appsv1.ReplicaSet{dup1, old, dup2})
	if newRS != dup2 {
		t.Errorf("new ReplicaSet %v, want the oldest matching (dup-a)", newRS.Name)
	}
	if len(olds) != 2 || olds[0] != old || olds[1] != dup1 {
		t.Errorf("old ReplicaSets %v", olds)
	}
}
