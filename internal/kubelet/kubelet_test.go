package kubelet_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/k1s/k1s/internal/kubelet"
	"github.com/k1s/k1s/internal/runtime/fake"
	"github.com/k1s/k1s/internal/testcluster"
)

// node is one kubelet over the fake runtime against a real api-server.
type node struct {
	client kubernetes.Interface
	rt     *fake.Runtime
	name   string
	stop   func()
}

func startNode(t *testing.T, client kubernetes.Interface, name string, rt *fake.Runtime, rootDir string, opts ...func(*kubelet.Options)) *node {
	t.Helper()
	if rt == nil {
		var err error
		rt, err = fake.New(fake.Options{PodCIDR: "10.42.7.0/24"})
		if err != nil {
			t.Fatal(err)
		}
	}
	if rootDir == "" {
		rootDir = t.TempDir()
	}
	o := kubelet.Options{
		NodeName: name, Client: client, Runtime: rt, RootDir: rootDir, NodeIP: "127.0.0.1",
		CgroupRoot: "-", RelistPeriod: 50 * time.Millisecond, BackoffInitial: 500 * time.Millisecond,
		Log: testcluster.Logger(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	kl, err := kubelet.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kl.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("kubelet Run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	select {
	case <-kl.Ready():
	case err := <-done:
		t.Fatalf("kubelet stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("kubelet not ready")
	}
	return &node{client: client, rt: rt, name: name, stop: stop}
}

func newClient(t *testing.T) kubernetes.Interface {
	cfg := testcluster.StartAPIServer(t)
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pod(name, nodeName string, policy corev1.RestartPolicy, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName: nodeName, RestartPolicy: policy, Containers: containers,
			TerminationGracePeriodSeconds: ptr.To[int64](1),
		},
	}
}

func container(name string, env ...string) corev1.Container {
	c := corev1.Container{Name: name, Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent}
	for i := 0; i+1 < len(env); i += 2 {
		c.Env = append(c.Env, corev1.EnvVar{Name: env[i], Value: env[i+1]})
	}
	return c
}

func create(t *testing.T, c kubernetes.Interface, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := c.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitPod polls the pod until cond holds.
func waitPod(t *testing.T, c kubernetes.Interface, name string, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	testcluster.Eventually(t, 20*time.Second, func() error {
		p, err := c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		last = p
		if !cond(p) {
			return fmt.Errorf("pod %s: not %s yet: phase %s, statuses %+v", name, what, p.Status.Phase, p.Status.ContainerStatuses)
		}
		return nil
	})
	return last
}

func condTrue(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestNodeRegistersAndHeartbeats(t *testing.T) {
	c := newClient(t)
	startNode(t, c, "n1", nil, "")
	n, err := c.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := false
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready {
		t.Errorf("node not Ready: %+v", n.Status.Conditions)
	}
	if n.Status.Capacity.Cpu().IsZero() || n.Status.Capacity.Memory().IsZero() || n.Status.Allocatable.Pods().Value() != 110 {
		t.Errorf("capacity %v allocatable %v", n.Status.Capacity, n.Status.Allocatable)
	}
	if n.Status.Allocatable.Cpu().Cmp(*n.Status.Capacity.Cpu()) >= 0 {
		t.Errorf("allocatable cpu %v not below capacity %v", n.Status.Allocatable.Cpu(), n.Status.Capacity.Cpu())
	}
	if n.Status.NodeInfo.ContainerRuntimeVersion == "" || n.Status.NodeInfo.KubeletVersion == "" {
		t.Errorf("nodeInfo %+v", n.Status.NodeInfo)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, err := c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), "n1", metav1.GetOptions{})
		return err
	})
}

func TestPodRunsAndReportsStatus(t *testing.T) {
	c := newClient(t)
	startNode(t, c, "n1", nil, "")
	create(t, c, pod("web", "n1", corev1.RestartPolicyAlways, container("app"), container("side")))
	p := waitPod(t, c, "web", "ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condTrue(p, corev1.PodReady)
	})
	ip, err := netip.ParseAddr(p.Status.PodIP)
	if err != nil || !netip.MustParsePrefix("10.42.7.0/24").Contains(ip) {
		t.Errorf("podIP %q not in the node's CIDR", p.Status.PodIP)
	}
	if p.Status.HostIP != "127.0.0.1" || p.Status.StartTime == nil || p.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("hostIP %q startTime %v qos %q", p.Status.HostIP, p.Status.StartTime, p.Status.QOSClass)
	}
	for _, want := range []corev1.PodConditionType{corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodReadyToStartContainers} {
		if !condTrue(p, want) {
			t.Errorf("condition %s not true: %+v", want, p.Status.Conditions)
		}
	}
	if len(p.Status.ContainerStatuses) != 2 {
		t.Fatalf("container statuses %+v", p.Status.ContainerStatuses)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil || !cs.Ready || cs.ContainerID == "" || cs.ImageID == "" || cs.RestartCount != 0 {
			t.Errorf("container status %+v", cs)
		}
	}
}

