package deployment

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The decision core of the controller: given a Deployment and its
// ReplicaSets as read from the cache, what sizes the ReplicaSets should
// have next. Nothing here does I/O or reads a clock.

// resize is one decision: set rs's spec.replicas to to.
type resize struct {
	rs *appsv1.ReplicaSet
	to int32
}

// replicasOf is d's spec.replicas, defaulted as the api-server does.
func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// rsReplicas is rs's spec.replicas; 0 for no ReplicaSet.
func rsReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

func isRollingUpdate(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType
}

// resolveFenceposts turns maxSurge and maxUnavailable into pod counts for
// desired replicas, as upstream: a surge percentage rounds up, an
// unavailable one down, and if both come to zero unavailable becomes 1 so
// a rollout can always move.
func resolveFenceposts(surge, unavailable *intstr.IntOrString, desired int32) (int32, int32, error) {
	zero := intstr.FromInt32(0)
	s, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(surge, zero), int(desired), true)
	if err != nil {
		return 0, 0, fmt.Errorf("maxSurge: %w", err)
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(unavailable, zero), int(desired), false)
	if err != nil {
		return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u), nil
}

// rollingParams returns the strategy's maxSurge and maxUnavailable,
// defaulted to 25% each as the api-server does.
func rollingParams(d *appsv1.Deployment) (surge, unavailable *intstr.IntOrString) {
	quarter := intstr.FromString("25%")
	surge, unavailable = &quarter, &quarter
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			surge = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			unavailable = ru.MaxUnavailable
		}
	}
	return surge, unavailable
}

// maxSurge is how many pods above spec.replicas a rolling update may run;
// 0 for Recreate. Invalid values (refused by validation) count as 0.
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) {
		return 0
	}
	s, u := rollingParams(d)
	surge, _, _ := resolveFenceposts(s, u, replicasOf(d))
	return surge
}

// maxUnavailable is how many of spec.replicas may be unavailable during a
// rolling update, at most spec.replicas; 0 for Recreate.
func maxUnavailable(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) || replicasOf(d) == 0 {
		return 0
	}
	s, u := rollingParams(d)
	_, unavailable, _ := resolveFenceposts(s, u, replicasOf(d))
	return min(unavailable, replicasOf(d))
}

// specTotal sums spec.replicas.
func specTotal(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += rsReplicas(rs)
	}
	return n
}

// settledAvailable is how many of rs's pods are available once rs has
// reached its spec: a ReplicaSet just scaled down may still report the
// pods it is about to delete, and counting them would let a rolling
// update scale down further than maxUnavailable allows.
func settledAvailable(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return min(rs.Status.AvailableReplicas, rsReplicas(rs))
}

// activeReplicaSets are those with pods wanted.
func activeReplicaSets(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && rsReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// podCeiling bounds the active pods of the ReplicaSets: each has at most
// its spec.replicas, or more while it still reports pods it is about to
// delete (status.replicas).
func podCeiling(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += max(rsReplicas(rs), rs.Status.Replicas)
		}
	}
	return n
}

// newRSReplicas is the size the new ReplicaSet may grow to now: for a
// rolling update as far as maxSurge allows without exceeding
// spec.replicas; for Recreate spec.replicas.
//
// Upstream counts the ReplicaSets' spec.replicas against the surge; this
// counts podCeiling, so an old ReplicaSet that was just scaled down but
// has not yet deleted its pod holds the new one back, and active pods
// never exceed spec.replicas+maxSurge, not even for a moment.
func newRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (int32, error) {
	switch d.Spec.Strategy.Type {
	case appsv1.RollingUpdateDeploymentStrategyType:
		s, u := rollingParams(d)
		surge, _, err := resolveFenceposts(s, u, replicasOf(d))
		if err != nil {
			return 0, err
		}
		current := podCeiling(all)
		maxTotal := replicasOf(d) + surge
		if current >= maxTotal {
			return rsReplicas(newRS), nil
		}
		up := min(maxTotal-current, replicasOf(d)-rsReplicas(newRS))
		return rsReplicas(newRS) + max(up, 0), nil
	case appsv1.RecreateDeploymentStrategyType:
		return replicasOf(d), nil
	default:
		return 0, fmt.Errorf("deployment strategy %q is not supported", d.Spec.Strategy.Type)
	}
}

// planOldScaleDown decides how far a rolling update scales down the old
// ReplicaSets (active ones, any order) now, keeping at least
// spec.replicas-maxUnavailable pods available: first pods that are not
// available anyway, oldest ReplicaSet first, then available ones as far
// as the new ReplicaSet's available pods allow. One resize per
// ReplicaSet, oldest first.
func planOldScaleDown(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) []resize {
	olds = slices.Clone(olds)
	slices.SortFunc(olds, byCreation)
	if specTotal(olds) == 0 {
		return nil
	}
	all := append(slices.Clone(olds), newRS)
	minAvailable := replicasOf(d) - maxUnavailable(d)
	newUnavailable := rsReplicas(newRS) - settledAvailable(newRS)
	maxScaledDown := specTotal(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return nil
	}
	sizes := make([]int32, len(olds))
	for i, rs := range olds {
		sizes[i] = rsReplicas(rs)
	}
	// Unavailable pods first: removing them costs no availability.
	var cleaned int32
	for i, rs := range olds {
		if cleaned >= maxScaledDown {
			break
		}
		unhealthy := sizes[i] - settledAvailable(rs)
		if unhealthy <= 0 {
			continue
		}
		n := min(maxScaledDown-cleaned, unhealthy)
		sizes[i] -= n
		cleaned += n
	}
	// Then available ones, down to minAvailable.
	available := settledAvailable(newRS)
	for i, rs := range olds {
		available += min(settledAvailable(rs), sizes[i])
	}
	if excess := available - minAvailable; excess > 0 {
		var scaled int32
		for i := range olds {
			if scaled >= excess {
				break
			}
			n := min(sizes[i], excess-scaled)
			sizes[i] -= n
			scaled += n
		}
	}
	var out []resize
	for i, rs := range olds {
		if sizes[i] != rsReplicas(rs) {
			out = append(out, resize{rs, sizes[i]})
		}
	}
	return out
}

