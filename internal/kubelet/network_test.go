package kubelet_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/k1s/k1s/internal/kubelet"
	"github.com/k1s/k1s/internal/runtime/fake"
	"github.com/k1s/k1s/internal/testcluster"
)

// recordingRuntime is the fake runtime keeping the configs it was given,
// by pod name: what the kubelet asked for, which the fake does not report.
type recordingRuntime struct {
	*fake.Runtime
	mu         sync.Mutex
	sandboxes  map[string]*runtimeapi.PodSandboxConfig
	containers map[string]*runtimeapi.ContainerConfig
}

func (r *recordingRuntime) RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	r.mu.Lock()
	r.sandboxes[cfg.GetMetadata().GetName()] = cfg
	r.mu.Unlock()
	return r.Runtime.RunPodSandbox(ctx, cfg, handler)
}

func (r *recordingRuntime) CreateContainer(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, sb *runtimeapi.PodSandboxConfig) (string, error) {
	r.mu.Lock()
	r.containers[sb.GetMetadata().GetName()] = cfg
	r.mu.Unlock()
	return r.Runtime.CreateContainer(ctx, sandboxID, cfg, sb)
}

func (r *recordingRuntime) configs(pod string) (*runtimeapi.PodSandboxConfig, *runtimeapi.ContainerConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sandboxes[pod], r.containers[pod]
}

