package namespace

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

func TestContentStatusConditions(t *testing.T) {
	type want struct {
		status  corev1.ConditionStatus
		reason  string
		message string
	}
	tests := []struct {
		name   string
		status contentStatus
		done   bool
		want   map[corev1.NamespaceConditionType]want
	}{
		{
			name:   "all gone",
			status: contentStatus{},
			done:   true,
			want: map[corev1.NamespaceConditionType]want{
				corev1.NamespaceDeletionDiscoveryFailure: {corev1.ConditionFalse, "ResourcesDiscovered", "All resources successfully discovered"},
				corev1.NamespaceDeletionGVParsingFailure: {corev1.ConditionFalse, "ParsedGroupVersions", "All legacy kube types successfully parsed"},
				corev1.NamespaceDeletionContentFailure:   {corev1.ConditionFalse, "ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
				corev1.NamespaceContentRemaining:         {corev1.ConditionFalse, "ContentRemoved", "All content successfully removed"},
				corev1.NamespaceFinalizersRemaining:      {corev1.ConditionFalse, "ContentHasNoFinalizers", "All content-preserving finalizers finished"},
			},
		},
		{
			name: "content with finalizers",
			status: contentStatus{
				remaining:  map[string]int{"pods": 2, "configmaps": 1},
				finalizers: map[string]int{"example.com/a": 1},
			},
			want: map[corev1.NamespaceConditionType]want{
				corev1.NamespaceContentRemaining:    {corev1.ConditionTrue, "SomeResourcesRemain", "Some resources are remaining: configmaps has 1 resource instances, pods has 2 resource instances"},
				corev1.NamespaceFinalizersRemaining: {corev1.ConditionTrue, "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: example.com/a in 1 resource instances"},
			},
		},
		{
			name: "failures",
			status: contentStatus{
				discoveryErr: &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{{Group: "x.io", Version: "v1"}: errors.New("unreachable")}},
				deleteErrs:   []string{"configmaps: listing: boom"},
			},
			want: map[corev1.NamespaceConditionType]want{
				corev1.NamespaceDeletionDiscoveryFailure: {corev1.ConditionTrue, "DiscoveryFailed", "Discovery failed for some groups, 1 failing: x.io/v1: unreachable"},
				corev1.NamespaceDeletionContentFailure:   {corev1.ConditionTrue, "ContentDeletionFailed", "Failed to delete all resource types, 1 remaining: configmaps: listing: boom"},
				corev1.NamespaceContentRemaining:         {corev1.ConditionFalse, "ContentRemoved", "All content successfully removed"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.status.done(); got != tt.done {
				t.Errorf("done() = %v, want %v", got, tt.done)
			}
			conds := tt.status.conditions()
			if len(conds) != 5 {
				t.Errorf("got %d conditions, want 5", len(conds))
			}
			for typ, w := range tt.want {
				var got *corev1.NamespaceCondition
				for i := range conds {
					if conds[i].Type == typ {
						got = &conds[i]
					}
				}
				if got == nil {
					t.Errorf("no %s condition", typ)
					continue
				}
				if got.Status != w.status || got.Reason != w.reason || got.Message != w.message {
					t.Errorf("%s = %s/%s %q, want %s/%s %q", typ, got.Status, got.Reason, got.Message, w.status, w.reason, w.message)
				}
			}
		})
	}
}

func TestMergeConditions(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	remain := func(status corev1.ConditionStatus, msg string, at metav1.Time) corev1.NamespaceCondition {
		return corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: status, Reason: "R", Message: msg, LastTransitionTime: at}
	}
	other := corev1.NamespaceCondition{Type: "Other", Status: corev1.ConditionTrue, LastTransitionTime: t0}
	tests := []struct {
		name        string
		current     []corev1.NamespaceCondition
		desired     corev1.NamespaceCondition
		wantChanged bool
		wantTime    metav1.Time
		wantLen     int
	}{
		{"new condition", nil, remain(corev1.ConditionTrue, "a", metav1.Time{}), true, t1, 1},
		{"unchanged", []corev1.NamespaceCondition{remain(corev1.ConditionTrue, "a", t0)}, remain(corev1.ConditionTrue, "a", metav1.Time{}), false, t0, 1},
		{"message changed keeps time", []corev1.NamespaceCondition{remain(corev1.ConditionTrue, "a", t0)}, remain(corev1.ConditionTrue, "b", metav1.Time{}), true, t0, 1},
		{"status changed", []corev1.NamespaceCondition{remain(corev1.ConditionTrue, "a", t0)}, remain(corev1.ConditionFalse, "a", metav1.Time{}), true, t1, 1},
		{"other types kept", []corev1.NamespaceCondition{other, remain(corev1.ConditionTrue, "a", t0)}, remain(corev1.ConditionTrue, "a", metav1.Time{}), false, t0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := make([]corev1.NamespaceCondition, len(tt.current))
			copy(before, tt.current)
			got, changed := mergeConditions(tt.current, []corev1.NamespaceCondition{tt.desired}, t1)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if len(got) != tt.wantLen {
				t.Fatalf("got %d conditions, want %d", len(got), tt.wantLen)
			}
			last := got[len(got)-1]
			if !last.LastTransitionTime.Equal(&tt.wantTime) {
				t.Errorf("lastTransitionTime = %v, want %v", last.LastTransitionTime, tt.wantTime)
			}
			if last.Message != tt.desired.Message || last.Status != tt.desired.Status {
				t.Errorf("got %+v, want %+v", last, tt.desired)
			}
			for i := range before {
				if before[i] != tt.current[i] {
					t.Errorf("current modified: %+v, was %+v", tt.current[i], before[i])
				}
			}
		})
	}
}
