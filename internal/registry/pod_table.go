package registry

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// podTable prints pods the way kubectl shows them upstream.
func podTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", 0),
			column("Status", "string", "The aggregate status of the containers in this pod.", 0),
			column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
			ageColumn,
			column("IP", "string", "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", 1),
			column("Node", "string", "NodeName is a request to schedule this pod onto a specific node.", 1),
			column("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node.", 1),
			column("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.", 1),
		},
		Row: func(obj runtime.Object) []any { return podRow(obj.(*corev1.Pod), time.Now()) },
	}
}

// podRow computes a pod's cells; now is when "ago" durations end.
func podRow(pod *corev1.Pod, now time.Time) []any {
	ready, total, status, restarts := podStatusSummary(pod, now)
	podIP := "<none>"
	if len(pod.Status.PodIPs) > 0 && pod.Status.PodIPs[0].IP != "" {
		podIP = pod.Status.PodIPs[0].IP
	} else if pod.Status.PodIP != "" {
		podIP = pod.Status.PodIP
	}
	nodeName, nominated := podNoneIfEmpty(pod.Spec.NodeName), podNoneIfEmpty(pod.Status.NominatedNodeName)
	gates := "<none>"
	if len(pod.Spec.ReadinessGates) > 0 {
		trueCount := 0
		for _, g := range pod.Spec.ReadinessGates {
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					if c.Status == corev1.ConditionTrue {
						trueCount++
					}
					break
				}
			}
		}
		gates = fmt.Sprintf("%d/%d", trueCount, len(pod.Spec.ReadinessGates))
	}
	return []any{fmt.Sprintf("%d/%d", ready, total), status, restarts, age(pod.CreationTimestamp),
		podIP, nodeName, nominated, gates}
}

func podNoneIfEmpty(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func podIsSidecar(c *corev1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// podStatusSummary follows upstream's pod printer: the STATUS is the pod
// reason or phase, overridden by init container progress (Init:N/M,
// Init:<reason>), then by the last container's waiting or terminated
// reason, and by Terminating while the pod is being deleted.
func podStatusSummary(pod *corev1.Pod, now time.Time) (ready, total int, status, restarts string) {
	total = len(pod.Spec.Containers)
	restartCount, sidecarRestarts := 0, 0
	var lastRestart, lastSidecarRestart time.Time

	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	inits := map[string]*corev1.Container{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		inits[c.Name] = c
		if podIsSidecar(c) {
			total++
		}
	}
	later := func(cur time.Time, cs corev1.ContainerStatus) time.Time {
		if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(cur) {
			return t.FinishedAt.Time
		}
		return cur
	}

	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		restartCount += int(cs.RestartCount)
		lastRestart = later(lastRestart, cs)
		sidecar := podIsSidecar(inits[cs.Name])
		if sidecar {
			sidecarRestarts += int(cs.RestartCount)
			lastSidecarRestart = later(lastSidecarRestart, cs)
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case sidecar && cs.Started != nil && *cs.Started:
			if cs.Ready {
				ready++
			}
			continue
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			switch {
			case t.Reason != "":
				reason = "Init:" + t.Reason
			case t.Signal != 0:
				reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
			}
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || podConditionTrue(pod, corev1.PodInitialized) {
		restartCount, lastRestart = sidecarRestarts, lastSidecarRestart
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			restartCount += int(cs.RestartCount)
			lastRestart = later(lastRestart, cs)
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
			case cs.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		// A container still running turns "Completed" back into Running.
		if reason == "Completed" && hasRunning {
			if podConditionTrue(pod, corev1.PodReady) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}

	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	switch {
	case pod.DeletionTimestamp != nil && pod.Status.Reason == "NodeLost":
		reason = "Unknown"
	case pod.DeletionTimestamp != nil && !terminal:
		reason = "Terminating"
	}

	restarts = strconv.Itoa(restartCount)
	if restartCount != 0 && !lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", restartCount, podHumanSince(lastRestart, now))
	}
	return ready, total, reason, restarts
}

func podHumanSince(t, now time.Time) string {
	return duration.HumanDuration(now.Sub(t))
}

func podConditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
