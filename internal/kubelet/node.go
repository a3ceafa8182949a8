package kubelet

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/k1s/k1s/internal/version"
)

const maxPods = 110

// registerNode creates the Node, or adopts an existing one of the same
// name (a restarted kubelet), retrying until the api-server answers.
func (k *Kubelet) registerNode(ctx context.Context) error {
	t := k.clock.NewTicker(time.Second)
	defer t.Stop()
	for {
		err := k.tryRegister(ctx)
		if err == nil {
			return nil
		}
		k.log.Info("registering node", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		}
	}
}

func (k *Kubelet) tryRegister(ctx context.Context) error {
	want := k.initialNode()
	node, err := k.client.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		node, err = k.client.CoreV1().Nodes().Get(ctx, k.opts.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed := false
		for key, v := range want.Labels {
			if node.Labels[key] != v {
				if node.Labels == nil {
					node.Labels = map[string]string{}
				}
				node.Labels[key] = v
				changed = true
			}
		}
		if node.Spec.PodCIDR == "" && want.Spec.PodCIDR != "" {
			node.Spec.PodCIDR, node.Spec.PodCIDRs = want.Spec.PodCIDR, want.Spec.PodCIDRs
			changed = true
		}
		if changed {
			if node, err = k.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
	} else if err != nil {
		return err
	}
	k.mu.Lock()
	k.node = node
	k.mu.Unlock()
	k.notePodCIDR(node)
	return k.updateNodeStatus(ctx, true)
}

// notePodCIDR hands a newly seen pod CIDR to OnPodCIDR (the runtime's
// network turns ready with it), once per CIDR.
func (k *Kubelet) notePodCIDR(node *corev1.Node) {
	if node.Spec.PodCIDR == "" || k.opts.OnPodCIDR == nil {
		return
	}
	k.mu.Lock()
	seen := k.podCIDR == node.Spec.PodCIDR
	k.podCIDR = node.Spec.PodCIDR
	k.mu.Unlock()
	if !seen {
		k.opts.OnPodCIDR(node.Spec.PodCIDR)
	}
}

func (k *Kubelet) initialNode() *corev1.Node {
	labels := map[string]string{
		corev1.LabelHostname:               k.opts.NodeName,
		corev1.LabelOSStable:               goruntime.GOOS,
		corev1.LabelArchStable:             goruntime.GOARCH,
		"node.kubernetes.io/instance-type": "k1s",
	}
	for key, v := range k.opts.Labels {
		labels[key] = v
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: k.opts.NodeName, Labels: labels,
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"}},
	}
	if k.opts.PodCIDR != "" {
		n.Spec.PodCIDR = k.opts.PodCIDR
		n.Spec.PodCIDRs = []string{k.opts.PodCIDR}
	}
	return n
}

// runtimeNotReady returns why the runtime or its network is not ready
// ("" when both are), upstream's wording.
func (k *Kubelet) runtimeNotReady(ctx context.Context) string {
	st, err := k.rt.Status(ctx)
	if err != nil {
		return fmt.Sprintf("container runtime status check may not have completed yet: %v", err)
	}
	var problems []string
	for _, want := range []string{runtimeapi.RuntimeReady, runtimeapi.NetworkReady} {
		ok := false
		for _, c := range st.GetConditions() {
			if c.Type == want && c.Status {
				ok = true
			} else if c.Type == want {
				problems = append(problems, fmt.Sprintf("%s=false reason:%s message:%s", want, c.Reason, c.Message))
				ok = true
			}
		}
		if !ok {
			problems = append(problems, want+" missing")
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return "container runtime network not ready: " + strings.Join(problems, ", ")
}

// nodeStatus computes the status the node should report now.
func (k *Kubelet) nodeStatus(ctx context.Context, old *corev1.Node) corev1.NodeStatus {
	capacity := k.capacity()
	alloc := corev1.ResourceList{}
	for name, q := range capacity {
		a := q.DeepCopy()
		if r, ok := k.opts.Reserved[name]; ok {
			a.Sub(r)
			if a.Sign() < 0 {
				a = *resource.NewQuantity(0, q.Format)
			}
		}
		alloc[name] = a
	}
	now := metav1.NewTime(k.clock.Now())
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	if why := k.runtimeNotReady(ctx); why != "" {
		conds[3] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: why}
	}
	if k.memoryPressure() {
		conds[0] = corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasInsufficientMemory", Message: "kubelet has insufficient memory available"}
	}
	if k.diskPressure() {
		conds[1] = corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasDiskPressure", Message: "kubelet has disk pressure"}
	}
	for i := range conds {
		conds[i].LastHeartbeatTime = now
		conds[i].LastTransitionTime = now
		if old != nil {
			for _, c := range old.Status.Conditions {
				if c.Type == conds[i].Type && c.Status == conds[i].Status {
					conds[i].LastTransitionTime = c.LastTransitionTime
				}
			}
		}
	}
	hostname, _ := os.Hostname()
	if k.opts.Capacity != nil {
		hostname = k.opts.NodeName
	}
	st := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: alloc,
		Phase:       "",
		Conditions:  conds,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: k.opts.NodeIP},
			{Type: corev1.NodeHostName, Address: hostname},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(k.opts.Port)}},
		NodeInfo:        k.nodeInfo(),
	}
	if old != nil {
		st.Images = old.Status.Images
		st.VolumesInUse = old.Status.VolumesInUse
		st.VolumesAttached = old.Status.VolumesAttached
	}
	return st
}