func TestRestartPolicies(t *testing.T) {
	c := newClient(t)
	startNode(t, c, "n1", nil, "")
	create(t, c, pod("ok", "n1", corev1.RestartPolicyNever, container("c", "K1S_FAKE_RUN_FOR", "100ms")))
	create(t, c, pod("bad", "n1", corev1.RestartPolicyNever, container("c", "K1S_FAKE_RUN_FOR", "100ms", "K1S_FAKE_EXIT_CODE", "3")))
	create(t, c, pod("onfail", "n1", corev1.RestartPolicyOnFailure, container("c", "K1S_FAKE_RUN_FOR", "100ms")))
	create(t, c, pod("crash", "n1", corev1.RestartPolicyAlways, container("c", "K1S_FAKE_RUN_FOR", "50ms", "K1S_FAKE_EXIT_CODE", "1")))
	create(t, c, pod("oom", "n1", corev1.RestartPolicyNever, container("c", "K1S_FAKE_RUN_FOR", "50ms", "K1S_FAKE_OOM", "true")))

	waitPod(t, c, "ok", "Succeeded", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded && p.Status.ContainerStatuses[0].State.Terminated != nil &&
			p.Status.ContainerStatuses[0].State.Terminated.Reason == "Completed"
	})
	waitPod(t, c, "bad", "Failed", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed && p.Status.ContainerStatuses[0].State.Terminated != nil &&
			p.Status.ContainerStatuses[0].State.Terminated.ExitCode == 3
	})
	waitPod(t, c, "onfail", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	waitPod(t, c, "oom", "OOMKilled", func(p *corev1.Pod) bool {
		t := p.Status.ContainerStatuses
		return p.Status.Phase == corev1.PodFailed && t[0].State.Terminated != nil && t[0].State.Terminated.Reason == "OOMKilled"
	})
	p := waitPod(t, c, "crash", "crash-looping", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount >= 2 && cs[0].State.Waiting != nil &&
			cs[0].State.Waiting.Reason == "CrashLoopBackOff" && cs[0].LastTerminationState.Terminated != nil
	})
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("crash-looping pod phase %s, want Running", p.Status.Phase)
	}
	if got := p.Status.ContainerStatuses[0].LastTerminationState.Terminated.ExitCode; got != 1 {
		t.Errorf("lastState exit code %d", got)
	}
}

func TestInitContainersRunInOrder(t *testing.T) {
	c := newClient(t)
	startNode(t, c, "n1", nil, "")
	p := pod("init", "n1", corev1.RestartPolicyAlways, container("app"))
	p.Spec.InitContainers = []corev1.Container{
		container("first", "K1S_FAKE_RUN_FOR", "100ms"),
		container("second", "K1S_FAKE_RUN_FOR", "100ms"),
	}
	create(t, c, p)
	got := waitPod(t, c, "init", "running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condTrue(p, corev1.PodInitialized) && condTrue(p, corev1.PodReady)
	})
	first, second := got.Status.InitContainerStatuses[0].State.Terminated, got.Status.InitContainerStatuses[1].State.Terminated
	if first == nil || second == nil {
		t.Fatalf("init statuses %+v", got.Status.InitContainerStatuses)
	}
	if second.StartedAt.Before(&first.FinishedAt) {
		t.Errorf("second init container started %v before the first finished %v", second.StartedAt, first.FinishedAt)
	}

	// A failing init container under restartPolicy Never fails the pod.
	bad := pod("initfail", "n1", corev1.RestartPolicyNever, container("app"))
	bad.Spec.InitContainers = []corev1.Container{container("first", "K1S_FAKE_EXIT_CODE", "2")}
	create(t, c, bad)
	waitPod(t, c, "initfail", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
}

