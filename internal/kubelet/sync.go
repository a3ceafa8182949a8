package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/k1s/k1s/internal/kubelet/volume"
)

// syncPod brings the runtime in line with the pod of this UID and reports
// the result. It returns how soon the pod wants another look (back-offs,
// waiting for a grace period), 0 for "when something changes".
func (k *Kubelet) syncPod(ctx context.Context, uid types.UID) (time.Duration, error) {
	pod := k.podByUID(uid)
	rp, err := k.runtimePod(ctx, uid)
	if err != nil {
		return 0, err
	}
	switch {
	case pod == nil:
		// Gone from the API (force-deleted, or removed while we were
		// down): nothing may keep running under its UID.
		return 0, k.teardown(ctx, uid, rp, nil, 0)
	case pod.DeletionTimestamp != nil:
		return k.syncTerminating(ctx, pod, rp)
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		// Terminal pods never run again; stop what may still run and keep
		// the exited containers for `kubectl logs`.
		k.probes.removePod(uid)
		if err := k.killContainers(ctx, pod, rp.running(), 0); err != nil {
			return 0, err
		}
		if sb := rp.sandbox(); sb != nil && sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			if err := k.rt.StopPodSandbox(ctx, sb.Id); err != nil {
				return 0, err
			}
		}
		return 0, nil
	}
	k.noteStart(pod)
	t0 := k.clock.Now()
	requeue, syncErr := k.syncRunning(ctx, pod, rp)
	t1 := k.clock.Now()
	defer func() { k.log.Debug("synced pod", "pod", podRef(pod), "run", t1.Sub(t0), "total", k.clock.Since(t0)) }()
	// Report what is there now, whatever happened.
	if rp2, err := k.runtimePod(ctx, uid); err == nil {
		rp = rp2
	}
	k.probes.ensure(pod, rp)
	if err := k.writeStatus(ctx, pod, k.podStatus(pod, rp)); err != nil {
		return requeue, err
	}
	return requeue, syncErr
}

func podRef(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func (k *Kubelet) noteStart(pod *corev1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.startTimes[pod.UID]; !ok {
		if pod.Status.StartTime != nil {
			k.startTimes[pod.UID] = *pod.Status.StartTime
		} else {
			k.startTimes[pod.UID] = metav1.NewTime(k.clock.Now())
		}
	}
}

// syncRunning takes the next steps for a live pod: volumes, sandbox, the
// next init container, then every container.
func (k *Kubelet) syncRunning(ctx context.Context, pod *corev1.Pod, rp *runtimePod) (time.Duration, error) {
	sb := rp.sandbox()
	sandboxReady := sb != nil && sb.State == runtimeapi.PodSandboxState_SANDBOX_READY
	if !sandboxReady && sb != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever && allStarted(pod, rp) {
		// The sandbox died under a pod that must not restart: the status
		// computation turns it Failed/Succeeded; nothing to start.
		return 0, nil
	}
	if !sandboxReady {
		// A new sandbox means every container starts again in it.
		if err := k.killContainers(ctx, pod, rp.running(), gracePeriod(pod, nil)); err != nil {
			return 0, err
		}
		for _, old := range rp.sandboxes {
			if old.State == runtimeapi.PodSandboxState_SANDBOX_READY {
				if err := k.rt.StopPodSandbox(ctx, old.Id); err != nil {
					return 0, err
				}
			}
		}
		attempt := uint32(0)
		if sb != nil {
			attempt = sb.Metadata.GetAttempt() + 1
		}
		t0 := k.clock.Now()
		id, err := k.runSandbox(ctx, pod, attempt)
		k.log.Debug("ran pod sandbox", "pod", podRef(pod), "took", k.clock.Since(t0))
		if err != nil {
			k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			return 0, err
		}
		rp2, err := k.runtimePod(ctx, pod.UID)
		if err != nil {
			return 0, err
		}
		*rp = *rp2
		sb = rp.sandbox()
		if sb == nil || sb.Id != id {
			return 0, fmt.Errorf("sandbox %s not listed after creation", id)
		}
	}
	podIP, podIPs := k.sandboxIPs(ctx, pod, sb)
	k.mu.Lock()
	k.podIPs[pod.UID] = podIP
	k.mu.Unlock()
	vols, err := k.volumes.SetUp(ctx, pod, podIP)
	if err != nil {
		k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %v", err)
		return 0, fmt.Errorf("volumes: %w", err)
	}
	if err := k.writeHosts(pod, podIPs); err != nil {
		return 0, err
	}
	sc := &startContext{pod: pod, rp: rp, sandbox: sb, podIP: podIP, podIPs: podIPs, vols: vols}

	// Init containers run one at a time, in order, each to success.
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		st := rp.latest(c.Name)
		if st != nil && !rp.inSandbox(st, sb) {
			st = nil // ran in an older sandbox: run again
		}
		switch {
		case st == nil:
			return k.startContainer(ctx, sc, c, true)
		case st.State == runtimeapi.ContainerState_CONTAINER_EXITED && st.ExitCode == 0:
			continue
		case st.State == runtimeapi.ContainerState_CONTAINER_EXITED:
			if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				return 0, nil // the pod fails; status says so
			}
			return k.restartContainer(ctx, sc, c, st, true)
		default: // created or running: wait for it to finish
			return 0, nil
		}
	}

	var requeue time.Duration
	var errs []error
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		st := rp.latest(c.Name)
		if st != nil && !rp.inSandbox(st, sb) && st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
			st = nil
		}
		var d time.Duration
		var err error
		switch {
		case st == nil:
			d, err = k.startContainer(ctx, sc, c, false)
		case st.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
			d, err = k.checkRunning(ctx, sc, c, st)
		case st.State == runtimeapi.ContainerState_CONTAINER_CREATED:
			err = k.rt.StartContainer(ctx, st.Id)
		case st.State == runtimeapi.ContainerState_CONTAINER_EXITED:
			if !shouldRestart(pod, st) {
				continue
			}
			d, err = k.restartContainer(ctx, sc, c, st, false)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", c.Name, err))
		}
		if d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	return requeue, errors.Join(errs...)
}

