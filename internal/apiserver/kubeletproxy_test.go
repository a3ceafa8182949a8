package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	"github.com/k1s/k1s/internal/apiserver"
	"github.com/k1s/k1s/internal/kubelet/kubeletserver"
	"github.com/k1s/k1s/internal/pki"
	"github.com/k1s/k1s/internal/registry"
	k1sscheme "github.com/k1s/k1s/internal/scheme"
	"github.com/k1s/k1s/internal/version"
)

// proxyPods is the kubelet's view: pod default/web with container app.
type proxyPods struct {
	logPath string
	running *atomic.Bool
}

func (p proxyPods) Container(ctx context.Context, namespace, pod, container string) (kubeletserver.ContainerRef, error) {
	if namespace != "default" || pod != "web" || (container != "" && container != "app") {
		return kubeletserver.ContainerRef{}, fmt.Errorf("%s/%s/%s: %w", namespace, pod, container, kubeletserver.ErrNotFound)
	}
	return kubeletserver.ContainerRef{Name: "app", ContainerID: "c1", LogPath: p.logPath}, nil
}

func (p proxyPods) Sandbox(ctx context.Context, namespace, pod string) (string, error) {
	return "sandbox-1", nil
}

func (p proxyPods) ContainerRunning(ctx context.Context, containerID string) bool {
	return p.running.Load()
}

// echoRuntime hands out the URL of an echo streaming server.
type echoRuntime struct{ url string }

func (e echoRuntime) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return &runtimeapi.ExecResponse{Url: fmt.Sprintf("%s/exec/token?stdin=%t&stderr=%t&cmd=%s", e.url, req.Stdin, req.Stderr, strings.Join(req.Cmd, "_"))}, nil
}

func (e echoRuntime) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return &runtimeapi.AttachResponse{Url: fmt.Sprintf("%s/attach/token?stdin=%t", e.url, req.Stdin)}, nil
}

func (e echoRuntime) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if req.PodSandboxId != "sandbox-1" {
		return nil, errors.New("wrong sandbox")
	}
	return &runtimeapi.PortForwardResponse{Url: e.url + "/portforward/token"}, nil
}

// serveEchoPortForward speaks portforward.k8s.io over SPDY: every data
// stream is echoed back, then its error stream is closed empty.
func serveEchoPortForward(w http.ResponseWriter, r *http.Request) {
	if _, err := httpstream.Handshake(r, w, []string{"portforward.k8s.io"}); err != nil {
		return
	}
	var mu sync.Mutex
	errStreams := map[string]httpstream.Stream{}
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, replySent <-chan struct{}) error {
		id := s.Headers().Get("requestID")
		if s.Headers().Get("streamType") == "error" {
			mu.Lock()
			errStreams[id] = s
			mu.Unlock()
			return nil
		}
		go func() {
			<-replySent
			io.Copy(s, s)
			s.Close()
			mu.Lock()
			if e := errStreams[id]; e != nil {
				e.Close()
			}
			mu.Unlock()
		}()
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	select {
	case <-conn.CloseChan():
	case <-time.After(20 * time.Second):
	}
}

// serveEchoStreams is a runtime streaming server: remotecommand v4 over
// SPDY, echoing stdin to stdout after a line naming the command. It
// refuses WebSocket, as containerd does for v5.channel.k8s.io.
func serveEchoStreams(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "websocket is not supported", http.StatusForbidden)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/portforward/") {
		serveEchoPortForward(w, r)
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{"v4.channel.k8s.io"}); err != nil {
		return
	}
	streams := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, _ <-chan struct{}) error {
		streams <- s
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	byType := map[string]httpstream.Stream{}
	want := 2
	for _, s := range []string{"stdin", "stderr"} {
		if r.URL.Query().Get(s) == "true" {
			want++
		}
	}
	timeout := time.After(10 * time.Second)
	for len(byType) < want {
		select {
		case s := <-streams:
			byType[s.Headers().Get("streamType")] = s
		case <-timeout:
			return
		}
	}
	fmt.Fprintf(byType["stdout"], "cmd=%s\n", r.URL.Query().Get("cmd"))
	if in := byType["stdin"]; in != nil {
		io.Copy(byType["stdout"], in)
	}
	byType["stdout"].Close()
	if e := byType["stderr"]; e != nil {
		e.Close()
	}
	io.WriteString(byType["error"], `{"metadata":{},"status":"Success"}`)
	byType["error"].Close()
	select {
	case <-conn.CloseChan():
	case <-time.After(10 * time.Second):
	}
}

