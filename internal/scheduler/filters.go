package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Why a node cannot host a pod, in upstream's words so that `kubectl
// describe` reads the same as with kube-scheduler.
const (
	reasonUnschedulable          = "node(s) were unschedulable"
	reasonNodeName               = "node(s) didn't match the requested node name"
	reasonNodeAffinity           = "node(s) didn't match Pod's node affinity/selector"
	reasonHostPorts              = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods            = "Too many pods"
	reasonExistingAntiAffinity   = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonPodAffinity            = "node(s) didn't match pod affinity rules"
	reasonPodAntiAffinity        = "node(s) didn't match pod anti-affinity rules"
	insufficientPrefix           = "Insufficient "
	untoleratedTaintReasonFormat = "node(s) had untolerated taint {%s: %s}"
)

func untoleratedTaint(t *corev1.Taint) []string {
	return []string{fmt.Sprintf(untoleratedTaintReasonFormat, t.Key, t.Value)}
}

// cycle is one attempt to place one pod: the pod, and what is computed
// once from the whole cluster before nodes are looked at one by one.
type cycle struct {
	pod *podInfo
	// Topology domains (label key and value) the pod may not join: where
	// a pod matching one of its anti-affinity terms runs, and where a pod
	// whose anti-affinity term matches it runs.
	antiAffinityDomains         map[topologyPair]bool
	existingAntiAffinityDomains map[topologyPair]bool
	// affinityDomains are the domains holding a pod that matches all the
	// pod's affinity terms; affinityToSelf allows the first pod of a group
	// that matches its own terms to go anywhere with the topology labels.
	affinityDomains map[topologyPair]bool
	affinityToSelf  bool
	// readWriteOncePodConflict: another pod uses one of the pod's
	// ReadWriteOncePod claims.
	readWriteOncePodConflict bool
}

type topologyPair struct{ key, value string }

// newCycle prepares the pod (anti-)affinity domains from the cache.
func newCycle(p *podInfo, c *nodeCache) *cycle {
	cy := &cycle{pod: p, readWriteOncePodConflict: readWriteOncePodConflict(p, c)}
	nodeLabels := func(name string) map[string]string {
		if n := c.nodes[name]; n != nil && n.node != nil {
			return n.node.Labels
		}
		return nil
	}
	for _, cp := range c.affinityPods {
		for i := range cp.info.antiAffinity {
			t := &cp.info.antiAffinity[i]
			if v, ok := nodeLabels(cp.node)[t.topologyKey]; ok && t.matches(p) {
				if cy.existingAntiAffinityDomains == nil {
					cy.existingAntiAffinityDomains = map[topologyPair]bool{}
				}
				cy.existingAntiAffinityDomains[topologyPair{t.topologyKey, v}] = true
			}
		}
	}
	if len(p.affinity) == 0 && len(p.antiAffinity) == 0 {
		return cy
	}
	cy.antiAffinityDomains = map[topologyPair]bool{}
	cy.affinityDomains = map[topologyPair]bool{}
	for _, cp := range c.pods {
		if cp.info.uid == p.uid {
			continue
		}
		nl := nodeLabels(cp.node)
		for i := range p.antiAffinity {
			t := &p.antiAffinity[i]
			if v, ok := nl[t.topologyKey]; ok && t.matches(cp.info) {
				cy.antiAffinityDomains[topologyPair{t.topologyKey, v}] = true
			}
		}
		if len(p.affinity) > 0 && matchesAll(p.affinity, cp.info) {
			for _, t := range p.affinity {
				if v, ok := nl[t.topologyKey]; ok {
					cy.affinityDomains[topologyPair{t.topologyKey, v}] = true
				}
			}
		}
	}
	cy.affinityToSelf = len(cy.affinityDomains) == 0 && matchesAll(p.affinity, p)
	return cy
}

func matchesAll(terms []podTerm, p *podInfo) bool {
	for i := range terms {
		if !terms[i].matches(p) {
			return false
		}
	}
	return true
}

// filterPlugin decides whether a node can host the cycle's pod; it returns
// the reasons it cannot, nil if it can.
type filterPlugin interface {
	filter(cy *cycle, n *nodeInfo) []string
}

// nodeUnschedulable rejects cordoned nodes (spec.unschedulable) unless the
// pod tolerates node.kubernetes.io/unschedulable.
type nodeUnschedulable struct{}

func (nodeUnschedulable) filter(cy *cycle, n *nodeInfo) []string {
	if !n.unschedulable {
		return nil
	}
	taint := corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	if !tolerates(cy.pod.pod.Spec.Tolerations, &taint) {
		return []string{reasonUnschedulable}
	}
	return nil
}

// nodeName rejects nodes other than the one a pod names.
type nodeName struct{}