// findActiveOrLatest returns the only active ReplicaSet, or the newest
// one (the new one if any) if none is active; nil if several are active.
func findActiveOrLatest(newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(olds) == 0 {
		return nil
	}
	active := activeReplicaSets(append(slices.Clone(olds), newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return slices.MaxFunc(olds, byCreation)
	case 1:
		return active[0]
	default:
		return nil
	}
}

// isSaturated reports whether rs runs, and was scaled for, all of d's
// replicas, all available.
func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := annotatedInt(rs, annotationDesiredReplicas)
	return ok && rsReplicas(rs) == replicasOf(d) && desired == replicasOf(d) &&
		rs.Status.AvailableReplicas == replicasOf(d)
}

// isScalingEvent reports whether spec.replicas changed since the active
// ReplicaSets were last sized (their desired-replicas annotation).
func isScalingEvent(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) bool {
	for _, rs := range activeReplicaSets(append(slices.Clone(olds), newRS)) {
		if desired, ok := annotatedInt(rs, annotationDesiredReplicas); ok && desired != replicasOf(d) {
			return true
		}
	}
	return false
}

// planScale decides the sizes after spec.replicas changed (or while
// paused). One active ReplicaSet takes the whole size; a saturated new
// one leaves the old ones at 0; otherwise, during a rolling update, the
// difference to spec.replicas+maxSurge is spread over the active
// ReplicaSets in proportion to their size, the rounding leftover going to
// the largest (newest first when growing, oldest first when shrinking).
// Resizes may repeat a ReplicaSet's size: their replica annotations still
// need the new figures.
func planScale(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) []resize {
	if rs := findActiveOrLatest(newRS, olds); rs != nil {
		if rsReplicas(rs) == replicasOf(d) {
			return nil
		}
		return []resize{{rs, replicasOf(d)}}
	}
	if isSaturated(d, newRS) {
		var out []resize
		for _, rs := range activeReplicaSets(olds) {
			out = append(out, resize{rs, 0})
		}
		return out
	}
	if !isRollingUpdate(d) {
		return nil
	}
	active := activeReplicaSets(append(slices.Clone(olds), newRS))
	var allowed int32
	if replicasOf(d) > 0 {
		allowed = replicasOf(d) + maxSurge(d)
	}
	toAdd := allowed - specTotal(active)
	switch {
	case toAdd > 0: // larger first; newer first among equals
		slices.SortStableFunc(active, func(a, b *appsv1.ReplicaSet) int {
			if rsReplicas(a) == rsReplicas(b) {
				return byCreation(b, a)
			}
			return int(rsReplicas(b) - rsReplicas(a))
		})
	case toAdd < 0: // larger first; older first among equals
		slices.SortStableFunc(active, func(a, b *appsv1.ReplicaSet) int {
			if rsReplicas(a) == rsReplicas(b) {
				return byCreation(a, b)
			}
			return int(rsReplicas(b) - rsReplicas(a))
		})
	}
	sizes := make([]int32, len(active))
	var added int32
	for i, rs := range active {
		sizes[i] = rsReplicas(rs)
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	if toAdd != 0 && len(active) > 0 {
		sizes[0] = max(sizes[0]+toAdd-added, 0)
	}
	out := make([]resize, len(active))
	for i, rs := range active {
		out[i] = resize{rs, sizes[i]}
	}
	return out
}

// proportion is rs's share of toAdd (of which added are handed out
// already), never beyond what is left.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	f := fraction(rs, d)
	left := toAdd - added
	if toAdd > 0 {
		return min(f, left)
	}
	return max(f, left)
}

// fraction is how many replicas rs gains (or loses) if it keeps its share
// of the Deployment's maximum size: its size times the new maximum over
// the maximum it was last scaled for (the max-replicas annotation, else
// the Deployment's current replicas), rounded.
func fraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if replicasOf(d) == 0 {
		return -rsReplicas(rs)
	}
	maxNow := replicasOf(d) + maxSurge(d)
	maxBefore, ok := annotatedInt(rs, annotationMaxReplicas)
	if !ok || maxBefore == 0 {
		maxBefore = d.Status.Replicas
		if maxBefore == 0 {
			return 0
		}
	}
	size := float64(rsReplicas(rs)) * float64(maxNow) / float64(maxBefore)
	return int32(math.Round(size)) - rsReplicas(rs)
}

// cleanupCandidates returns the old ReplicaSets to delete so that at most
// limit remain: lowest revisions first, only those without pods, settled
// (status observed at their generation) and not already being deleted.
func cleanupCandidates(olds []*appsv1.ReplicaSet, limit int32) []*appsv1.ReplicaSet {
	var alive []*appsv1.ReplicaSet
	for _, rs := range olds {
		if rs != nil && rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := int32(len(alive)) - limit
	if diff <= 0 {
		return nil
	}
	slices.SortStableFunc(alive, func(a, b *appsv1.ReplicaSet) int {
		if c := cmp.Compare(revision(a), revision(b)); c != 0 {
			return c
		}
		return byCreation(a, b)
	})
	var out []*appsv1.ReplicaSet
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || rsReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		out = append(out, rs)
	}
	return out
}
