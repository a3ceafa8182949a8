package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
)

// podInfo is a pod with what the filters and scores need precomputed once:
// its requests, host ports, owner and compiled selectors.
type podInfo struct {
	pod     *corev1.Pod
	key     string // namespace/name
	uid     types.UID
	request resources
	nonZero resources // request with the scoring defaults for cpu and memory
	ports   []hostPort
	owner   types.UID // the controller's UID, "" without one

	nodeSelector     labels.Selector // spec.nodeSelector; nil when empty
	requiredAffinity *nodeSelector
	preferred        []preferredTerm
	affinity         []podTerm // required pod affinity
	antiAffinity     []podTerm // required pod anti-affinity

	// Set by the shell from volume claims before the pod is scheduled.
	volumes *podVolumes // nil without claims
	// unresolvable, when set, says why no node can host the pod whatever
	// the nodes' state (a missing claim, an unbound immediate claim);
	// filters are not run.
	unresolvable string
}

// hostPort is a port a pod claims on its node's addresses.
type hostPort struct {
	ip       string // "0.0.0.0" for every address
	protocol corev1.Protocol
	port     int32
}

// podTerm is a compiled required pod (anti-)affinity term.
type podTerm struct {
	selector      labels.Selector
	namespaces    map[string]bool
	allNamespaces bool
	topologyKey   string
}

func (t *podTerm) matches(p *podInfo) bool {
	return (t.allNamespaces || t.namespaces[p.pod.Namespace]) && t.selector.Matches(labels.Set(p.pod.Labels))
}

// namespaceResolver lists the namespaces whose labels match a selector.
type namespaceResolver func(labels.Selector) []string

func newPodInfo(pod *corev1.Pod, namespaces namespaceResolver) *podInfo {
	p := &podInfo{pod: pod, key: pod.Namespace + "/" + pod.Name, uid: pod.UID}
	p.request, p.nonZero = podRequests(pod)
	for i := range pod.Spec.Containers {
		for _, cp := range pod.Spec.Containers[i].Ports {
			if cp.HostPort <= 0 {
				continue
			}
			hp := hostPort{ip: cp.HostIP, protocol: cp.Protocol, port: cp.HostPort}
			if hp.ip == "" {
				hp.ip = "0.0.0.0"
			}
			if hp.protocol == "" {
				hp.protocol = corev1.ProtocolTCP
			}
			p.ports = append(p.ports, hp)
		}
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		p.owner = ref.UID
	}
	if len(pod.Spec.NodeSelector) > 0 {
		p.nodeSelector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	aff := pod.Spec.Affinity
	if aff == nil {
		return p
	}
	if na := aff.NodeAffinity; na != nil {
		p.requiredAffinity = compileNodeSelector(na.RequiredDuringSchedulingIgnoredDuringExecution)
		for _, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			p.preferred = append(p.preferred, preferredTerm{weight: int64(t.Weight), term: compileTerm(&t.Preference)})
		}
	}
	if pa := aff.PodAffinity; pa != nil {
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			p.affinity = append(p.affinity, compilePodTerm(pod, &pa.RequiredDuringSchedulingIgnoredDuringExecution[i], namespaces))
		}
	}
	if pa := aff.PodAntiAffinity; pa != nil {
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			p.antiAffinity = append(p.antiAffinity, compilePodTerm(pod, &pa.RequiredDuringSchedulingIgnoredDuringExecution[i], namespaces))
		}
	}
	return p
}

// compilePodTerm resolves a term's namespaces as upstream: the listed ones
// plus those matching namespaceSelector; the pod's own namespace when both
// are unset; every namespace for an empty namespaceSelector. An invalid
// selector matches no pod.
func compilePodTerm(pod *corev1.Pod, t *corev1.PodAffinityTerm, namespaces namespaceResolver) podTerm {
	pt := podTerm{topologyKey: t.TopologyKey, namespaces: map[string]bool{}}
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		sel = labels.Nothing()
	}
	if t.LabelSelector != nil {
		for _, key := range t.MatchLabelKeys {
			if v, ok := pod.Labels[key]; ok {
				if r, err := labels.NewRequirement(key, selection.In, []string{v}); err == nil {
					sel = sel.Add(*r)
				}
			}
		}
		for _, key := range t.MismatchLabelKeys {
			if v, ok := pod.Labels[key]; ok {
				if r, err := labels.NewRequirement(key, selection.NotIn, []string{v}); err == nil {
					sel = sel.Add(*r)
				}
			}
		}
	}
	pt.selector = sel
	for _, ns := range t.Namespaces {
		pt.namespaces[ns] = true
	}
	switch {
	case t.NamespaceSelector == nil:
		if len(t.Namespaces) == 0 {
			pt.namespaces[pod.Namespace] = true
		}
	case len(t.NamespaceSelector.MatchLabels) == 0 && len(t.NamespaceSelector.MatchExpressions) == 0:
		pt.allNamespaces = true
	default:
		nsSel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
		if err == nil && namespaces != nil {
			for _, ns := range namespaces(nsSel) {
				pt.namespaces[ns] = true
			}
		}
	}
	return pt
}

// terminated reports whether a pod no longer holds node resources.
func terminated(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
