package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// nodeInfo is a node with the sums of what the pods on it (bound or
// assumed) request.
type nodeInfo struct {
	name  string
	node  *corev1.Node // nil while only pods bound to it are known
	index int          // position in nodeCache.list; -1 when not listed

	allocatable resources
	allowedPods int64
	// Read on every filter pass, so kept here rather than behind node.
	unschedulable bool
	notReady      *corev1.Taint // the taint a Ready condition other than True stands for; nil when Ready
	taints        []corev1.Taint

	requested resources // what the pods request
	nonZero   resources // the same with the scoring defaults
	pods      map[types.UID]*podInfo
	usedPorts map[portKey]map[string]int // (protocol, port) -> host IP -> pods
	owners    map[types.UID]int          // controller UID -> pods
}

type portKey struct {
	protocol corev1.Protocol
	port     int32
}

func newNodeInfo(name string) *nodeInfo {
	return &nodeInfo{
		name: name, index: -1,
		pods:      map[types.UID]*podInfo{},
		usedPorts: map[portKey]map[string]int{},
		owners:    map[types.UID]int{},
	}
}

func (n *nodeInfo) setNode(node *corev1.Node) {
	n.node = node
	n.allocatable = resourcesOf(node.Status.Allocatable)
	n.allowedPods = node.Status.Allocatable.Pods().Value()
	n.unschedulable = node.Spec.Unschedulable
	n.taints = node.Spec.Taints
	n.notReady = notReadyTaint(node)
}

// notReadyTaint is the NoSchedule taint the node lifecycle controller puts
// on a node whose Ready condition is False or missing (not-ready) or
// Unknown (unreachable); nil for a Ready node.
func notReadyTaint(node *corev1.Node) *corev1.Taint {
	taint := &corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	for _, c := range node.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return nil
		}
		if c.Status == corev1.ConditionUnknown {
			taint.Key = corev1.TaintNodeUnreachable
		}
	}
	return taint
}

// account adds (sign 1) or removes (sign -1) a pod's use of the node.
func (n *nodeInfo) account(p *podInfo, sign int64) {
	if sign > 0 {
		n.pods[p.uid] = p
	} else {
		delete(n.pods, p.uid)
	}
	n.requested.add(p.request, sign)
	n.nonZero.add(p.nonZero, sign)
	for _, hp := range p.ports {
		k := portKey{hp.protocol, hp.port}
		ips := n.usedPorts[k]
		if ips == nil {
			ips = map[string]int{}
			n.usedPorts[k] = ips
		}
		ips[hp.ip] += int(sign)
		if ips[hp.ip] <= 0 {
			delete(ips, hp.ip)
			if len(ips) == 0 {
				delete(n.usedPorts, k)
			}
		}
	}
	if p.owner != "" {
		n.owners[p.owner] += int(sign)
		if n.owners[p.owner] <= 0 {
			delete(n.owners, p.owner)
		}
	}
}

// cachedPod is a pod the cache counts against a node.
type cachedPod struct {
	info    *podInfo
	node    string
	assumed bool // placed by this scheduler, not yet seen bound
}

// nodeCache is the scheduler's view of the cluster: nodes, and the pods
// bound or assumed on them. It is not safe for concurrent use; the shell
// serializes access.
type nodeCache struct {
	nodes map[string]*nodeInfo
	list  []*nodeInfo // nodes with a Node object, in a stable order
	pods  map[types.UID]*cachedPod
	// affinityPods are the cached pods with required pod (anti-)affinity,
	// which constrain where later pods may go.
	affinityPods map[types.UID]*cachedPod
	namespaces   namespaceResolver
}

func newNodeCache(namespaces namespaceResolver) *nodeCache {
	return &nodeCache{
		nodes:        map[string]*nodeInfo{},
		pods:         map[types.UID]*cachedPod{},
		affinityPods: map[types.UID]*cachedPod{},
		namespaces:   namespaces,
	}
}

// setNode adds or updates a node.
func (c *nodeCache) setNode(node *corev1.Node) {
	n := c.nodes[node.Name]
	if n == nil {
		n = newNodeInfo(node.Name)
		c.nodes[node.Name] = n
	}
	n.setNode(node)
	if n.index < 0 {
		n.index = len(c.list)
		c.list = append(c.list, n)
	}
}

// removeNode forgets a node; pods still bound to it keep counting against
// its name in case it comes back.
func (c *nodeCache) removeNode(name string) {
	n := c.nodes[name]
	if n == nil {
		return
	}
	if n.index >= 0 {
		last := c.list[len(c.list)-1]
		c.list[n.index] = last
		last.index = n.index
		c.list = c.list[:len(c.list)-1]
		n.index = -1
	}
	n.node = nil
	if len(n.pods) == 0 {
		delete(c.nodes, name)
	}
}

// setPod records a pod seen bound to a node: it adds it, moves or updates
// it, or confirms an assumed pod. Terminated pods are removed.
func (c *nodeCache) setPod(pod *corev1.Pod) {
	if terminated(pod) || pod.Spec.NodeName == "" {
		c.removePod(pod.UID)
		return
	}
	c.removePod(pod.UID)
	c.place(newPodInfo(pod, c.namespaces), pod.Spec.NodeName, false)
}

// assume counts a pod against a node from the moment it is chosen, before
// the binding is written.
func (c *nodeCache) assume(p *podInfo, node string) {
	c.removePod(p.uid)
	c.place(p, node, true)
}

// forget undoes assume after a failed binding; a pod seen bound since is
// kept.
func (c *nodeCache) forget(uid types.UID) {
	if cp := c.pods[uid]; cp != nil && cp.assumed {
		c.removePod(uid)
	}
}

func (c *nodeCache) isAssumed(uid types.UID) bool {
	cp := c.pods[uid]
	return cp != nil && cp.assumed
}

func (c *nodeCache) place(p *podInfo, node string, assumed bool) {
	n := c.nodes[node]
	if n == nil {
		n = newNodeInfo(node)
		c.nodes[node] = n
	}
	n.account(p, 1)
	cp := &cachedPod{info: p, node: node, assumed: assumed}
	c.pods[p.uid] = cp
	if len(p.affinity) > 0 || len(p.antiAffinity) > 0 {
		c.affinityPods[p.uid] = cp
	}
}

func (c *nodeCache) removePod(uid types.UID) {
	cp := c.pods[uid]
	if cp == nil {
		return
	}
	delete(c.pods, uid)
	delete(c.affinityPods, uid)
	n := c.nodes[cp.node]
	n.account(cp.info, -1)
	if n.node == nil && len(n.pods) == 0 {
		delete(c.nodes, cp.node)
	}
}
