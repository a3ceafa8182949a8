package kubelet

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/dump"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/atomicfile"
	"github.com/k1s/k1s/internal/kubelet/envvar"
	"github.com/k1s/k1s/internal/runtime"
)

var errNotFound = runtime.ErrNotFound

// runSandbox creates and starts the pod's sandbox (network namespace,
// cgroup parent, pause container).
func (k *Kubelet) runSandbox(ctx context.Context, pod *corev1.Pod, attempt uint32) (string, error) {
	if err := os.MkdirAll(k.podLogDir(pod), 0o755); err != nil {
		return "", err
	}
	cfg := k.sandboxConfig(pod, attempt)
	return k.rt.RunPodSandbox(ctx, cfg, runtimeHandler(pod))
}

func runtimeHandler(pod *corev1.Pod) string {
	if pod.Spec.RuntimeClassName != nil {
		return *pod.Spec.RuntimeClassName
	}
	return ""
}

func (k *Kubelet) sandboxConfig(pod *corev1.Pod, attempt uint32) *runtimeapi.PodSandboxConfig {
	hostNet := pod.Spec.HostNetwork
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt,
		},
		Hostname:     podHostname(pod),
		LogDirectory: k.podLogDir(pod),
		DnsConfig:    k.dnsConfig(pod),
		Labels:       podLabels(pod),
		Annotations:  pod.Annotations,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: k.podCgroup(pod.UID),
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: namespaceOptions(pod),
				Privileged:       anyPrivileged(pod),
			},
			Sysctls: map[string]string{},
		},
	}
	if hostNet {
		cfg.Hostname = ""
	}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			cfg.Linux.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			cfg.Linux.SecurityContext.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		cfg.Linux.SecurityContext.SupplementalGroups = psc.SupplementalGroups
		for _, s := range psc.Sysctls {
			cfg.Linux.Sysctls[s.Name] = s.Value
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := runtimeapi.Protocol_TCP
			switch p.Protocol {
			case corev1.ProtocolUDP:
				proto = runtimeapi.Protocol_UDP
			case corev1.ProtocolSCTP:
				proto = runtimeapi.Protocol_SCTP
			}
			cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{
				Protocol: proto, ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIp: p.HostIP,
			})
		}
	}
	return cfg
}

func podHostname(pod *corev1.Pod) string {
	h := pod.Name
	if pod.Spec.Hostname != "" {
		h = pod.Spec.Hostname
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	o := &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_POD,
		Pid:     runtimeapi.NamespaceMode_CONTAINER,
		Ipc:     runtimeapi.NamespaceMode_POD,
	}
	if pod.Spec.HostNetwork {
		o.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		o.Pid = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		o.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		o.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return o
}

func anyPrivileged(pod *corev1.Pod) bool {
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			return true
		}
	}
	return false
}

// sandboxIPs reads the sandbox's pod IPs (the node's IP for hostNetwork).
func (k *Kubelet) sandboxIPs(ctx context.Context, pod *corev1.Pod, sb *runtimeapi.PodSandbox) (string, []string) {
	if pod.Spec.HostNetwork {
		return k.opts.NodeIP, []string{k.opts.NodeIP}
	}
	st, err := k.rt.PodSandboxStatus(ctx, sb.Id)
	if err != nil || st.Network == nil || st.Network.Ip == "" {
		return "", nil
	}
	ips := []string{st.Network.Ip}
	for _, ip := range st.Network.AdditionalIps {
		ips = append(ips, ip.Ip)
	}
	return st.Network.Ip, ips
}

// writeIfChanged replaces path with data unless it holds data already
// (pods are synced often; their hosts file rarely changes).
func writeIfChanged(path string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	return atomicfile.Write(path, data, mode)
}

// containerHash identifies the parts of a container's spec that, changed,
// require a restart (only image is mutable in a pod, but hash it all).
func containerHash(c *corev1.Container) string {
	h := fnv.New32a()
	h.Write([]byte(dump.ForHash(c)))
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}

