package statefulset

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k1s/k1s/internal/controller/history"
)

// Labels the controller puts on the pods it creates, as upstream.
const (
	labelPodName      = "statefulset.kubernetes.io/pod-name"
	labelPodIndex     = "apps.kubernetes.io/pod-index"
	labelRevisionHash = appsv1.ControllerRevisionHashLabelKey
)

// actionKind is what one step of a plan does.
type actionKind int

const (
	createPod    actionKind = iota // create the claims that are missing, then the pod
	deletePod                      // delete the pod
	createClaims                   // create the missing claims of a pod that exists
	ownClaims                      // update claims to be owned by the pod (whenScaled=Delete)
)

func (k actionKind) String() string {
	switch k {
	case createPod:
		return "create"
	case deletePod:
		return "delete"
	case ownClaims:
		return "own"
	default:
		return "claims"
	}
}

// action is one step of a plan.
type action struct {
	kind   actionKind
	pod    *corev1.Pod                     // to create (built here) or delete (as given)
	claims []*corev1.PersistentVolumeClaim // missing claims to create first, or claims to update
}

// decide returns the next steps that bring set's pods towards its spec,
// given the active and terminating pods it controls and the names of the
// claims that exist in its namespace, by name. It does no I/O; the steps are meant
// to be done in order, and then decide is asked again once the informers
// show their effect.
func decide(set *appsv1.StatefulSet, revs revisions, pods []*corev1.Pod, claims map[string]*corev1.PersistentVolumeClaim) []action {
	ordered := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	start, replicas := startOrdinal(set), int(specReplicas(set))
	revision := revs.update

	inRange := make([]*corev1.Pod, replicas) // by ordinal-start
	var condemned []*corev1.Pod
	for _, p := range pods {
		ord, ok := ordinalOf(set, p)
		switch {
		case !ok:
			continue // not named as one of ours: never touch it
		case ord >= start && ord < start+replicas:
			inRange[ord-start] = p
		default:
			condemned = append(condemned, p)
		}
	}
	// Highest ordinal first.
	slices.SortFunc(condemned, func(a, b *corev1.Pod) int {
		oa, _ := ordinalOf(set, a)
		ob, _ := ordinalOf(set, b)
		return ob - oa
	})

	var plan []action
	for i, p := range inRange {
		ord := start + i
		switch {
		case p == nil:
			np := revs.newPod(set, ord, i)
			plan = append(plan, action{kind: createPod, pod: np, claims: missingClaims(set, ord, claims)})
			if ordered {
				return plan
			}
		case podFinished(p) && p.DeletionTimestamp == nil:
			// Replaced under the same name once gone.
			plan = append(plan, action{kind: deletePod, pod: p})
			if ordered {
				return plan
			}
		case p.DeletionTimestamp != nil:
			if ordered {
				return plan
			}
		default:
			if missing := missingClaims(set, ord, claims); len(missing) > 0 {
				plan = append(plan, action{kind: createClaims, pod: p, claims: missing})
			}
			if ordered && !podRunningReady(p) {
				return plan
			}
		}
	}

	for _, p := range condemned {
		if p.DeletionTimestamp != nil {
			if ordered {
				return plan // one at a time: wait for it to be gone
			}
			continue
		}
		if owned := claimsToOwn(set, p, claims); len(owned) > 0 {
			plan = append(plan, action{kind: ownClaims, pod: p, claims: owned})
		}
		plan = append(plan, action{kind: deletePod, pod: p})
		if ordered {
			return plan
		}
	}
	if len(plan) > 0 || len(condemned) > 0 {
		return plan
	}

	// Rolling update: highest ordinal first, one pod at a time, only once
	// every pod is running and ready, never below the partition.
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return nil
	}
	for _, p := range inRange {
		if p == nil || p.DeletionTimestamp != nil || !podRunningReady(p) {
			return nil
		}
	}
	for i := len(inRange) - 1; i >= partition(set); i-- {
		if p := inRange[i]; p.Labels[labelRevisionHash] != revision {
			return []action{{kind: deletePod, pod: p}}
		}
	}
	return nil
}

// partition is the ordinal index below which a rolling update leaves pods
// alone.
func partition(set *appsv1.StatefulSet) int {
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return int(*ru.Partition)
	}
	return 0
}