func TestProbes(t *testing.T) {
	c := newClient(t)
	startNode(t, c, "n1", nil, "")
	exec := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}},
		PeriodSeconds: 1, FailureThreshold: 1}
	live := container("c", "K1S_FAKE_EXEC_EXIT_CODE", "1")
	live.LivenessProbe = exec
	create(t, c, pod("liveness", "n1", corev1.RestartPolicyAlways, live))
	unready := container("c", "K1S_FAKE_EXEC_EXIT_CODE", "1")
	unready.ReadinessProbe = exec
	create(t, c, pod("readiness", "n1", corev1.RestartPolicyAlways, unready))
	ready := container("c")
	ready.ReadinessProbe = exec
	create(t, c, pod("ready", "n1", corev1.RestartPolicyAlways, ready))

	waitPod(t, c, "liveness", "restarted", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	waitPod(t, c, "ready", "ready", func(p *corev1.Pod) bool { return condTrue(p, corev1.PodReady) })
	p := waitPod(t, c, "readiness", "running", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	if condTrue(p, corev1.PodReady) || p.Status.ContainerStatuses[0].Ready {
		t.Errorf("pod with a failing readiness probe is ready: %+v", p.Status)
	}
}

// slowServers answers httpGet probes: a path fails as many times as
// failures says, then succeeds. calls counts the probes of each path.
type slowServers struct {
	mu       sync.Mutex
	failures map[string]int
	calls    map[string]int
}

func (s *slowServers) HTTPGet(_ context.Context, url string, _ []corev1.HTTPHeader) (bool, string, error) {
	path := url[strings.LastIndex(url, "/"):]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[path]++
	if s.failures[path] > 0 {
		s.failures[path]--
		return false, "not listening yet", nil
	}
	return true, "", nil
}

func (s *slowServers) TCP(context.Context, string) (bool, string, error) { return true, "", nil }

func (s *slowServers) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// TestProbesBeforeFirstSuccess: until a readiness or startup network
// probe first succeeds, it is also tried between its periods, and those
// extra tries never count as failures (a startup probe is not failed by
// them). With an hour's period, only they can make these pods start and
// turn Ready within the test. Exec probes are not tried early.
func TestProbesBeforeFirstSuccess(t *testing.T) {
	c := newClient(t)
	servers := &slowServers{
		// The first probe fails (the periodic one at start), then two of
		// the extra ones, then it answers.
		failures: map[string]int{"/ready": 3, "/started": 3},
		calls:    map[string]int{},
	}
	startNode(t, c, "n1", nil, "", func(o *kubelet.Options) { o.Prober = servers })
	hourly := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 3600, FailureThreshold: 1}
	}
	slow := container("c")
	slow.ReadinessProbe = hourly("/ready")
	create(t, c, pod("slow-ready", "n1", corev1.RestartPolicyAlways, slow))
	// The startup probe's first, counted, failure is at start, with
	// failureThreshold 2: one more counted failure would restart it.
	starting := container("c")
	starting.StartupProbe = hourly("/started")
	starting.StartupProbe.FailureThreshold = 2
	create(t, c, pod("slow-start", "n1", corev1.RestartPolicyAlways, starting))
	execProbed := container("c", "K1S_FAKE_EXEC_FAILS", "1")
	execProbed.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}},
		PeriodSeconds: 3600}
	create(t, c, pod("exec-ready", "n1", corev1.RestartPolicyAlways, execProbed))

	waitPod(t, c, "slow-ready", "ready", func(p *corev1.Pod) bool { return condTrue(p, corev1.PodReady) })
	p := waitPod(t, c, "slow-start", "ready", func(p *corev1.Pod) bool { return condTrue(p, corev1.PodReady) })
	if rc := p.Status.ContainerStatuses[0].RestartCount; rc != 0 {
		t.Errorf("slow-start restarted %d times", rc)
	}
	if n := servers.count("/ready"); n != 4 {
		t.Errorf("/ready probed %d times, want 4 (3 failures, then the success ends the early tries)", n)
	}
	// The exec probe failed at start and is not tried again within its
	// hour: the pod stays not ready.
	p = waitPod(t, c, "exec-ready", "running", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	if condTrue(p, corev1.PodReady) {
		t.Errorf("exec-ready is Ready: its exec probe was tried early")
	}
}

