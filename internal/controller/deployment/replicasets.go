package deployment

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/davecgh/go-spew/spew"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// Annotations the controller keeps on ReplicaSets (and the revision on
// the Deployment), as upstream; kubectl rollout reads them.
const (
	annotationRevision        = "deployment.kubernetes.io/revision"
	annotationRevisionHistory = "deployment.kubernetes.io/revision-history"
	annotationDesiredReplicas = "deployment.kubernetes.io/desired-replicas"
	annotationMaxReplicas     = "deployment.kubernetes.io/max-replicas"
	// annotationRollbackTo is the deprecated extensions/v1beta1 rollback
	// request; never copied to ReplicaSets.
	annotationRollbackTo = "deprecated.deployment.rollback.to"

	// maxRevisionHistoryChars bounds the revision-history annotation.
	maxRevisionHistoryChars = 2000
)

// skippedAnnotations are not copied from a Deployment to its ReplicaSets.
func skippedAnnotation(k string) bool {
	switch k {
	case corev1.LastAppliedConfigAnnotation, annotationRevision, annotationRevisionHistory,
		annotationDesiredReplicas, annotationMaxReplicas, annotationRollbackTo:
		return true
	}
	return false
}

// templateHash is the pod-template-hash of a template, computed as
// upstream: FNV-32a over the spew dump of the template, then the collision
// count (little-endian, 8 bytes) if set, printed in decimal and
// safe-encoded. The dump covers every field of the k8s.io/api struct, so a
// change of that module's types may change hashes (as upstream).
func templateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	printer := spew.ConfigState{Indent: " ", SortKeys: true, DisableMethods: true, SpewKeys: true}
	printer.Fprintf(h, "%#v", *t)
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// equalIgnoreHash reports whether two templates are equal apart from the
// pod-template-hash label.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// byCreation orders ReplicaSets oldest first, by name on a tie.
func byCreation(a, b *appsv1.ReplicaSet) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// splitReplicaSets returns the Deployment's new ReplicaSet (the oldest
// whose template equals the Deployment's, or nil) and all the others.
func splitReplicaSets(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	sorted := slices.Clone(rss)
	slices.SortFunc(sorted, byCreation)
	var newRS *appsv1.ReplicaSet
	var olds []*appsv1.ReplicaSet
	for _, rs := range sorted {
		if newRS == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		olds = append(olds, rs)
	}
	return newRS, olds
}

// revision reads a ReplicaSet's revision annotation; 0 if absent or bad.
func revision(rs *appsv1.ReplicaSet) int64 {
	n, err := strconv.ParseInt(rs.Annotations[annotationRevision], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, revision(rs))
	}
	return m
}

// setNewReplicaSetAnnotations brings rs's annotations up to date for
// being d's new ReplicaSet at revision newRevision: d's annotations (but
// the skipped ones), a revision raised to newRevision with the previous
// one appended to revision-history (a rollback to this ReplicaSet), and,
// for a ReplicaSet about to be created, the replica annotations. It
// reports whether anything changed.
func setNewReplicaSetAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision int64, exists bool, maxSurge int32) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if skippedAnnotation(k) {
			continue
		}
		if cur, ok := rs.Annotations[k]; !ok || cur != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	oldRevision, had := rs.Annotations[annotationRevision]
	oldN, err := strconv.ParseInt(oldRevision, 10, 64)
	if err != nil {
		if oldRevision != "" {
			return changed // not ours to fix
		}
		oldN = 0
	}
	if oldN < newRevision {
		rs.Annotations[annotationRevision] = strconv.FormatInt(newRevision, 10)
		changed = true
		if had {
			rs.Annotations[annotationRevisionHistory] = appendRevisionHistory(rs.Annotations[annotationRevisionHistory], oldRevision)
		}
	}
	if !exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d)+maxSurge) {
		changed = true
	}
	return changed
}

// appendRevisionHistory appends rev to the comma-separated history,
// dropping the oldest entries to stay within maxRevisionHistoryChars.
func appendRevisionHistory(history, rev string) string {
	if history == "" {
		return rev
	}
	old := strings.Split(history, ",")
	total := len(history) + len(rev) + 1
	start := 0
	for total > maxRevisionHistoryChars && start < len(old) {
		total -= len(old[start]) + 1
		start++
	}
	return strings.Join(append(old[start:], rev), ",")
}

// setReplicasAnnotations records the Deployment size (desired) and its
// size plus surge (max) a ReplicaSet was last scaled for; proportional
// scaling reads them back. It reports whether anything changed.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	want := map[string]string{
		annotationDesiredReplicas: strconv.Itoa(int(desired)),
		annotationMaxReplicas:     strconv.Itoa(int(maxReplicas)),
	}
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range want {
		if rs.Annotations[k] != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	return changed
}

func replicasAnnotationsNeedUpdate(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[annotationDesiredReplicas] != strconv.Itoa(int(desired)) ||
		rs.Annotations[annotationMaxReplicas] != strconv.Itoa(int(maxReplicas))
}

// annotatedInt reads an int32 annotation.
func annotatedInt(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// newReplicaSet is the ReplicaSet d creates for its current template: the
// template labelled with its hash, name "<deployment>-<hash>", controlled
// by d, at replicas and revision newRevision.
func newReplicaSet(d *appsv1.Deployment, replicas int32, newRevision int64, maxSurge int32) *appsv1.ReplicaSet {
	template := *d.Spec.Template.DeepCopy()
	hash := templateHash(&d.Spec.Template, d.Status.CollisionCount)
	template.Labels = maps.Clone(template.Labels)
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	selector := d.Spec.Selector.DeepCopy()
	if selector.MatchLabels == nil {
		selector.MatchLabels = map[string]string{}
	}
	selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	rs := &appsv1.ReplicaSet{}
	rs.Name = d.Name + "-" + hash
	rs.Namespace = d.Namespace
	rs.Labels = maps.Clone(template.Labels)
	rs.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind())}
	rs.Spec = appsv1.ReplicaSetSpec{
		Replicas:        &replicas,
		MinReadySeconds: d.Spec.MinReadySeconds,
		Selector:        selector,
		Template:        template,
	}
	setNewReplicaSetAnnotations(d, rs, newRevision, false, maxSurge)
	return rs
}