// ordinalOf parses the ordinal out of a pod named "<set>-<ordinal>".
func ordinalOf(set *appsv1.StatefulSet, p *corev1.Pod) (int, bool) {
	rest, ok := strings.CutPrefix(p.Name, set.Name+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

// specReplicas is spec.replicas, defaulted as the api-server does.
func specReplicas(set *appsv1.StatefulSet) int32 {
	if set.Spec.Replicas == nil {
		return 1
	}
	return *set.Spec.Replicas
}

// revisions are the set's current revision (what its pods ran before the
// template last changed) and update revision (its template now), by
// name; currentSet is the set with the current revision's template.
type revisions struct {
	current, update string
	currentSet      *appsv1.StatefulSet
}

// newPod is the pod of ordinal ord, at index i of the set's range: as
// upstream, a RollingUpdate recreates pods below the partition from the
// current revision, every other pod from the update revision.
func (r revisions) newPod(set *appsv1.StatefulSet, ord, i int) *corev1.Pod {
	if r.currentSet != nil && set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType {
		ru := set.Spec.UpdateStrategy.RollingUpdate
		if (ru == nil && int32(i) < set.Status.CurrentReplicas) || (ru != nil && i < partition(set)) {
			return newPod(r.currentSet, ord, r.current)
		}
	}
	return newPod(set, ord, r.update)
}

// revisionOf names the set's template as its ControllerRevision is named:
// "<set>-<hash>", the value of the controller-revision-hash label of the
// pods made from it.
func revisionOf(set *appsv1.StatefulSet) string {
	data, err := history.Patch(&set.Spec.Template)
	if err != nil {
		return ""
	}
	return set.Name + "-" + history.Hash(data, set.Status.CollisionCount)
}

// claimName is the PVC of claim template tmpl for ordinal ord.
func claimName(set *appsv1.StatefulSet, tmpl string, ord int) string {
	return fmt.Sprintf("%s-%s-%d", tmpl, set.Name, ord)
}

// missingClaims returns the claims of ordinal ord that do not exist yet.
func missingClaims(set *appsv1.StatefulSet, ord int, existing map[string]*corev1.PersistentVolumeClaim) []*corev1.PersistentVolumeClaim {
	var out []*corev1.PersistentVolumeClaim
	for i := range set.Spec.VolumeClaimTemplates {
		if name := claimName(set, set.Spec.VolumeClaimTemplates[i].Name, ord); existing[name] == nil {
			out = append(out, newClaim(set, i, ord))
		}
	}
	return out
}

// claimsToOwn returns copies of the existing claims of pod p, about to be
// removed by a scale-down, with an owner reference to p added when
// whenScaled=Delete asks for it, so the garbage collector deletes them
// with the pod.
func claimsToOwn(set *appsv1.StatefulSet, p *corev1.Pod, existing map[string]*corev1.PersistentVolumeClaim) []*corev1.PersistentVolumeClaim {
	rp := set.Spec.PersistentVolumeClaimRetentionPolicy
	if rp == nil || rp.WhenScaled != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		return nil
	}
	ord, _ := ordinalOf(set, p)
	var out []*corev1.PersistentVolumeClaim
	for i := range set.Spec.VolumeClaimTemplates {
		pvc := existing[claimName(set, set.Spec.VolumeClaimTemplates[i].Name, ord)]
		if pvc == nil || slices.ContainsFunc(pvc.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == p.UID }) {
			continue
		}
		next := pvc.DeepCopy()
		next.OwnerReferences = append(next.OwnerReferences, metav1.OwnerReference{
			APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: p.UID,
		})
		out = append(out, next)
	}
	return out
}

// newClaim is the PVC of the i-th claim template for ordinal ord: labelled
// with the template's labels and the set's selector labels.
func newClaim(set *appsv1.StatefulSet, i, ord int) *corev1.PersistentVolumeClaim {
	t := &set.Spec.VolumeClaimTemplates[i]
	lbls := maps.Clone(t.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	if set.Spec.Selector != nil {
		maps.Copy(lbls, set.Spec.Selector.MatchLabels)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:        claimName(set, t.Name, ord),
			Namespace:   set.Namespace,
			Labels:      lbls,
			Annotations: maps.Clone(t.Annotations),
		},
		Spec: *t.Spec.DeepCopy(),
	}
	if rp := set.Spec.PersistentVolumeClaimRetentionPolicy; rp != nil && rp.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		// The garbage collector deletes the claim with the set.
		ref := metav1.NewControllerRef(set, controllerKind())
		ref.Controller = nil
		ref.BlockOwnerDeletion = nil
		pvc.OwnerReferences = []metav1.OwnerReference{*ref}
	}
	return pvc
}

// newPod is the pod of ordinal ord made from set's template at revision.
func newPod(set *appsv1.StatefulSet, ord int, revision string) *corev1.Pod {
	t := &set.Spec.Template
	name := fmt.Sprintf("%s-%d", set.Name, ord)
	lbls := maps.Clone(t.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[labelPodName] = name
	lbls[labelPodIndex] = strconv.Itoa(ord)
	lbls[labelRevisionHash] = revision
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       set.Namespace,
			Labels:          lbls,
			Annotations:     maps.Clone(t.Annotations),
			Finalizers:      slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, controllerKind())},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	pod.Spec.Hostname = name
	pod.Spec.Subdomain = set.Spec.ServiceName
	// Claim templates replace template volumes of the same name.
	for i := range set.Spec.VolumeClaimTemplates {
		ct := &set.Spec.VolumeClaimTemplates[i]
		pod.Spec.Volumes = slices.DeleteFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == ct.Name })
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
			Name: ct.Name,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
				ClaimName: claimName(set, ct.Name, ord),
			}},
		})
	}
	return pod
}

func podFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podRunningReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && podReady(p)
}