func (nodeName) filter(cy *cycle, n *nodeInfo) []string {
	if want := cy.pod.pod.Spec.NodeName; want != "" && want != n.name {
		return []string{reasonNodeName}
	}
	return nil
}

// nodeReady rejects nodes whose Ready condition is not True, as if they
// carried the NoSchedule taint the node lifecycle controller puts on them
// (node.kubernetes.io/not-ready, or unreachable when Unknown), so a pod
// tolerating that taint (a network plugin's DaemonSet) may still go there.
type nodeReady struct{}

func (nodeReady) filter(cy *cycle, n *nodeInfo) []string {
	if n.notReady == nil || tolerates(cy.pod.pod.Spec.Tolerations, n.notReady) {
		return nil
	}
	return untoleratedTaint(n.notReady)
}

// taintToleration rejects nodes with a NoSchedule or NoExecute taint the
// pod does not tolerate.
type taintToleration struct{}

func (taintToleration) filter(cy *cycle, n *nodeInfo) []string {
	for i := range n.taints {
		t := &n.taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(cy.pod.pod.Spec.Tolerations, t) {
			return untoleratedTaint(t)
		}
	}
	return nil
}

// nodeAffinity rejects nodes not matching spec.nodeSelector and the
// required node affinity.
type nodeAffinity struct{}

func (nodeAffinity) filter(cy *cycle, n *nodeInfo) []string {
	p := cy.pod
	if p.nodeSelector != nil && !p.nodeSelector.Matches(labels.Set(n.node.Labels)) {
		return []string{reasonNodeAffinity}
	}
	if !p.requiredAffinity.matches(n.node) {
		return []string{reasonNodeAffinity}
	}
	return nil
}

// hostPorts rejects nodes where a host port the pod wants is taken on the
// same address (0.0.0.0 conflicting with every address).
type hostPorts struct{}

func (hostPorts) filter(cy *cycle, n *nodeInfo) []string {
	for _, hp := range cy.pod.ports {
		ips := n.usedPorts[portKey{hp.protocol, hp.port}]
		if len(ips) == 0 {
			continue
		}
		if hp.ip == "0.0.0.0" || ips["0.0.0.0"] > 0 || ips[hp.ip] > 0 {
			return []string{reasonHostPorts}
		}
	}
	return nil
}

// resourcesFit rejects nodes whose allocatable, less what bound and
// assumed pods request, cannot hold the pod's requests or one more pod.
type resourcesFit struct{}

func (resourcesFit) filter(cy *cycle, n *nodeInfo) []string {
	var reasons []string
	if int64(len(n.pods))+1 > n.allowedPods {
		reasons = append(reasons, reasonTooManyPods)
	}
	r, alloc, used := &cy.pod.request, &n.allocatable, &n.requested
	if r.milliCPU > 0 && r.milliCPU > alloc.milliCPU-used.milliCPU {
		reasons = append(reasons, insufficientPrefix+string(corev1.ResourceCPU))
	}
	if r.memory > 0 && r.memory > alloc.memory-used.memory {
		reasons = append(reasons, insufficientPrefix+string(corev1.ResourceMemory))
	}
	if r.ephemeralStorage > 0 && r.ephemeralStorage > alloc.ephemeralStorage-used.ephemeralStorage {
		reasons = append(reasons, insufficientPrefix+string(corev1.ResourceEphemeralStorage))
	}
	for name, v := range r.scalar {
		if v > alloc.scalar[name]-used.scalar[name] {
			reasons = append(reasons, insufficientPrefix+string(name))
		}
	}
	return reasons
}

// interPodAffinity enforces required pod affinity and anti-affinity, the
// pod's own terms and those of pods already placed, for any topology key.
type interPodAffinity struct{}

func (interPodAffinity) filter(cy *cycle, n *nodeInfo) []string {
	if len(cy.existingAntiAffinityDomains) == 0 && len(cy.pod.affinity) == 0 && len(cy.pod.antiAffinity) == 0 {
		return nil
	}
	nl := n.node.Labels
	for pair := range cy.existingAntiAffinityDomains {
		if v, ok := nl[pair.key]; ok && v == pair.value {
			return []string{reasonExistingAntiAffinity}
		}
	}
	if len(cy.pod.affinity) > 0 {
		inDomains := true
		for _, t := range cy.pod.affinity {
			v, ok := nl[t.topologyKey]
			if !ok {
				return []string{reasonPodAffinity}
			}
			inDomains = inDomains && cy.affinityDomains[topologyPair{t.topologyKey, v}]
		}
		if !inDomains && !cy.affinityToSelf {
			return []string{reasonPodAffinity}
		}
	}
	for _, t := range cy.pod.antiAffinity {
		if v, ok := nl[t.topologyKey]; ok && cy.antiAffinityDomains[topologyPair{t.topologyKey, v}] {
			return []string{reasonPodAntiAffinity}
		}
	}
	return nil
}