// startNetNode starts kubelet "n1" on a recording runtime, with cluster
// DNS 10.43.0.10 and the node's resolv.conf and hosts from files of the
// test's own.
func startNetNode(t *testing.T, c kubernetes.Interface) *recordingRuntime {
	t.Helper()
	f, err := fake.New(fake.Options{PodCIDR: "10.42.7.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	rt := &recordingRuntime{Runtime: f, sandboxes: map[string]*runtimeapi.PodSandboxConfig{}, containers: map[string]*runtimeapi.ContainerConfig{}}
	dir := t.TempDir()
	resolv, hosts := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hosts")
	if err := os.WriteFile(resolv, []byte("nameserver 192.168.1.1\nsearch example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n192.168.1.7 n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kl, err := kubelet.New(kubelet.Options{
		NodeName: "n1", Client: c, Runtime: rt, RootDir: t.TempDir(), NodeIP: "127.0.0.1",
		CgroupRoot: "-", RelistPeriod: 50 * time.Millisecond, ClusterDNS: []string{"10.43.0.10"},
		ResolvConf: resolv, HostsFile: hosts, Log: testcluster.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("kubelet Run: %v", err)
		}
	})
	select {
	case <-kl.Ready():
	case err := <-done:
		t.Fatalf("kubelet stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("kubelet not ready")
	}
	return rt
}

func envOf(cfg *runtimeapi.ContainerConfig) map[string]string {
	env := map[string]string{}
	for _, kv := range cfg.GetEnvs() {
		env[kv.Key] = string(kv.Value)
	}
	return env
}

func hostsMount(t *testing.T, cfg *runtimeapi.ContainerConfig) string {
	t.Helper()
	for _, m := range cfg.GetMounts() {
		if m.ContainerPath == "/etc/hosts" {
			b, err := os.ReadFile(m.HostPath)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatalf("no /etc/hosts mount in %v", cfg.GetMounts())
	return ""
}

func ensureService(t *testing.T, c kubernetes.Interface, ns, name string, port corev1.ServicePort) *corev1.Service {
	t.Helper()
	ctx := context.Background()
	s, err := c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s, err = c.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{port}},
		}, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.Spec.ClusterIP == "" {
		t.Fatalf("service %s/%s has no cluster IP", ns, name)
	}
	return s
}

func TestServiceEnvironment(t *testing.T) {
	c := newClient(t)
	kube := ensureService(t, c, "default", "kubernetes", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP})
	web := ensureService(t, c, "default", "web-front", corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP})
	rt := startNetNode(t, c)

	create(t, c, pod("linked", "n1", corev1.RestartPolicyAlways, container("app", "WEB_FRONT_SERVICE_PORT", "mine")))
	unlinked := pod("unlinked", "n1", corev1.RestartPolicyAlways, container("app"))
	unlinked.Spec.EnableServiceLinks = ptr.To(false)
	create(t, c, unlinked)
	for _, name := range []string{"linked", "unlinked"} {
		waitPod(t, c, name, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	}

	kubePort := fmt.Sprint(kube.Spec.Ports[0].Port)
	_, linked := rt.configs("linked")
	env := envOf(linked)
	for k, want := range map[string]string{
		"KUBERNETES_SERVICE_HOST":                   kube.Spec.ClusterIP,
		"KUBERNETES_SERVICE_PORT":                   kubePort,
		"KUBERNETES_PORT_" + kubePort + "_TCP_ADDR": kube.Spec.ClusterIP,
		"WEB_FRONT_SERVICE_HOST":                    web.Spec.ClusterIP,
		"WEB_FRONT_SERVICE_PORT":                    "mine", // the container's own wins
		"WEB_FRONT_SERVICE_PORT_HTTP":               "80",
		"WEB_FRONT_PORT":                            "tcp://" + web.Spec.ClusterIP + ":80",
		"WEB_FRONT_PORT_80_TCP_PROTO":               "tcp",
	} {
		if env[k] != want {
			t.Errorf("linked pod: %s = %q, want %q", k, env[k], want)
		}
	}
	_, un := rt.configs("unlinked")
	env = envOf(un)
	if env["KUBERNETES_SERVICE_HOST"] != kube.Spec.ClusterIP || env["KUBERNETES_SERVICE_PORT"] != kubePort {
		t.Errorf("unlinked pod: KUBERNETES_SERVICE_HOST/PORT = %q/%q, want %s/%s",
			env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"], kube.Spec.ClusterIP, kubePort)
	}
	for k := range env {
		if strings.HasPrefix(k, "WEB_FRONT_") {
			t.Errorf("unlinked pod has %s", k)
		}
	}
}

func TestPodNetworkConfig(t *testing.T) {
	c := newClient(t)
	rt := startNetNode(t, c)

	hostNet := pod("hostnet", "n1", corev1.RestartPolicyAlways, container("app"))
	hostNet.Spec.HostNetwork = true
	hostNet.Spec.HostAliases = []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local"}}}
	create(t, c, hostNet)
	podNet := pod("podnet", "n1", corev1.RestartPolicyAlways, container("app"))
	podNet.Spec.Hostname, podNet.Spec.Subdomain = "db", "sts"
	create(t, c, podNet)

	// hostNetwork: the node's network namespace, IP, resolver and hosts.
	p := waitPod(t, c, "hostnet", "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if p.Status.PodIP != "127.0.0.1" || len(p.Status.PodIPs) != 1 || p.Status.PodIPs[0].IP != "127.0.0.1" {
		t.Errorf("hostNetwork pod: podIP %q podIPs %v, want the host IP 127.0.0.1", p.Status.PodIP, p.Status.PodIPs)
	}
	sb, ctr := rt.configs("hostnet")
	if got := sb.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork(); got != runtimeapi.NamespaceMode_NODE {
		t.Errorf("hostNetwork sandbox network namespace = %s, want NODE", got)
	}
	if got := ctr.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork(); got != runtimeapi.NamespaceMode_NODE {
		t.Errorf("hostNetwork container network namespace = %s, want NODE", got)
	}
	sandboxes, err := rt.ListPodSandbox(context.Background(), &runtimeapi.PodSandboxFilter{
		LabelSelector: map[string]string{"io.kubernetes.pod.name": "hostnet"}})
	if err != nil || len(sandboxes) != 1 {
		t.Fatalf("sandboxes of hostnet: %v, %v", sandboxes, err)
	}
	st, err := rt.PodSandboxStatus(context.Background(), sandboxes[0].Id)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetLinux().GetNamespaces().GetOptions().GetNetwork(); got != runtimeapi.NamespaceMode_NODE {
		t.Errorf("runtime reports the sandbox's network namespace %s, want NODE", got)
	}
	if got, want := fmt.Sprint(sb.GetDnsConfig()), fmt.Sprint(&runtimeapi.DNSConfig{Servers: []string{"192.168.1.1"}, Searches: []string{"example.com"}}); got != want {
		t.Errorf("hostNetwork pod DNS = %s, want the node's %s", got, want)
	}
	want := "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.168.1.7 n1\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\n"
	if got := hostsMount(t, ctr); got != want {
		t.Errorf("hostNetwork /etc/hosts:\n%s\nwant:\n%s", got, want)
	}

	// Pod network: its own namespace and IP, cluster DNS, its FQDN.
	p = waitPod(t, c, "podnet", "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if !strings.HasPrefix(p.Status.PodIP, "10.42.7.") {
		t.Errorf("pod IP %q not in the node's range", p.Status.PodIP)
	}
	sb, ctr = rt.configs("podnet")
	if got := sb.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork(); got != runtimeapi.NamespaceMode_POD {
		t.Errorf("sandbox network namespace = %s, want POD", got)
	}
	if sb.GetHostname() != "db" {
		t.Errorf("sandbox hostname %q, want db", sb.GetHostname())
	}
	wantDNS := fmt.Sprint(&runtimeapi.DNSConfig{Servers: []string{"10.43.0.10"},
		Searches: []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local", "example.com"}, Options: []string{"ndots:5"}})
	if got := fmt.Sprint(sb.GetDnsConfig()); got != wantDNS {
		t.Errorf("pod DNS = %s, want %s", got, wantDNS)
	}
	if got, want := hostsMount(t, ctr), p.Status.PodIP+"\tdb.sts.default.svc.cluster.local\tdb\n"; !strings.HasSuffix(got, want) {
		t.Errorf("/etc/hosts:\n%s\nwant it to end with %q", got, want)
	}
}
