package kubelet

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/kubelet/kubeletserver"
)

// The kubelet answers its HTTPS server's questions (kubeletserver.Pods)
// from the pod cache and the runtime.
var _ kubeletserver.Pods = (*Kubelet)(nil)

func (k *Kubelet) cachedPod(namespace, name string) (*corev1.Pod, error) {
	obj, ok, err := k.pods.GetStore().GetByKey(namespace + "/" + name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("pod %s/%s: %w", namespace, name, kubeletserver.ErrNotFound)
	}
	return obj.(*corev1.Pod), nil
}

// Container resolves a container of a pod on this node to its current
// and previous instances' log files.
func (k *Kubelet) Container(ctx context.Context, namespace, name, container string) (kubeletserver.ContainerRef, error) {
	pod, err := k.cachedPod(namespace, name)
	if err != nil {
		return kubeletserver.ContainerRef{}, err
	}
	if container == "" {
		if len(pod.Spec.Containers) != 1 {
			var names []string
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			return kubeletserver.ContainerRef{}, &kubeletserver.ContainerRequiredError{Pod: name, Containers: names}
		}
		container = pod.Spec.Containers[0].Name
	}
	if specContainer(pod, container) == nil {
		return kubeletserver.ContainerRef{}, fmt.Errorf("container %s is not valid for pod %s: %w", container, name, kubeletserver.ErrNotFound)
	}
	rp, err := k.runtimePod(ctx, pod.UID)
	if err != nil {
		return kubeletserver.ContainerRef{}, err
	}
	ref := kubeletserver.ContainerRef{Name: container, PodUID: string(pod.UID)}
	latest := rp.latest(container)
	if latest == nil {
		return kubeletserver.ContainerRef{}, fmt.Errorf("container %q in pod %q is waiting to start: %w", container, name, kubeletserver.ErrNotFound)
	}
	ref.ContainerID, ref.LogPath = latest.Id, latest.LogPath
	if prev := rp.previous(container); prev != nil {
		ref.PreviousLogPath = prev.LogPath
	}
	return ref, nil
}

// Sandbox returns the pod's ready sandbox.
func (k *Kubelet) Sandbox(ctx context.Context, namespace, name string) (string, error) {
	pod, err := k.cachedPod(namespace, name)
	if err != nil {
		return "", err
	}
	rp, err := k.runtimePod(ctx, pod.UID)
	if err != nil {
		return "", err
	}
	if sb := rp.sandbox(); sb != nil && sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
		return sb.Id, nil
	}
	return "", fmt.Errorf("pod %s/%s has no running sandbox: %w", namespace, name, kubeletserver.ErrNotFound)
}

// ContainerRunning reports whether the container instance still runs.
func (k *Kubelet) ContainerRunning(ctx context.Context, id string) bool {
	st, err := k.rt.ContainerStatus(ctx, id)
	return err == nil && st.State == runtimeapi.ContainerState_CONTAINER_RUNNING
}