// checkRunning restarts a running container whose liveness (or startup)
// probe failed or whose spec changed (a new image).
func (k *Kubelet) checkRunning(ctx context.Context, sc *startContext, c *corev1.Container, st *runtimeapi.ContainerStatus) (time.Duration, error) {
	reason := ""
	switch {
	case st.Annotations[annContainerHash] != containerHash(c):
		reason = fmt.Sprintf("Container %s definition changed, will be restarted", c.Name)
	case k.probes.result(st.Id, probeLiveness) == probeFailure:
		reason = fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.Name)
	case k.probes.result(st.Id, probeStartup) == probeFailure:
		reason = fmt.Sprintf("Container %s failed startup probe, will be restarted", c.Name)
	default:
		return 0, nil
	}
	k.recorder.Event(sc.pod, corev1.EventTypeNormal, "Killing", reason)
	if err := k.killContainer(ctx, sc.pod, c, st, gracePeriod(sc.pod, c)); err != nil {
		return 0, err
	}
	k.probes.removeContainer(st.Id)
	if sc.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
		return 0, nil
	}
	// The next sync sees it exited and restarts it with back-off.
	return time.Millisecond, nil
}

func shouldRestart(pod *corev1.Pod, st *runtimeapi.ContainerStatus) bool {
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return st.ExitCode != 0
	}
	return true
}

// allStarted: every container of the pod has run at least once.
func allStarted(pod *corev1.Pod, rp *runtimePod) bool {
	for _, c := range pod.Spec.Containers {
		if rp.latest(c.Name) == nil {
			return false
		}
	}
	return true
}

// restartContainer starts a new instance of an exited container unless it
// is backing off (CrashLoopBackOff).
func (k *Kubelet) restartContainer(ctx context.Context, sc *startContext, c *corev1.Container, st *runtimeapi.ContainerStatus, init bool) (time.Duration, error) {
	key := backoffKey(sc.pod, c.Name)
	finished := time.Unix(0, st.FinishedAt)
	if k.backoff.IsInBackOffSince(key, finished) {
		wait := finished.Add(k.backoff.Get(key)).Sub(k.clock.Now())
		if wait <= 0 {
			wait = time.Millisecond
		}
		k.setWaiting(sc.pod.UID, c.Name, "CrashLoopBackOff",
			fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", k.backoff.Get(key), c.Name, sc.pod.Name, sc.pod.Namespace, sc.pod.UID))
		k.recorder.Eventf(sc.pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, sc.pod.Name, sc.pod.Namespace, sc.pod.UID)
		return wait, nil
	}
	k.backoff.Next(key, finished)
	return k.startContainer(ctx, sc, c, init)
}

func backoffKey(pod *corev1.Pod, container string) string {
	return string(pod.UID) + "/" + container
}

func (k *Kubelet) setWaiting(uid types.UID, name, reason, message string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := k.waiting[uid]
	if m == nil {
		m = map[string]waitingReason{}
		k.waiting[uid] = m
	}
	m[name] = waitingReason{reason: reason, message: message}
}

func (k *Kubelet) clearWaiting(uid types.UID, name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.waiting[uid], name)
}

