package kubelet

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/kubelet/kubeletserver"
)

// podStatus computes the status of a live pod from its spec and what the
// runtime holds, keeping conditions the kubelet does not own.
func (k *Kubelet) podStatus(pod *corev1.Pod, rp *runtimePod) corev1.PodStatus {
	st := corev1.PodStatus{
		HostIP:   k.opts.NodeIP,
		HostIPs:  []corev1.HostIP{{IP: k.opts.NodeIP}},
		QOSClass: qosClass(pod),
	}
	k.mu.Lock()
	if t, ok := k.startTimes[pod.UID]; ok {
		st.StartTime = &t
	}
	k.mu.Unlock()
	sb := rp.sandbox()
	sandboxReady := sb != nil && sb.State == runtimeapi.PodSandboxState_SANDBOX_READY
	if sb != nil {
		if sbs, err := k.rt.PodSandboxStatus(context.Background(), sb.Id); err == nil && sbs.Network != nil && sbs.Network.Ip != "" && !pod.Spec.HostNetwork {
			st.PodIP = sbs.Network.Ip
			st.PodIPs = []corev1.PodIP{{IP: sbs.Network.Ip}}
			for _, ip := range sbs.Network.AdditionalIps {
				st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip.Ip})
			}
		} else if pod.Spec.HostNetwork {
			st.PodIP = k.opts.NodeIP
			st.PodIPs = []corev1.PodIP{{IP: k.opts.NodeIP}}
		}
	}
	if st.PodIP == "" && pod.Status.PodIP != "" && sb != nil {
		st.PodIP, st.PodIPs = pod.Status.PodIP, pod.Status.PodIPs
	}

	initDone := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := k.containerStatus(pod, c, rp, true)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			initDone = false
		}
	}
	allReady, running, succeeded, failed, waiting := true, 0, 0, 0, 0
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := k.containerStatus(pod, c, rp, false)
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if !cs.Ready {
			allReady = false
		}
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			succeeded++
		case cs.State.Terminated != nil:
			failed++
		default:
			waiting++
			if cs.LastTerminationState.Terminated != nil {
				// Waiting to restart: counts as running for the phase.
				running++
				waiting--
			}
		}
	}
	n := len(pod.Spec.Containers)
	initFailed := false
	if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
		for _, cs := range st.InitContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				initFailed = true
			}
		}
	}
	switch {
	case initFailed:
		st.Phase = corev1.PodFailed
	case !initDone:
		st.Phase = corev1.PodPending
	case waiting > 0 && running == 0 && succeeded+failed == 0:
		st.Phase = corev1.PodPending
	case running > 0 || waiting > 0:
		st.Phase = corev1.PodRunning
	case succeeded+failed == n && pod.Spec.RestartPolicy == corev1.RestartPolicyAlways:
		st.Phase = corev1.PodRunning // about to restart them
	case failed > 0:
		st.Phase = corev1.PodFailed
	case succeeded == n:
		st.Phase = corev1.PodSucceeded
	default:
		st.Phase = corev1.PodPending
	}
	if st.Phase == corev1.PodRunning && !sandboxReady && pod.Spec.RestartPolicy == corev1.RestartPolicyNever && sb != nil {
		st.Phase = corev1.PodFailed
	}
	if n == 0 {
		st.Phase = corev1.PodPending
	}
	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	if terminal {
		allReady = false
	}

	now := metav1.NewTime(k.clock.Now())
	cond := func(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, LastTransitionTime: now}
		if ok {
			c.Status, c.Reason = corev1.ConditionTrue, ""
		}
		for _, old := range pod.Status.Conditions {
			if old.Type == t && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	containersReady := allReady && initDone
	ready := containersReady && readinessGatesOK(pod)
	readyReason := "ContainersNotReady"
	if terminal {
		readyReason = "PodCompleted"
	}
	initReason := "ContainersNotInitialized"
	if terminal && initDone {
		initReason = "PodCompleted"
	}
	owned := []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, sandboxReady, ""),
		cond(corev1.PodInitialized, initDone, initReason),
		cond(corev1.PodReady, ready, readyReason),
		cond(corev1.ContainersReady, containersReady, readyReason),
	}
	if !ready && containersReady {
		owned[2].Reason = "ReadinessGatesNotReady"
	}
	if owned[2].Status != corev1.ConditionTrue && !terminal {
		var names []string
		for _, cs := range st.ContainerStatuses {
			if !cs.Ready {
				names = append(names, cs.Name)
			}
		}
		if len(names) > 0 {
			owned[2].Message = fmt.Sprintf("containers with unready status: [%s]", strings.Join(names, " "))
			owned[3].Message = owned[2].Message
		}
	}
	if !initDone {
		var names []string
		for _, cs := range st.InitContainerStatuses {
			if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
				names = append(names, cs.Name)
			}
		}
		owned[1].Message = fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(names, " "))
	}
	for _, c := range pod.Status.Conditions {
		switch c.Type {
		case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady:
		default:
			st.Conditions = append(st.Conditions, c) // PodScheduled, DisruptionTarget, gates
		}
	}
	st.Conditions = append(st.Conditions, owned...)
	return st
}