func (k *Kubelet) nodeInfo() corev1.NodeSystemInfo {
	info := corev1.NodeSystemInfo{
		OperatingSystem:         goruntime.GOOS,
		Architecture:            goruntime.GOARCH,
		KubeletVersion:          version.Info().GitVersion,
		KubeProxyVersion:        version.Info().GitVersion,
		ContainerRuntimeVersion: k.runtimeName + "://" + k.runtimeVersion,
		OSImage:                 osImage(),
		KernelVersion:           kernelVersion(),
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		info.MachineID = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/sys/class/dmi/id/product_uuid"); err == nil {
		info.SystemUUID = strings.TrimSpace(string(b))
	}
	info.BootID = readTrim("/proc/sys/kernel/random/boot_id")
	return info
}

// capacity detects cpu, memory, ephemeral storage and pods, then applies
// the configured overrides.
func (k *Kubelet) capacity() corev1.ResourceList {
	c := corev1.ResourceList{
		corev1.ResourcePods: *resource.NewQuantity(maxPods, resource.DecimalSI),
	}
	if _, ok := k.opts.Capacity[corev1.ResourceCPU]; !ok {
		c[corev1.ResourceCPU] = *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI)
	}
	if _, ok := k.opts.Capacity[corev1.ResourceMemory]; !ok {
		if mem := memTotal(); mem > 0 {
			c[corev1.ResourceMemory] = *resource.NewQuantity(mem, resource.BinarySI)
		}
	}
	if _, ok := k.opts.Capacity[corev1.ResourceEphemeralStorage]; !ok {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(k.opts.RootDir, &fs); err == nil {
			c[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI)
		}
	}
	for name, q := range k.opts.Capacity {
		c[name] = q.DeepCopy()
	}
	return c
}

// memoryPressure: less than 100Mi available (upstream's default hard
// eviction threshold). Hollow nodes never have pressure.
func (k *Kubelet) memoryPressure() bool {
	if k.opts.Capacity != nil {
		return false
	}
	avail := meminfo("MemAvailable:")
	return avail > 0 && avail < 100<<20
}