// startContainer pulls the image if needed, builds the container's config
// and creates and starts it. Failures a user must fix (image, config)
// become the container's waiting reason.
func (k *Kubelet) startContainer(ctx context.Context, sc *startContext, c *corev1.Container, init bool) (time.Duration, error) {
	pod := sc.pod
	imageRef, wait, err := k.ensureImage(ctx, pod, c)
	if err != nil || wait > 0 {
		return wait, err
	}
	prev := sc.rp.latest(c.Name)
	restarts := int32(0)
	if prev != nil {
		restarts = restartCount(prev) + 1
	}
	cfg, err := k.containerConfig(ctx, sc, c, imageRef, restarts)
	if err != nil {
		var ce *envvar.ConfigError
		if errors.As(err, &ce) {
			k.setWaiting(pod.UID, c.Name, "CreateContainerConfigError", err.Error())
			k.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
			return 10 * time.Second, nil
		}
		return 0, err
	}
	sbCfg := k.sandboxConfig(pod, sc.sandbox.Metadata.GetAttempt())
	t0 := k.clock.Now()
	id, err := k.rt.CreateContainer(ctx, sc.sandbox.Id, cfg, sbCfg)
	k.log.Debug("created container", "pod", podRef(pod), "container", c.Name, "took", k.clock.Since(t0))
	if err != nil {
		k.setWaiting(pod.UID, c.Name, "CreateContainerError", err.Error())
		k.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return 0, err
	}
	k.recorder.Eventf(pod, corev1.EventTypeNormal, "Created", "Created container %s", c.Name)
	t0 = k.clock.Now()
	err = k.rt.StartContainer(ctx, id)
	k.log.Debug("started container", "pod", podRef(pod), "container", c.Name, "took", k.clock.Since(t0))
	if err != nil {
		k.setWaiting(pod.UID, c.Name, "RunContainerError", err.Error())
		k.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return 0, err
	}
	k.clearWaiting(pod.UID, c.Name)
	k.recorder.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		if err := k.runHook(ctx, pod, c, id, c.Lifecycle.PostStart); err != nil {
			k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			_ = k.rt.StopContainer(ctx, id, gracePeriod(pod, c))
		}
	}
	// Old instances beyond the previous one are not needed for logs.
	k.pruneContainers(ctx, sc.rp, c.Name)
	return 0, nil
}

// pruneContainers removes exited instances of a container but the newest
// one (kept for `kubectl logs --previous`); the just-started one is not in
// rp yet.
func (k *Kubelet) pruneContainers(ctx context.Context, rp *runtimePod, name string) {
	kept := false
	for _, c := range rp.containers {
		if c.Labels[labelContainerName] != name || c.State != runtimeapi.ContainerState_CONTAINER_EXITED {
			continue
		}
		if !kept {
			kept = true
			continue
		}
		_ = k.rt.RemoveContainer(ctx, c.Id)
	}
}

// ensureImage makes the container's image present per imagePullPolicy.
func (k *Kubelet) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (string, time.Duration, error) {
	spec := &runtimeapi.ImageSpec{Image: c.Image, UserSpecifiedImage: c.Image}
	present, err := k.rt.ImageStatus(ctx, spec)
	if err != nil {
		return "", 0, fmt.Errorf("image status: %w", err)
	}
	if present == nil && k.opts.WaitLocalImage != nil {
		if err := k.opts.WaitLocalImage(ctx, c.Image); err != nil {
			return "", 0, err
		}
		if present, err = k.rt.ImageStatus(ctx, spec); err != nil {
			return "", 0, fmt.Errorf("image status: %w", err)
		}
	}
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = corev1.PullIfNotPresent
		if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(lastSegment(c.Image), ":") {
			policy = corev1.PullAlways
		}
	}
	switch {
	case policy == corev1.PullNever && present == nil:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		k.setWaiting(pod.UID, c.Name, "ErrImageNeverPull", msg)
		k.recorder.Event(pod, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		return "", 10 * time.Second, nil
	case present != nil && policy != corev1.PullAlways:
		return present.Id, 0, nil
	}
	key := "pull/" + string(pod.UID) + "/" + c.Image
	if k.backoff.IsInBackOffSinceUpdate(key, k.clock.Now()) {
		w, _ := k.waitingFor(pod.UID, c.Name)
		k.setWaiting(pod.UID, c.Name, "ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q: %s", c.Image, w.message))
		return "", k.backoff.Get(key), nil
	}
	k.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := k.clock.Now()
	ref, err := k.rt.PullImage(ctx, spec, k.pullAuth(ctx, pod, c.Image), k.sandboxConfig(pod, 0))
	if err != nil {
		if present != nil {
			// PullAlways with a usable local copy: upstream fails here
			// too, but a registry-less node would never start anything.
			k.log.Info("pulling image failed, using the local copy", "image", c.Image, "err", err)
			return present.Id, 0, nil
		}
		k.backoff.Next(key, k.clock.Now())
		msg := fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)
		k.setWaiting(pod.UID, c.Name, "ErrImagePull", msg)
		k.recorder.Event(pod, corev1.EventTypeWarning, "Failed", msg)
		return "", k.backoff.Get(key), nil
	}
	k.backoff.DeleteEntry(key)
	k.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", c.Image, k.clock.Since(start).Round(time.Millisecond))
	return ref, 0, nil
}