func readinessGatesOK(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// containerStatus reports one container: its newest instance's state, the
// previous instance's as lastState, and any waiting reason the kubelet
// knows (image pull, config errors, back-off).
func (k *Kubelet) containerStatus(pod *corev1.Pod, c *corev1.Container, rp *runtimePod, init bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
	latest := rp.latest(c.Name)
	w, hasWaiting := k.waitingFor(pod.UID, c.Name)
	if latest == nil {
		// Upstream's words: containers wait for init containers as
		// PodInitializing, then are ContainerCreating.
		reason := "ContainerCreating"
		if init || !initDone(pod, rp) {
			reason = "PodInitializing"
		}
		if hasWaiting {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
		} else {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
		}
		return cs
	}
	cs.ContainerID = k.runtimeName + "://" + latest.Id
	cs.Image = c.Image
	cs.ImageID = latest.ImageRef
	cs.RestartCount = restartCount(latest)
	if prev := rp.previous(c.Name); prev != nil && prev.State == runtimeapi.ContainerState_CONTAINER_EXITED {
		cs.LastTerminationState.Terminated = k.terminated(prev)
	}
	switch latest.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Unix(0, latest.StartedAt))}
		started := k.probes.result(latest.Id, probeStartup) != probeFailure && k.probes.started(latest.Id, c)
		cs.Started = &started
		cs.Ready = started && k.probes.ready(latest.Id, c)
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		t := k.terminated(latest)
		willRestart := !init && shouldRestart(pod, latest) || init && t.ExitCode != 0 && pod.Spec.RestartPolicy != corev1.RestartPolicyNever
		if willRestart && hasWaiting {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
			cs.LastTerminationState = corev1.ContainerState{Terminated: t}
		} else {
			cs.State.Terminated = t
		}
		cs.Started = new(bool)
	default:
		reason := "ContainerCreating"
		if hasWaiting {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
		} else {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
		}
		cs.Started = new(bool)
	}
	return cs
}

// initDone: every init container has exited successfully.
func initDone(pod *corev1.Pod, rp *runtimePod) bool {
	for _, c := range pod.Spec.InitContainers {
		st := rp.latest(c.Name)
		if st == nil || st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 0 {
			return false
		}
	}
	return true
}

// terminated converts an exited container's status, reading its
// termination message file.
func (k *Kubelet) terminated(st *runtimeapi.ContainerStatus) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{
		ExitCode:    st.ExitCode,
		Reason:      st.Reason,
		Message:     st.Message,
		StartedAt:   metav1.NewTime(time.Unix(0, st.StartedAt)),
		FinishedAt:  metav1.NewTime(time.Unix(0, st.FinishedAt)),
		ContainerID: k.runtimeName + "://" + st.Id,
	}
	if t.Reason == "" {
		t.Reason = "Completed"
		if t.ExitCode != 0 {
			t.Reason = "Error"
		}
	}
	if f := st.Annotations[annTerminationFile]; f != "" {
		if b, err := readLimited(f, 4096); err == nil && len(b) > 0 {
			t.Message = string(b)
		}
	}
	if t.Message == "" && t.ExitCode != 0 && st.Annotations[annTerminationPolicy] == string(corev1.TerminationMessageFallbackToLogsOnError) && st.LogPath != "" {
		if b, err := kubeletserver.Tail(st.LogPath, 80, 2048); err == nil {
			t.Message = string(b)
		}
	}
	return t
}

func readLimited(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	m, _ := f.Read(buf)
	return buf[:m], nil
}

// writeStatus updates the pod's status subresource when it differs from
// what the API has.
func (k *Kubelet) writeStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) error {
	if apiequality.Semantic.DeepEqual(pod.Status, st) {
		return nil
	}
	p := pod.DeepCopy()
	// Keep fields other writers own.
	st.NominatedNodeName = pod.Status.NominatedNodeName
	st.Resize = pod.Status.Resize
	st.ResourceClaimStatuses = pod.Status.ResourceClaimStatuses
	if apiequality.Semantic.DeepEqual(pod.Status, st) {
		return nil
	}
	p.Status = st
	_, err := k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	return err
}
