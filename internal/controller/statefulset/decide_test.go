package statefulset

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testSet(replicas int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns", UID: "set-uid"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			PodManagementPolicy: policy,
			ServiceName:         "db-svc",
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "postgres"}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: map[string]string{"kind": "data"}},
			}},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		},
	}
}

// state builds a pod of set: "ready", "pending", "failed", "terminating",
// and "old" (ready, at another revision).
func state(set *appsv1.StatefulSet, ord int, s string) *corev1.Pod {
	p := newPod(set, ord, revisionOf(set))
	switch s {
	case "ready", "old":
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if s == "old" {
			p.Labels[labelRevisionHash] = "db-old"
		}
	case "pending":
		p.Status.Phase = corev1.PodPending
	case "failed":
		p.Status.Phase = corev1.PodFailed
	case "terminating":
		p.Status.Phase = corev1.PodRunning
		p.DeletionTimestamp = &metav1.Time{}
	}
	return p
}

// sameRevisions is the revisions of a set whose pods all run its template.
func sameRevisions(set *appsv1.StatefulSet) revisions {
	r := revisionOf(set)
	return revisions{current: r, update: r, currentSet: set}
}

// summary renders a plan as "create db-0 [data-db-0]; delete db-2".
func summary(plan []action) string {
	var parts []string
	for _, a := range plan {
		s := a.kind.String() + " " + a.pod.Name
		if len(a.claims) > 0 {
			var names []string
			for _, c := range a.claims {
				names = append(names, c.Name)
			}
			s += " [" + strings.Join(names, ",") + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func TestDecide(t *testing.T) {
	ordered, parallel := appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement
	allClaims := map[string]*corev1.PersistentVolumeClaim{}
	for _, n := range []string{"data-db-0", "data-db-1", "data-db-2"} {
		allClaims[n] = &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: n}}
	}
	tests := []struct {
		name     string
		replicas int32
		policy   appsv1.PodManagementPolicyType
		pods     map[int]string
		claims   map[string]*corev1.PersistentVolumeClaim
		scaled   bool
		onDelete bool
		part     int32
		want     string
	}{
		{name: "ordered starts with 0", replicas: 3, policy: ordered, want: "create db-0 [data-db-0]"},
		{name: "ordered waits for 0 to be ready", replicas: 3, policy: ordered, pods: map[int]string{0: "pending"}, claims: allClaims, want: ""},
		{name: "ordered creates 1 after 0 is ready", replicas: 3, policy: ordered, pods: map[int]string{0: "ready"}, claims: allClaims, want: "create db-1"},
		{name: "claim reused", replicas: 1, policy: ordered, claims: allClaims, want: "create db-0"},
		{name: "parallel creates all", replicas: 3, policy: parallel, want: "create db-0 [data-db-0]; create db-1 [data-db-1]; create db-2 [data-db-2]"},
		{name: "parallel does not wait", replicas: 3, policy: parallel, pods: map[int]string{0: "pending"}, claims: allClaims, want: "create db-1; create db-2"},
		{name: "failed pod deleted for recreation", replicas: 2, policy: ordered, pods: map[int]string{0: "failed", 1: "ready"}, claims: allClaims, want: "delete db-0"},
		{name: "ordered waits for a terminating pod", replicas: 2, policy: ordered, pods: map[int]string{0: "terminating"}, claims: allClaims, want: ""},
		{name: "scale down highest first", replicas: 0, policy: ordered, pods: map[int]string{0: "ready", 1: "ready", 2: "ready"}, claims: allClaims, want: "delete db-2"},
		{name: "scale down waits for the pod to be gone", replicas: 0, policy: ordered, pods: map[int]string{0: "ready", 1: "ready", 2: "terminating"}, claims: allClaims, want: ""},
		{name: "scale down waits for ready pods in range", replicas: 1, policy: ordered, pods: map[int]string{0: "pending", 1: "ready"}, claims: allClaims, want: ""},
		{name: "whenScaled=Delete hands the claim to the pod", replicas: 2, policy: ordered, scaled: true, pods: map[int]string{0: "ready", 1: "ready", 2: "ready"}, claims: allClaims, want: "own db-2 [data-db-2]; delete db-2"},
		{name: "parallel scale down all at once", replicas: 0, policy: parallel, pods: map[int]string{0: "ready", 1: "ready", 2: "ready"}, claims: allClaims, want: "delete db-2; delete db-1; delete db-0"},
		{name: "missing claim of a running pod", replicas: 1, policy: ordered, pods: map[int]string{0: "ready"}, want: "claims db-0 [data-db-0]"},
		{name: "rolling update from the highest", replicas: 3, policy: ordered, pods: map[int]string{0: "old", 1: "old", 2: "old"}, claims: allClaims, want: "delete db-2"},
		{name: "rolling update waits for readiness", replicas: 3, policy: ordered, pods: map[int]string{0: "old", 1: "old", 2: "pending"}, claims: allClaims, want: ""},
		{name: "rolling update continues down", replicas: 3, policy: ordered, pods: map[int]string{0: "old", 1: "old", 2: "ready"}, claims: allClaims, want: "delete db-1"},
		{name: "partition stops the update", replicas: 3, policy: ordered, part: 2, pods: map[int]string{0: "old", 1: "old", 2: "ready"}, claims: allClaims, want: ""},
		{name: "on delete leaves old pods", replicas: 3, policy: ordered, onDelete: true, pods: map[int]string{0: "old", 1: "old", 2: "old"}, claims: allClaims, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := testSet(tt.replicas, tt.policy)
			set.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: &tt.part}
			if tt.scaled {
				set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
					WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
				}
			}
			if tt.onDelete {
				set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
			}
			var pods []*corev1.Pod
			for _, ord := range slices.Sorted(func(yield func(int) bool) {
				for k := range tt.pods {
					if !yield(k) {
						return
					}
				}
			}) {
				pods = append(pods, state(set, ord, tt.pods[ord]))
			}
			claims := tt.claims
			if claims == nil {
				claims = map[string]*corev1.PersistentVolumeClaim{}
			}
			if got := summary(decide(set, sameRevisions(set), pods, claims)); got != tt.want {
				t.Errorf("decide = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewPod(t *testing.T) {
	set := testSet(3, appsv1.OrderedReadyPodManagement)
	set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5}
	plan := decide(set, sameRevisions(set), nil, map[string]*corev1.PersistentVolumeClaim{})
	if len(plan) != 1 {
		t.Fatalf("plan = %q, want one create", summary(plan))
	}
	p := plan[0].pod
	checks := []struct{ name, got, want string }{
		{"name", p.Name, "db-5"},
		{"hostname", p.Spec.Hostname, "db-5"},
		{"subdomain", p.Spec.Subdomain, "db-svc"},
		{"pod-name label", p.Labels[labelPodName], "db-5"},
		{"pod-index label", p.Labels[labelPodIndex], "5"},
		{"app label", p.Labels["app"], "db"},
		{"revision label", p.Labels[labelRevisionHash], revisionOf(set)},
		{"volume claim", fmt.Sprint(p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName), "data-db-5"},
		{"owner", p.OwnerReferences[0].Name, "db"},
		{"claim app label", plan[0].claims[0].Labels["app"], "db"},
		{"claim template label", plan[0].claims[0].Labels["kind"], "data"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if set.Spec.Template.Labels[labelPodName] != "" {
		t.Errorf("template mutated: %v", set.Spec.Template.Labels)
	}
}

func TestRetentionPolicyWhenDeleted(t *testing.T) {
	set := testSet(1, appsv1.OrderedReadyPodManagement)
	set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	pvc := newClaim(set, 0, 0)
	if len(pvc.OwnerReferences) != 1 || pvc.OwnerReferences[0].UID != set.UID {
		t.Errorf("owner references = %v, want the set", pvc.OwnerReferences)
	}
	if len(newClaim(testSet(1, ""), 0, 0).OwnerReferences) != 0 {
		t.Errorf("retained claim has owner references")
	}
}

func TestCalculateStatus(t *testing.T) {
	set := testSet(3, appsv1.OrderedReadyPodManagement)
	set.Generation = 4
	pods := []*corev1.Pod{state(set, 0, "ready"), state(set, 1, "pending"), state(set, 2, "terminating")}
	st := calculateStatus(set, sameRevisions(set), pods)
	got := fmt.Sprintf("replicas=%d ready=%d current=%d updated=%d gen=%d", st.Replicas, st.ReadyReplicas, st.CurrentReplicas, st.UpdatedReplicas, st.ObservedGeneration)
	if want := "replicas=2 ready=1 current=2 updated=2 gen=4"; got != want {
		t.Errorf("status = %s, want %s", got, want)
	}
	if st.UpdateRevision != revisionOf(set) || st.CurrentRevision != st.UpdateRevision {
		t.Errorf("revisions = %q/%q, want both %q", st.CurrentRevision, st.UpdateRevision, revisionOf(set))
	}
}

func TestRecreateBelowPartition(t *testing.T) {
	set := testSet(3, appsv1.OrderedReadyPodManagement)
	old := set.DeepCopy()
	old.Spec.Template.Spec.Containers[0].Image = "postgres:old"
	part := int32(2)
	set.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: &part}
	revs := revisions{current: "db-old", update: revisionOf(set), currentSet: old}
	tests := []struct {
		name      string
		onDelete  bool
		ord       int
		wantRev   string
		wantImage string
	}{
		{name: "below the partition: current", ord: 0, wantRev: "db-old", wantImage: "postgres:old"},
		{name: "at the partition: update", ord: 2, wantRev: revisionOf(set), wantImage: "postgres"},
		{name: "on delete: update", onDelete: true, ord: 0, wantRev: revisionOf(set), wantImage: "postgres"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := set.DeepCopy()
			if tt.onDelete {
				s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
			}
			p := revs.newPod(s, tt.ord, tt.ord)
			if got := p.Labels[labelRevisionHash]; got != tt.wantRev {
				t.Errorf("revision = %q, want %q", got, tt.wantRev)
			}
			if got := p.Spec.Containers[0].Image; got != tt.wantImage {
				t.Errorf("image = %q, want %q", got, tt.wantImage)
			}
		})
	}
}