func (k *Kubelet) waitingFor(uid types.UID, name string) (waitingReason, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	w, ok := k.waiting[uid][name]
	return w, ok
}

// syncTerminating stops a pod being deleted, within its grace period, and
// then removes the API object: only once its containers are gone.
func (k *Kubelet) syncTerminating(ctx context.Context, pod *corev1.Pod, rp *runtimePod) (time.Duration, error) {
	grace := gracePeriod(pod, nil)
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	if err := k.teardown(ctx, pod.UID, rp, pod, grace); err != nil {
		return 0, err
	}
	err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return 0, nil // already gone, or a new pod of the same name
	}
	return 0, err
}

// teardown kills everything of uid, removes containers and sandboxes, and
// frees the pod's volumes, cgroup and logs.
func (k *Kubelet) teardown(ctx context.Context, uid types.UID, rp *runtimePod, pod *corev1.Pod, grace time.Duration) error {
	k.probes.removePod(uid)
	if err := k.killContainers(ctx, pod, rp.running(), grace); err != nil {
		return err
	}
	for _, c := range rp.containers {
		if err := k.rt.RemoveContainer(ctx, c.Id); err != nil {
			return fmt.Errorf("removing container %s: %w", c.Id, err)
		}
	}
	for _, sb := range rp.sandboxes {
		if err := k.rt.StopPodSandbox(ctx, sb.Id); err != nil && !errors.Is(err, errNotFound) {
			return fmt.Errorf("stopping sandbox %s: %w", sb.Id, err)
		}
		if err := k.rt.RemovePodSandbox(ctx, sb.Id); err != nil {
			return fmt.Errorf("removing sandbox %s: %w", sb.Id, err)
		}
	}
	if err := k.volumes.TearDown(ctx, uid); err != nil {
		return fmt.Errorf("volumes: %w", err)
	}
	if err := k.removePodCgroup(uid); err != nil {
		return err
	}
	if err := os.RemoveAll(k.podDir(uid)); err != nil {
		return err
	}
	if pod != nil {
		if err := os.RemoveAll(k.podLogDir(pod)); err != nil {
			return err
		}
	}
	for _, c := range rp.containers {
		k.backoff.DeleteEntry(string(uid) + "/" + c.Labels[labelContainerName])
	}
	k.mu.Lock()
	delete(k.waiting, uid)
	delete(k.startTimes, uid)
	delete(k.podIPs, uid)
	k.mu.Unlock()
	return nil
}

// killContainers stops the given containers in parallel, each within
// grace (its preStop hook included).
func (k *Kubelet) killContainers(ctx context.Context, pod *corev1.Pod, sts []*runtimeapi.ContainerStatus, grace time.Duration) error {
	var wg sync.WaitGroup
	errs := make([]error, len(sts))
	for i, st := range sts {
		var c *corev1.Container
		if pod != nil {
			c = specContainer(pod, st.Metadata.GetName())
		}
		wg.Go(func() { errs[i] = k.killContainer(ctx, pod, c, st, grace) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// killContainer runs the preStop hook, then stops the container: SIGTERM,
// and SIGKILL when what is left of grace runs out.
func (k *Kubelet) killContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, st *runtimeapi.ContainerStatus, grace time.Duration) error {
	start := k.clock.Now()
	if c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 {
		hctx, cancel := context.WithTimeout(ctx, grace)
		if err := k.runHook(hctx, pod, c, st.Id, c.Lifecycle.PreStop); err != nil && pod != nil {
			k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
		}
		cancel()
	}
	left := grace - k.clock.Since(start)
	if left < 0 {
		left = 0
	}
	if pod != nil && c != nil {
		k.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", c.Name)
	}
	if err := k.rt.StopContainer(ctx, st.Id, left); err != nil && !errors.Is(err, errNotFound) {
		return fmt.Errorf("stopping container %s: %w", st.Metadata.GetName(), err)
	}
	return nil
}

func specContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// gracePeriod: the container's probe-level override is not modelled; the
// pod's terminationGracePeriodSeconds (default 30s) applies.
func gracePeriod(pod *corev1.Pod, _ *corev1.Container) time.Duration {
	if pod != nil && pod.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

func (k *Kubelet) podDir(uid types.UID) string {
	return filepath.Join(k.opts.RootDir, "pods", string(uid))
}

func (k *Kubelet) podLogDir(pod *corev1.Pod) string {
	return filepath.Join(k.opts.RootDir, "logs", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}

// startContext carries what starting a container of one pod needs.
type startContext struct {
	pod     *corev1.Pod
	rp      *runtimePod
	sandbox *runtimeapi.PodSandbox
	podIP   string
	podIPs  []string
	vols    volume.Volumes
}
