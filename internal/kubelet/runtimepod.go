package kubelet

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Labels and annotations the kubelet puts on sandboxes and containers, the
// same keys upstream uses so that crictl output reads familiar.
const (
	labelPodName         = "io.kubernetes.pod.name"
	labelPodNamespace    = "io.kubernetes.pod.namespace"
	labelPodUID          = "io.kubernetes.pod.uid"
	labelContainerName   = "io.kubernetes.container.name"
	annRestartCount      = "io.kubernetes.container.restartCount"
	annContainerHash     = "io.kubernetes.container.hash"
	annTerminationPath   = "io.kubernetes.container.terminationMessagePath"
	annTerminationFile   = "k1s.io/termination-message-file"
	annTerminationPolicy = "io.kubernetes.container.terminationMessagePolicy"
	annInitContainer     = "k1s.io/init-container"
)

// runtimePod is what the runtime holds for one pod UID: its sandboxes and
// containers, newest first, with container statuses.
type runtimePod struct {
	uid        types.UID
	sandboxes  []*runtimeapi.PodSandbox
	containers []*runtimeapi.Container
	statuses   map[string]*runtimeapi.ContainerStatus // by container ID
}

func (k *Kubelet) runtimePod(ctx context.Context, uid types.UID) (*runtimePod, error) {
	sel := map[string]string{labelPodUID: string(uid)}
	sbs, err := k.rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	cs, err := k.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	sort.Slice(sbs, func(i, j int) bool { return sbs[i].CreatedAt > sbs[j].CreatedAt })
	sort.Slice(cs, func(i, j int) bool { return cs[i].CreatedAt > cs[j].CreatedAt })
	rp := &runtimePod{uid: uid, sandboxes: sbs, containers: cs, statuses: map[string]*runtimeapi.ContainerStatus{}}
	for _, c := range cs {
		st, err := k.rt.ContainerStatus(ctx, c.Id)
		if err != nil {
			continue // removed meanwhile; the next relist notices
		}
		rp.statuses[c.Id] = st
	}
	return rp, nil
}

// sandbox returns the newest sandbox, or nil.
func (rp *runtimePod) sandbox() *runtimeapi.PodSandbox {
	if len(rp.sandboxes) == 0 {
		return nil
	}
	return rp.sandboxes[0]
}

// latest returns the newest container named name (in any sandbox), or nil.
func (rp *runtimePod) latest(name string) *runtimeapi.ContainerStatus {
	for _, c := range rp.containers {
		if c.Labels[labelContainerName] == name {
			if st := rp.statuses[c.Id]; st != nil {
				return st
			}
		}
	}
	return nil
}

// previous returns the second newest container named name, or nil.
func (rp *runtimePod) previous(name string) *runtimeapi.ContainerStatus {
	seen := false
	for _, c := range rp.containers {
		if c.Labels[labelContainerName] != name {
			continue
		}
		st := rp.statuses[c.Id]
		if st == nil {
			continue
		}
		if seen {
			return st
		}
		seen = true
	}
	return nil
}

// inSandbox reports whether container status st belongs to sandbox sb.
func (rp *runtimePod) inSandbox(st *runtimeapi.ContainerStatus, sb *runtimeapi.PodSandbox) bool {
	if sb == nil {
		return false
	}
	for _, c := range rp.containers {
		if c.Id == st.Id {
			return c.PodSandboxId == sb.Id
		}
	}
	return false
}

func restartCount(st *runtimeapi.ContainerStatus) int32 {
	if st == nil {
		return 0
	}
	n, _ := strconv.Atoi(st.Annotations[annRestartCount])
	return int32(n)
}

func (rp *runtimePod) running() []*runtimeapi.ContainerStatus {
	var out []*runtimeapi.ContainerStatus
	for _, c := range rp.containers {
		if st := rp.statuses[c.Id]; st != nil && st.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			out = append(out, st)
		}
	}
	return out
}

func podLabels(pod *corev1.Pod) map[string]string {
	l := make(map[string]string, len(pod.Labels)+3)
	for k, v := range pod.Labels {
		l[k] = v
	}
	l[labelPodName] = pod.Name
	l[labelPodNamespace] = pod.Namespace
	l[labelPodUID] = string(pod.UID)
	return l
}
