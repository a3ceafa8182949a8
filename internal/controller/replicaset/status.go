package replicaset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Reasons of the ReplicaFailure condition, as upstream.
const (
	reasonFailedCreate = "FailedCreate"
	reasonFailedDelete = "FailedDelete"
)

// calculateStatus is the status rs should have given the active pods it
// controls and the error (if any) of this round's creates or deletes.
// The result's ObservedGeneration is rs.Generation.
func calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	templateLabels := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	minReady := time.Duration(rs.Spec.MinReadySeconds) * time.Second
	var fully, ready, available int32
	for _, p := range pods {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			fully++
		}
		if podReady(p) {
			ready++
			if podAvailable(p, minReady, now) {
				available++
			}
		}
	}
	failure := findCondition(st.Conditions, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := reasonFailedCreate
		if len(pods) > int(specReplicas(rs)) {
			reason = reasonFailedDelete
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			Reason: reason, Message: manageErr.Error(), LastTransitionTime: metav1.NewTime(now),
		})
	case manageErr == nil && failure != nil:
		st.Conditions = removeCondition(st.Conditions, appsv1.ReplicaSetReplicaFailure)
	}
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas = fully
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	st.ObservedGeneration = rs.Generation
	return st
}

// statusEqual reports whether writing want over have would change nothing.
func statusEqual(have, want appsv1.ReplicaSetStatus) bool {
	return apiequality.Semantic.DeepEqual(have, want)
}

// nextAvailable returns how long until the first ready pod that is not yet
// available (minReadySeconds) becomes so; ok is false if there is none.
func nextAvailable(rs *appsv1.ReplicaSet, pods []*corev1.Pod, now time.Time) (time.Duration, bool) {
	minReady := time.Duration(rs.Spec.MinReadySeconds) * time.Second
	if minReady == 0 {
		return 0, false
	}
	var next time.Duration
	found := false
	for _, p := range pods {
		if !podReady(p) || podAvailable(p, minReady, now) {
			continue
		}
		since := readySince(p)
		if since.IsZero() {
			continue // never becomes available: the kubelet sets it
		}
		// Available strictly after since+minReady; a little later to be sure.
		d := since.Add(minReady).Sub(now) + 10*time.Millisecond
		if !found || d < next {
			next, found = d, true
		}
	}
	return next, found
}

func findCondition(conds []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

func removeCondition(conds []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	for _, c := range conds {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

// specReplicas is spec.replicas, defaulted as the api-server does.
func specReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}
