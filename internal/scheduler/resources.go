package scheduler

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// What a container without a cpu or memory request counts as when nodes are
// scored (not when they are filtered), as upstream does, so that pods
// without requests still spread instead of piling onto one node.
const (
	defaultMilliCPURequest = 100
	defaultMemoryRequest   = 200 * 1024 * 1024
)

// resources is an amount of what the scheduler accounts for on a node.
type resources struct {
	milliCPU         int64
	memory           int64
	ephemeralStorage int64
	// scalar holds extended resources (example.com/gpu), hugepages-* and
	// other native prefixed names; nil when there are none.
	scalar map[corev1.ResourceName]int64
}

// isScalar reports whether the scheduler counts a resource name beyond
// cpu, memory, ephemeral-storage and pods: extended resources (which carry
// a domain), hugepages and attachable volume limits.
func isScalar(name corev1.ResourceName) bool {
	s := string(name)
	return strings.Contains(s, "/") || strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) ||
		strings.HasPrefix(s, corev1.ResourceAttachableVolumesPrefix)
}

func resourcesOf(list corev1.ResourceList) resources {
	var r resources
	r.addList(list)
	return r
}

func (r *resources) addList(list corev1.ResourceList) {
	for name, q := range list {
		switch name {
		case corev1.ResourceCPU:
			r.milliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.ephemeralStorage += q.Value()
		default:
			if isScalar(name) {
				r.addScalar(name, q.Value())
			}
		}
	}
}

func (r *resources) addScalar(name corev1.ResourceName, v int64) {
	if v == 0 && r.scalar[name] == 0 {
		return
	}
	if r.scalar == nil {
		r.scalar = map[corev1.ResourceName]int64{}
	}
	r.scalar[name] += v
}

// add adds o times sign (1 or -1) to r.
func (r *resources) add(o resources, sign int64) {
	r.milliCPU += sign * o.milliCPU
	r.memory += sign * o.memory
	r.ephemeralStorage += sign * o.ephemeralStorage
	for name, v := range o.scalar {
		r.addScalar(name, sign*v)
		if r.scalar[name] == 0 {
			delete(r.scalar, name)
		}
	}
}

// raise sets each amount of r to the larger of r's and o's.
func (r *resources) raise(o resources) {
	r.milliCPU = max(r.milliCPU, o.milliCPU)
	r.memory = max(r.memory, o.memory)
	r.ephemeralStorage = max(r.ephemeralStorage, o.ephemeralStorage)
	for name, v := range o.scalar {
		if v > r.scalar[name] {
			r.addScalar(name, v-r.scalar[name])
		}
	}
}

func (r resources) clone() resources {
	c := r
	c.scalar = nil
	for name, v := range r.scalar {
		c.addScalar(name, v)
	}
	return c
}

// podRequests returns what a pod requests, computed as upstream does:
// the sum over its containers and restartable init containers (sidecars),
// or more if one init container (plus the sidecars started before it) needs
// more, with pod-level cpu and memory requests taking precedence, plus the
// pod overhead. nonZero is the same with every container's missing cpu and
// memory request counted as the scoring defaults.
func podRequests(pod *corev1.Pod) (req, nonZero resources) {
	req = aggregate(pod, func(c *corev1.Container) resources { return resourcesOf(c.Resources.Requests) })
	nonZero = aggregate(pod, func(c *corev1.Container) resources {
		r := resourcesOf(c.Resources.Requests)
		if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
			r.milliCPU = defaultMilliCPURequest
		}
		if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
			r.memory = defaultMemoryRequest
		}
		return r
	})
	if pl := pod.Spec.Resources; pl != nil {
		if q, ok := pl.Requests[corev1.ResourceCPU]; ok {
			req.milliCPU, nonZero.milliCPU = q.MilliValue(), q.MilliValue()
		}
		if q, ok := pl.Requests[corev1.ResourceMemory]; ok {
			req.memory, nonZero.memory = q.Value(), q.Value()
		}
	}
	overhead := resourcesOf(pod.Spec.Overhead)
	req.add(overhead, 1)
	nonZero.add(overhead, 1)
	return req, nonZero
}

// aggregate combines per-container amounts the way the kubelet admits them.
func aggregate(pod *corev1.Pod, of func(*corev1.Container) resources) resources {
	var sum resources
	for i := range pod.Spec.Containers {
		sum.add(of(&pod.Spec.Containers[i]), 1)
	}
	var sidecars, initPeak resources
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := of(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			// A sidecar keeps running next to the app containers.
			sum.add(r, 1)
			sidecars.add(r, 1)
			initPeak.raise(sidecars)
			continue
		}
		r.add(sidecars, 1)
		initPeak.raise(r)
	}
	sum.raise(initPeak)
	return sum
}