// diskPressure: less than 10% of the root dir's filesystem free.
func (k *Kubelet) diskPressure() bool {
	if k.opts.Capacity != nil {
		return false
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(k.opts.RootDir, &fs); err != nil || fs.Blocks == 0 {
		return false
	}
	return float64(fs.Bavail)/float64(fs.Blocks) < 0.10
}

// updateNodeStatus writes the node's status if it changed (ignoring
// heartbeat times) or force is set.
func (k *Kubelet) updateNodeStatus(ctx context.Context, force bool) error {
	k.mu.Lock()
	node := k.node
	k.mu.Unlock()
	if node == nil {
		return nil
	}
	// Compare with the API's current Node when the watch has it: another
	// writer (the node lifecycle controller) may have changed it.
	if obj, ok, _ := k.nodes.GetStore().GetByKey(k.opts.NodeName); ok {
		if cur := obj.(*corev1.Node); cur.ResourceVersion != node.ResourceVersion {
			node = cur
		}
	}
	// The controller-manager allocates the pod CIDR after registration:
	// the runtime's network, and so the node, is ready once it has it.
	k.notePodCIDR(node)
	want := k.nodeStatus(ctx, node)
	if !force && statusEqualIgnoringHeartbeat(node.Status, want) {
		return nil
	}
	n := node.DeepCopy()
	n.Status = want
	updated, err := k.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		// Someone else wrote the node (labels, taints) or deleted it:
		// re-read or re-register and try once more.
		cur, gerr := k.client.CoreV1().Nodes().Get(ctx, k.opts.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(gerr) {
			cur, gerr = k.client.CoreV1().Nodes().Create(ctx, k.initialNode(), metav1.CreateOptions{})
		}
		if gerr != nil {
			return gerr
		}
		cur.Status = k.nodeStatus(ctx, cur)
		updated, err = k.client.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.node = updated
	k.mu.Unlock()
	k.notePodCIDR(updated)
	return nil
}

func statusEqualIgnoringHeartbeat(a, b corev1.NodeStatus) bool {
	a, b = *a.DeepCopy(), *b.DeepCopy()
	for _, s := range []*corev1.NodeStatus{&a, &b} {
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
			s.Conditions[i].LastTransitionTime = metav1.Time{}
		}
	}
	return apiequality.Semantic.DeepEqual(a, b)
}

// nodeStatusLoop writes status when it changes (checked every 10s, every
// second while the node is not Ready, so that it turns Ready as soon as
// its runtime's network is) and at least every StatusPeriod.
func (k *Kubelet) nodeStatusLoop(ctx context.Context) {
	t := k.clock.NewTicker(time.Second)
	defer t.Stop()
	lastWrite, lastCheck := k.clock.Now(), k.clock.Now()
	for {
		poked := false
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-k.statusNow:
			poked = true
		}
		if !poked && k.nodeReady() && k.clock.Since(lastCheck) < 10*time.Second {
			continue
		}
		lastCheck = k.clock.Now()
		force := k.clock.Since(lastWrite) >= k.opts.StatusPeriod
		if err := k.updateNodeStatus(ctx, force); err != nil {
			if ctx.Err() == nil {
				k.log.Info("updating node status", "err", err)
			}
			continue
		}
		if force {
			lastWrite = k.clock.Now()
		}
	}
}

// nodeReady reports the Ready condition last written.
func (k *Kubelet) nodeReady() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.node == nil {
		return false
	}
	for _, c := range k.node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// leaseLoop keeps the node's Lease in kube-node-lease renewed every
// quarter of its duration (10s by default), the heartbeat the node
// lifecycle controller watches.
func (k *Kubelet) leaseLoop(ctx context.Context) {
	period := k.opts.LeaseDuration / 4
	t := k.clock.NewTicker(period)
	defer t.Stop()
	for {
		if err := k.renewLease(ctx); err != nil && ctx.Err() == nil {
			k.log.Info("renewing node lease", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// renewLease updates the lease from the copy last written (one request
// per renewal, as upstream's kubelet); it reads the lease only when that
// copy is missing or stale.
func (k *Kubelet) renewLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(k.clock.Now())
	if l := k.lease; l != nil {
		l = l.DeepCopy()
		l.Spec.RenewTime = &now
		updated, err := leases.Update(ctx, l, metav1.UpdateOptions{})
		if err == nil {
			k.lease = updated
			return nil
		}
		k.lease = nil
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return err
		}
	}
	l, err := leases.Get(ctx, k.opts.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.opts.NodeName, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(k.opts.NodeName),
				LeaseDurationSeconds: ptr.To(int32(k.opts.LeaseDuration / time.Second)),
				RenewTime:            &now,
			},
		}
		k.mu.Lock()
		if k.node != nil {
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: k.node.Name, UID: k.node.UID}}
		}
		k.mu.Unlock()
		created, err := leases.Create(ctx, l, metav1.CreateOptions{})
		if err == nil {
			k.lease = created
		}
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &now
	l.Spec.HolderIdentity = ptr.To(k.opts.NodeName)
	l.Spec.LeaseDurationSeconds = ptr.To(int32(k.opts.LeaseDuration / time.Second))
	updated, err := leases.Update(ctx, l, metav1.UpdateOptions{})
	if err == nil {
		k.lease = updated
	}
	return err
}

func defaultNodeIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil && !ipn.IP.IsLinkLocalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

func memTotal() int64 { return meminfo("MemTotal:") }

// meminfo returns a /proc/meminfo field in bytes (0 if unknown).
func meminfo(field string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		var kb int64
		if strings.HasPrefix(s.Text(), field) {
			if _, err := fmt.Sscanf(strings.TrimPrefix(s.Text(), field), "%d", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func kernelVersion() string { return readTrim("/proc/sys/kernel/osrelease") }

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
