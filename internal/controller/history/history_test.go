package history

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func template(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

func TestPatch(t *testing.T) {
	got, err := Patch(template("img"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"app":"a"}},"spec":{"containers":[{"image":"img","name":"c","resources":{}}]}}}}`
	if string(got) != want {
		t.Errorf("Patch =\n%s\nwant\n%s", got, want)
	}
}

func TestNewAndTemplate(t *testing.T) {
	owner := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: "ns", UID: "u",
		Annotations: map[string]string{"kubernetes.io/change-cause": "why"}}}
	kind := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	cr, err := New(owner, kind, template("img"), 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash := cr.Labels[HashLabel]
	checks := []struct{ name, got, want string }{
		{"name", cr.Name, "ds-" + hash},
		{"app label", cr.Labels["app"], "a"},
		{"revision", fmt.Sprint(cr.Revision), "3"},
		{"controller", fmt.Sprint(metav1.IsControlledBy(cr, owner)), "true"},
		{"change cause", cr.Annotations["kubernetes.io/change-cause"], "why"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	back, err := Template(cr)
	if err != nil {
		t.Fatal(err)
	}
	if back.Spec.Containers[0].Image != "img" || back.Labels["app"] != "a" {
		t.Errorf("Template = %+v", back)
	}
	other, _ := New(owner, kind, template("img"), 4, new(int32(1)))
	if other.Name == cr.Name {
		t.Errorf("a collision count does not change the name %s", cr.Name)
	}
	if !Equal(cr, other) {
		t.Errorf("same template, different collision count: not Equal")
	}
	third, _ := New(owner, kind, template("img2"), 4, nil)
	if Equal(cr, third) {
		t.Errorf("different templates are Equal")
	}
}

func TestToTrim(t *testing.T) {
	revs := func(nums ...int64) []*appsv1.ControllerRevision {
		var out []*appsv1.ControllerRevision
		for _, n := range nums {
			out = append(out, &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("r", n)}, Revision: n})
		}
		return out
	}
	tests := []struct {
		limit int
		want  string
	}{
		{10, "[]"},
		{3, "[]"},
		{2, "[r1]"},
		{0, "[r1 r2 r4]"},
		{-1, "[r1 r2 r4]"},
	}
	for _, tt := range tests {
		var names []string
		for _, cr := range ToTrim(revs(4, 1, 2), tt.limit) {
			names = append(names, cr.Name)
		}
		if got := fmt.Sprint(names); got != tt.want {
			t.Errorf("limit %d: trim %s, want %s", tt.limit, got, tt.want)
		}
	}
}