// TestWaitLocalImage: a pod of an image the node is still loading into
// its runtime waits for the load (ContainerCreating) instead of failing
// to pull it from a registry, and starts once it is there.
func TestWaitLocalImage(t *testing.T) {
	c := newClient(t)
	const local = "k1s.local/addons:1"
	rt, err := fake.New(fake.Options{PodCIDR: "10.42.7.0/24", MissingImages: []string{local}})
	if err != nil {
		t.Fatal(err)
	}
	asked, loaded := make(chan struct{}), make(chan struct{})
	var once sync.Once
	startNode(t, c, "n1", rt, "", func(o *kubelet.Options) {
		o.WaitLocalImage = func(ctx context.Context, image string) error {
			if image != local {
				return nil
			}
			once.Do(func() { close(asked) })
			select {
			case <-loaded:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	app := container("c")
	app.Image = local
	create(t, c, pod("addon", "n1", corev1.RestartPolicyAlways, app))
	select {
	case <-asked:
	case <-time.After(20 * time.Second):
		t.Fatal("the kubelet did not wait for the local image")
	}
	p, err := c.CoreV1().Pods("default").Get(context.Background(), "addon", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "ContainerCreating" {
			t.Errorf("while the image loads: waiting %s (%s), want ContainerCreating", w.Reason, w.Message)
		}
	}
	rt.LoadImage(local)
	close(loaded)
	waitPod(t, c, "addon", "running", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
}

func TestWaitingReasons(t *testing.T) {
	c := newClient(t)
	startNode(t, c, "n1", nil, "")
	missing := container("c")
	missing.Image = "example.com/doesnotexist:1"
	create(t, c, pod("noimage", "n1", corev1.RestartPolicyAlways, missing))
	cfg := container("c")
	cfg.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k"}}}}
	create(t, c, pod("noconfig", "n1", corev1.RestartPolicyAlways, cfg))

	waitPod(t, c, "noimage", "ErrImagePull", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && (cs[0].State.Waiting.Reason == "ErrImagePull" || cs[0].State.Waiting.Reason == "ImagePullBackOff")
	})
	waitPod(t, c, "noconfig", "CreateContainerConfigError", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CreateContainerConfigError"
	})
	// Creating the ConfigMap lets the pod start.
	_, err := c.CoreV1().ConfigMaps("default").Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "absent"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitPod(t, c, "noconfig", "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && condTrue(p, corev1.PodReady) })
}

func TestDeleteStopsContainersThenRemovesPod(t *testing.T) {
	c := newClient(t)
	n := startNode(t, c, "n1", nil, "")
	create(t, c, pod("doomed", "n1", corev1.RestartPolicyAlways, container("c")))
	p := waitPod(t, c, "doomed", "ready", func(p *corev1.Pod) bool { return condTrue(p, corev1.PodReady) })
	if err := c.CoreV1().Pods("default").Delete(context.Background(), "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 20*time.Second, func() error {
		_, err := c.CoreV1().Pods("default").Get(context.Background(), "doomed", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("pod still there (err %v)", err)
		}
		return nil
	})
	ctx := context.Background()
	sel := map[string]string{"io.kubernetes.pod.uid": string(p.UID)}
	sbs, _ := n.rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
	cs, _ := n.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
	if len(sbs)+len(cs) != 0 {
		t.Errorf("runtime still holds %d sandboxes and %d containers of the deleted pod", len(sbs), len(cs))
	}
}

func TestRestartAdoptsContainers(t *testing.T) {
	c := newClient(t)
	root := t.TempDir()
	n := startNode(t, c, "n1", nil, root)
	create(t, c, pod("keep", "n1", corev1.RestartPolicyAlways, container("c")))
	p := waitPod(t, c, "keep", "ready", func(p *corev1.Pod) bool { return condTrue(p, corev1.PodReady) })
	id := p.Status.ContainerStatuses[0].ContainerID
	n.stop()

	startNode(t, c, "n1", n.rt, root)
	// Give the new kubelet time to act: a resync must not start another
	// container. Poll its effects for a while instead of sleeping blindly.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		cs, err := n.rt.ListContainers(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 {
			t.Fatalf("after restart the runtime holds %d containers, want 1", len(cs))
		}
		time.Sleep(100 * time.Millisecond)
	}
	p = waitPod(t, c, "keep", "ready", func(p *corev1.Pod) bool { return condTrue(p, corev1.PodReady) })
	if got := p.Status.ContainerStatuses[0].ContainerID; got != id || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("container %s restart %d after kubelet restart, want %s restart 0", got, p.Status.ContainerStatuses[0].RestartCount, id)
	}
}

var _ = errors.New

// When another writer (the node lifecycle controller) marks the node
// Unknown, a healthy kubelet sets it Ready again at once, not at its next
// periodic status write.
func TestNodeReadyRestoredAfterUnknown(t *testing.T) {
	c := newClient(t)
	startNode(t, c, "n1", nil, "")
	ctx := context.Background()
	n, err := c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i].Status = corev1.ConditionUnknown
			n.Status.Conditions[i].Reason = "NodeStatusUnknown"
		}
	}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 5*time.Second, func() error {
		n, err := c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
				return fmt.Errorf("Ready is %s", cond.Status)
			}
		}
		return nil
	})
}