func lastSegment(image string) string {
	if i := strings.LastIndex(image, "/"); i >= 0 {
		return image[i+1:]
	}
	return image
}

// containerConfig builds the CRI config of one container instance.
func (k *Kubelet) containerConfig(ctx context.Context, sc *startContext, c *corev1.Container, imageRef string, restarts int32) (*runtimeapi.ContainerConfig, error) {
	pod := sc.pod
	svcEnv, err := k.serviceEnv(pod)
	if err != nil {
		return nil, err
	}
	env, err := envvar.Env(ctx, k.envSource(), pod, c, envvar.Options{
		PodIP: sc.podIP, PodIPs: sc.podIPs, HostIP: k.opts.NodeIP, NodeAllocatable: k.allocatable(),
		ServiceEnv: svcEnv,
		Warn:       func(reason, message string) { k.recorder.Event(pod, corev1.EventTypeWarning, reason, message) },
	})
	if err != nil {
		return nil, err
	}
	mounts, err := sc.vols.Mounts(c, env)
	if err != nil {
		return nil, &envvar.ConfigError{Msg: err.Error(), Err: err}
	}
	if !hasMountAt(c, "/etc/hosts") {
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: filepath.Join(k.podDir(pod.UID), "etc-hosts")})
	}
	termFile := ""
	if c.TerminationMessagePath != "" && !hasMountAt(c, c.TerminationMessagePath) {
		dir := filepath.Join(k.podDir(pod.UID), "containers", c.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		termFile = filepath.Join(dir, fmt.Sprintf("termination-%d", restarts))
		if err := os.WriteFile(termFile, nil, 0o666); err != nil {
			return nil, err
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: c.TerminationMessagePath, HostPath: termFile})
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(restarts)},
		Image:      &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:    envvar.Expand(c.Command, env),
		Args:       envvar.Expand(c.Args, env),
		WorkingDir: c.WorkingDir,
		Envs:       env,
		Mounts:     mounts,
		Labels: map[string]string{
			labelPodName: pod.Name, labelPodNamespace: pod.Namespace, labelPodUID: string(pod.UID),
			labelContainerName: c.Name,
		},
		Annotations: map[string]string{
			annRestartCount:      strconv.Itoa(int(restarts)),
			annContainerHash:     containerHash(c),
			annTerminationPath:   c.TerminationMessagePath,
			annTerminationFile:   termFile,
			annTerminationPolicy: string(c.TerminationMessagePolicy),
		},
		LogPath:   filepath.Join(c.Name, strconv.Itoa(int(restarts))+".log"),
		Stdin:     c.Stdin,
		StdinOnce: c.StdinOnce,
		Tty:       c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       linuxResources(pod, c),
			SecurityContext: containerSecurity(pod, c),
		},
	}
	return cfg, nil
}

// serviceEnv is the pod's Service variables, from the informer cache.
func (k *Kubelet) serviceEnv(pod *corev1.Pod) (map[string]string, error) {
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	var svcs []*corev1.Service
	if links {
		var err error
		if svcs, err = k.services.Services(pod.Namespace).List(labels.Everything()); err != nil {
			return nil, fmt.Errorf("listing services: %w", err)
		}
	}
	if kube, err := k.services.Services(metav1.NamespaceDefault).Get("kubernetes"); err == nil {
		svcs = append(svcs, kube)
	}
	return envvar.ServiceEnv(svcs, pod.Namespace, links), nil
}