// kubeletProxyCluster is an api-server with a kubelet client certificate
// and one node whose kubelet is a kubeletserver on loopback.
type kubeletProxyCluster struct {
	cfg        *rest.Config
	client     kubernetes.Interface
	kubeconfig string
	logPath    string
	// running is what the kubelet says of the container (ends log follow).
	running atomic.Bool
}

func startKubeletProxyCluster(t *testing.T) *kubeletProxyCluster {
	t.Helper()
	dir := t.TempDir()
	bundle, err := pki.Ensure(dir, pki.Options{NodeIPs: []net.IP{net.ParseIP("127.0.0.1")}, ServiceIP: net.ParseIP("10.43.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &kubeletProxyCluster{}

	// The "runtime" streaming server and the kubelet.
	echo := &http.Server{Handler: http.HandlerFunc(serveEchoStreams)}
	echoLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go echo.Serve(echoLn)
	t.Cleanup(func() { echo.Close() })
	logPath := filepath.Join(dir, "app.log")
	ks, err := kubeletserver.New(kubeletserver.Options{
		Pods: proxyPods{logPath: logPath, running: &c.running}, Runtime: echoRuntime{url: "http://" + echoLn.Addr().String()},
		TLS: bundle.ServingTLSConfig(), ClientCAs: bundle.CertPool(), Log: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	kln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	kdone := make(chan error, 1)
	go func() { kdone <- ks.Serve(ctx, kln) }()

	// The api-server, with the kubelet client certificate.
	certPEM, keyPEM, err := bundle.IssueClientCert("kube-apiserver-kubelet-client", []string{pki.AdminGroup}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api, err := apiserver.New(apiserver.Config{
		Etcd: testEtcd(t), Resources: registry.All(registry.Options{ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16")}),
		Scheme: k1sscheme.New(), Listener: ln, TLS: bundle.ServingTLSConfig(), Version: version.Info(), Logger: quietLogger(),
		KubeletClientTLS: &tls.Config{Certificates: []tls.Certificate{pair}},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- api.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-kdone
	})
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := api.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}

	c.cfg = &rest.Config{
		Host:            "https://" + ln.Addr().String(),
		TLSClientConfig: rest.TLSClientConfig{CAData: bundle.CACertPEM, CertData: bundle.AdminCertPEM, KeyData: bundle.AdminKeyPEM},
		QPS:             -1,
	}
	c.kubeconfig = filepath.Join(dir, "kubeconfig")
	c.logPath = logPath
	if err := pki.WriteKubeconfig(c.kubeconfig, c.cfg.Host, bundle.CACertPEM, bundle.AdminCertPEM, bundle.AdminKeyPEM, "admin"); err != nil {
		t.Fatal(err)
	}
	c.client, err = kubernetes.NewForConfig(c.cfg)
	if err != nil {
		t.Fatal(err)
	}

	node, err := c.client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1.invalid"}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(kln.Addr().(*net.TCPAddr).Port)
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, p := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "default"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "two", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "a", Image: "busybox"}, {Name: "b", Image: "busybox"}}}},
	} {
		created, err := c.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 { // web runs (kubectl port-forward checks)
			created.Status.Phase = corev1.PodRunning
			if _, err := c.client.CoreV1().Pods("default").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c
}

func quietLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("K1S_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func TestKubeletProxyLogs(t *testing.T) {
	c := startKubeletProxyCluster(t)
	if err := os.WriteFile(c.logPath, []byte("2026-01-01T00:00:01Z stdout F first line\n2026-01-01T00:00:02Z stderr P second \n2026-01-01T00:00:03Z stderr F line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pods := c.client.CoreV1().Pods("default")
	got, err := pods.GetLogs("web", &corev1.PodLogOptions{Follow: true}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "first line\nsecond line\n" {
		t.Errorf("logs %q", got)
	}
	tail := int64(1)
	got, err = pods.GetLogs("web", &corev1.PodLogOptions{Container: "app", TailLines: &tail, Timestamps: true}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "2026-01-01T00:00:02Z second line\n" {
		t.Errorf("tailed logs %q", got)
	}

	neg := int64(-1)
	for _, tc := range []struct {
		name, pod string
		opts      corev1.PodLogOptions
		check     func(error) bool
		msg       string
	}{
		{"unbound", "pending", corev1.PodLogOptions{}, apierrors.IsBadRequest, "pod pending does not have a host assigned"},
		{"no such pod", "nope", corev1.PodLogOptions{}, apierrors.IsNotFound, `pods "nope" not found`},
		{"bad container", "web", corev1.PodLogOptions{Container: "x"}, apierrors.IsBadRequest, "container x is not valid for pod web"},
		{"which container", "two", corev1.PodLogOptions{}, apierrors.IsBadRequest, "a container name must be specified for pod two, choose one of: [a b]"},
		{"negative tail", "web", corev1.PodLogOptions{TailLines: &neg}, apierrors.IsInvalid, ""},
		{"kubelet 404", "two", corev1.PodLogOptions{Container: "a"}, apierrors.IsNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Do, not DoRaw: only Result.Error decodes the Status.
			err := pods.GetLogs(tc.pod, &tc.opts).Do(ctx).Error()
			if !tc.check(err) {
				t.Fatalf("got %v", err)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("message %q, want %q", err.Error(), tc.msg)
			}
		})
	}

	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl")
	}
	out, err := exec.Command(kubectl, "--kubeconfig", c.kubeconfig, "logs", "web", "--tail=1").CombinedOutput()
	if err != nil || string(out) != "second line\n" {
		t.Errorf("kubectl logs: %v: %q", err, out)
	}
}

func TestKubeletProxyExec(t *testing.T) {
	c := startKubeletProxyCluster(t)
	req := c.client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("web").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "app", Command: []string{"cat", "-"}, Stdin: true, Stdout: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(c.cfg, "POST", req.URL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("through three hops\n"), Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "cmd=cat_-\nthrough three hops\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}

	// Without an upgrade, and with nothing to stream, the api-server refuses.
	err = c.client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("web").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: []string{"ls"}, Stdout: true}, scheme.ParameterCodec).Do(ctx).Error()
	if !apierrors.IsBadRequest(err) {
		t.Errorf("exec without upgrade: %v", err)
	}
	err = c.client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("web").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: []string{"ls"}}, scheme.ParameterCodec).Do(ctx).Error()
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "at least 1 of stdin, stdout, stderr") {
		t.Errorf("exec without streams: %v", err)
	}

	// kubectl tries WebSocket first; the runtime refuses it and kubectl
	// falls back to SPDY through both proxies.
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl")
	}
	cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", c.kubeconfig, "exec", "-i", "web", "--", "cat")
	cmd.Stdin = strings.NewReader("from kubectl\n")
	got, err := cmd.CombinedOutput()
	if err != nil || string(got) != "cmd=cat\nfrom kubectl\n" {
		t.Errorf("kubectl exec: %v: %q", err, got)
	}
}

func TestKubeletProxyAttach(t *testing.T) {
	c := startKubeletProxyCluster(t)
	req := c.client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("web").SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Stdin: true, Stdout: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(c.cfg, "POST", req.URL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("attached\n"), Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "cmd=\nattached\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
}

// TestKubeletProxyPortForward drives kubectl port-forward: its WebSocket
// tunnel is refused by the runtime and it falls back to SPDY.
func TestKubeletProxyPortForward(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl")
	}
	c := startKubeletProxyCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", c.kubeconfig, "port-forward", "--address", "127.0.0.1", "pod/web", ":8080")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	// "Forwarding from 127.0.0.1:NNNNN -> 8080"
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("kubectl port-forward: %v (%s)", err, stderr.String())
	}
	var local string
	if _, err := fmt.Sscanf(line, "Forwarding from %s -> 8080", &local); err != nil {
		t.Fatalf("kubectl said %q: %v", line, err)
	}
	for _, msg := range []string{"first connection\n", "second connection\n"} {
		conn, err := net.Dial("tcp", local)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil {
			t.Fatalf("reading echo: %v (%s)", err, stderr.String())
		}
		conn.Close()
		if string(got) != msg {
			t.Errorf("echo %q, want %q", got, msg)
		}
	}
}

func TestKubeletProxyLogsFollow(t *testing.T) {
	c := startKubeletProxyCluster(t)
	c.running.Store(true)
	appendLog := func(line string) {
		f, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), line)
	}
	appendLog("one")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rc, err := c.client.CoreV1().Pods("default").GetLogs("web", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	for _, want := range []string{"one", "two"} {
		if want == "two" {
			// Written only after "one" arrived: the stream is live.
			appendLog("two")
		}
		line, err := br.ReadString('\n')
		if err != nil || line != want+"\n" {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
	c.running.Store(false)
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after the container stopped: %q, %v", rest, err)
	}
}