func hasMountAt(c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

// linuxResources turns requests and limits into cgroup settings: cpu
// shares from the request, CFS quota from the limit, the memory limit, and
// an OOM score by QoS class.
func linuxResources(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{CpuPeriod: 100000}
	cpuReq := c.Resources.Requests.Cpu().MilliValue()
	if cpuReq == 0 {
		cpuReq = c.Resources.Limits.Cpu().MilliValue()
	}
	r.CpuShares = max(2, cpuReq*1024/1000)
	if l := c.Resources.Limits.Cpu().MilliValue(); l > 0 {
		r.CpuQuota = max(1000, l*100000/1000)
	}
	if l := c.Resources.Limits.Memory().Value(); l > 0 {
		r.MemoryLimitInBytes = l
	}
	switch qosClass(pod) {
	case corev1.PodQOSGuaranteed:
		r.OomScoreAdj = -997
	case corev1.PodQOSBestEffort:
		r.OomScoreAdj = 1000
	default:
		r.OomScoreAdj = 999
		if mem := c.Resources.Requests.Memory().Value(); mem > 0 {
			if total := memTotal(); total > 0 {
				r.OomScoreAdj = max(3, min(999, 1000-1000*mem/total))
			}
		}
	}
	return r
}

func containerSecurity(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerSecurityContext {
	s := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			s.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			s.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		s.SupplementalGroups = psc.SupplementalGroups
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			s.RunAsUser = &runtimeapi.Int64Value{Value: *csc.RunAsUser}
		}
		if csc.RunAsGroup != nil {
			s.RunAsGroup = &runtimeapi.Int64Value{Value: *csc.RunAsGroup}
		}
		if csc.ReadOnlyRootFilesystem != nil {
			s.ReadonlyRootfs = *csc.ReadOnlyRootFilesystem
		}
		if csc.Privileged != nil {
			s.Privileged = *csc.Privileged
		}
		if csc.AllowPrivilegeEscalation != nil {
			s.NoNewPrivs = !*csc.AllowPrivilegeEscalation
		}
		if csc.Capabilities != nil {
			s.Capabilities = &runtimeapi.Capability{}
			for _, cp := range csc.Capabilities.Add {
				s.Capabilities.AddCapabilities = append(s.Capabilities.AddCapabilities, string(cp))
			}
			for _, cp := range csc.Capabilities.Drop {
				s.Capabilities.DropCapabilities = append(s.Capabilities.DropCapabilities, string(cp))
			}
		}
	}
	return s
}

// qosClass follows upstream's rules: Guaranteed when every container has
// equal cpu and memory requests and limits, BestEffort when none has any.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	any, guaranteed := false, true
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if (hasReq && !req.IsZero()) || (hasLim && !lim.IsZero()) {
				any = true
			}
			if !hasLim || lim.IsZero() || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func (k *Kubelet) allocatable() corev1.ResourceList {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.node == nil {
		return nil
	}
	return k.node.Status.Allocatable
}

// runHook runs a lifecycle handler: exec in the container, or an HTTP GET
// against the pod.
func (k *Kubelet) runHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, h *corev1.LifecycleHandler) error {
	switch {
	case h.Exec != nil:
		timeout := 30 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
		}
		_, stderr, code, err := k.rt.ExecSync(ctx, id, h.Exec.Command, timeout)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", h.Exec.Command, code, strings.TrimSpace(string(stderr)))
		}
		return nil
	case h.HTTPGet != nil:
		host := h.HTTPGet.Host
		if host == "" && pod != nil {
			host = pod.Status.PodIP
		}
		port, err := resolvePort(h.HTTPGet.Port, c)
		if err != nil {
			return err
		}
		url := fmt.Sprintf("%s://%s%s", strings.ToLower(string(orDefault(h.HTTPGet.Scheme, corev1.URISchemeHTTP))), net.JoinHostPort(host, strconv.Itoa(port)), h.HTTPGet.Path)
		ok, msg, err := k.probes.prober.HTTPGet(ctx, url, h.HTTPGet.HTTPHeaders)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New(msg)
		}
		return nil
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-k.clock.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
		return nil
	}
	return nil
}

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}
