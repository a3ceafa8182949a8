package kubeletserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	"github.com/k1s/k1s/internal/pki"
)

// fakePods knows one pod "ns/web" with containers "app" (and "side" when
// two is set).
type fakePods struct {
	ref     ContainerRef
	two     bool
	running atomic.Bool
}

func (f *fakePods) Container(ctx context.Context, namespace, pod, container string) (ContainerRef, error) {
	if namespace != "ns" || pod != "web" {
		return ContainerRef{}, fmt.Errorf("pod %s/%s: %w", namespace, pod, ErrNotFound)
	}
	switch {
	case container == "" && f.two:
		return ContainerRef{}, &ContainerRequiredError{Pod: pod, Containers: []string{"app", "side"}}
	case container == "" || container == "app":
		return f.ref, nil
	}
	return ContainerRef{}, fmt.Errorf("container %q: %w", container, ErrNotFound)
}

func (f *fakePods) Sandbox(ctx context.Context, namespace, pod string) (string, error) {
	if namespace != "ns" || pod != "web" {
		return "", fmt.Errorf("pod %s/%s: %w", namespace, pod, ErrNotFound)
	}
	return "sandbox-1", nil
}

func (f *fakePods) ContainerRunning(ctx context.Context, containerID string) bool {
	return containerID == f.ref.ContainerID && f.running.Load()
}

// fakeStreamer answers with URLs of an echo streaming server and records
// the requests.
type fakeStreamer struct {
	url  string
	mu   sync.Mutex
	exec *runtimeapi.ExecRequest
	pf   *runtimeapi.PortForwardRequest
}

func (f *fakeStreamer) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	f.mu.Lock()
	f.exec = req
	f.mu.Unlock()
	return &runtimeapi.ExecResponse{Url: fmt.Sprintf("%s/exec/token?stdin=%t&stderr=%t", f.url, req.Stdin, req.Stderr)}, nil
}

func (f *fakeStreamer) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return &runtimeapi.AttachResponse{Url: fmt.Sprintf("%s/attach/token?stdin=%t", f.url, req.Stdin)}, nil
}

func (f *fakeStreamer) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	f.mu.Lock()
	f.pf = req
	f.mu.Unlock()
	return &runtimeapi.PortForwardResponse{Url: f.url + "/portforward/token"}, nil
}

// echoStreamServer is a runtime streaming server: remotecommand v4 over
// SPDY that echoes stdin to stdout, refuses WebSocket like a runtime that
// does not know v5.channel.k8s.io, and echoes raw bytes for a "test-echo"
// upgrade.
func echoStreamServer(t testing.TB) *httptest.Server {
	stuck := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.ToLower(r.Header.Get("Upgrade")) {
		case "websocket":
			if strings.HasPrefix(r.URL.Path, "/attach/") {
				http.Error(w, "websocket is not supported here", http.StatusForbidden)
				return
			}
			// Like containerd 1.6's vendored wsstream: a bare 403 with no
			// length, then the connection is left open.
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			io.WriteString(conn, "HTTP/1.1 403 Forbidden\r\n\r\n")
			<-stuck
			return
		case "test-echo":
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test-echo\r\n\r\n")
			io.Copy(conn, buf)
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
		want := 2 // error, stdout
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
		if in := byType["stdin"]; in != nil {
			io.Copy(byType["stdout"], in)
		} else {
			io.WriteString(byType["stdout"], "no input\n")
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
	}))
	t.Cleanup(func() {
		close(stuck)
		srv.Close()
	})
	return srv
}

type testKubelet struct {
	pods    *fakePods
	runtime *fakeStreamer
	url     string
	dir     string
}

func startTestKubelet(t *testing.T) *testKubelet {
	t.Helper()
	dir := t.TempDir()
	k := &testKubelet{
		pods: &fakePods{ref: ContainerRef{
			Name: "app", ContainerID: "c1", PodUID: "uid-1",
			LogPath: filepath.Join(dir, "app", "1.log"),
		}},
		runtime: &fakeStreamer{url: echoStreamServer(t).URL},
		dir:     dir,
	}
	k.pods.running.Store(true)
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	s, err := New(Options{Pods: k.pods, Runtime: k.runtime, LogPollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	k.url = srv.URL
	return k
}

func appendFile(t testing.TB, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestContainerLogs(t *testing.T) {
	k := startTestKubelet(t)
	appendFile(t, k.pods.ref.LogPath, "2026-01-01T00:00:01Z stdout F one\n2026-01-01T00:00:02Z stderr P t\n2026-01-01T00:00:02Z stderr F wo\n")
	prev := filepath.Join(k.dir, "app", "0.log")
	appendFile(t, prev, "2026-01-01T00:00:00Z stdout F old\n")

	for _, tc := range []struct {
		name     string
		path     string
		previous string
		code     int
		want     string
	}{
		{name: "all", path: "/containerLogs/ns/web/app", code: 200, want: "one\ntwo\n"},
		{name: "tail", path: "/containerLogs/ns/web/app?tailLines=1", code: 200, want: "two\n"},
		{name: "timestamps", path: "/containerLogs/ns/web/app?timestamps=true&tailLines=1", code: 200, want: "2026-01-01T00:00:02Z two\n"},
		{name: "limitBytes", path: "/containerLogs/ns/web/app?limitBytes=2", code: 200, want: "on"},
		{name: "sinceTime", path: "/containerLogs/ns/web/app?sinceTime=2026-01-01T00:00:02Z", code: 200, want: "two\n"},
		{name: "previous", path: "/containerLogs/ns/web/app?previous=true", previous: prev, code: 200, want: "old\n"},
		{name: "no previous", path: "/containerLogs/ns/web/app?previous=true", code: 400, want: "previous terminated container \"app\" in pod \"web\" not found\n"},
		{name: "unknown pod", path: "/containerLogs/ns/nope/app", code: 404},
		{name: "unknown container", path: "/containerLogs/ns/web/nope", code: 404},
		{name: "bad tail", path: "/containerLogs/ns/web/app?tailLines=-1", code: 400},
		{name: "bad limit", path: "/containerLogs/ns/web/app?limitBytes=x", code: 400},
		{name: "since both", path: "/containerLogs/ns/web/app?sinceSeconds=5&sinceTime=2026-01-01T00:00:02Z", code: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k.pods.ref.PreviousLogPath = tc.previous
			code, body := get(t, k.url+tc.path)
			if code != tc.code {
				t.Fatalf("status %d, want %d (%s)", code, tc.code, body)
			}
			if tc.want != "" && body != tc.want {
				t.Errorf("body %q, want %q", body, tc.want)
			}
		})
	}
}

func TestContainerRequired(t *testing.T) {
	k := startTestKubelet(t)
	k.pods.two = true
	appendFile(t, k.pods.ref.LogPath, "2026-01-01T00:00:01Z stdout F one\n")
	// The api-server always names the container; a client that does not
	// hits the exec path without one.
	code, body := get(t, k.url+"/exec/ns/web?command=ls&output=1")
	if code != http.StatusBadRequest {
		t.Fatalf("status %d (%s)", code, body)
	}
	// Without an upgrade the request is refused before the pod lookup;
	// with one the pod lookup names the choices.
	req, _ := http.NewRequest("POST", k.url+"/exec/ns/web?command=ls&output=1", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "a container name must be specified for pod web, choose one of: [app side]\n"
	if resp.StatusCode != http.StatusBadRequest || string(b) != want {
		t.Errorf("got %d %q, want 400 %q", resp.StatusCode, b, want)
	}
}

func TestFollowLogs(t *testing.T) {
	k := startTestKubelet(t)
	path := k.pods.ref.LogPath
	appendFile(t, path, "2026-01-01T00:00:01Z stdout F one\n")
	resp, err := http.Get(k.url + "/containerLogs/ns/web/app?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("line %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no line %q after 5s", want)
		}
	}
	expect("one")
	appendFile(t, path, "2026-01-01T00:00:02Z stdout P tw")
	appendFile(t, path, "o\n")
	// The unfinished record above is completed by the next write.
	appendFile(t, path, "2026-01-01T00:00:03Z stdout F  done\n")
	expect("two done")
	// Rotation: the runtime renames the file and starts a new one.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "2026-01-01T00:00:04Z stdout F three\n")
	expect("three")
	appendFile(t, path, "2026-01-01T00:00:05Z stdout F last\n")
	k.pods.running.Store(false)
	expect("last")
	select {
	case _, ok := <-lines:
		if ok {
			t.Fatal("more lines after the end")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end once the container stopped")
	}
}

func TestExecSPDYAndWebSocketFallback(t *testing.T) {
	k := startTestKubelet(t)
	cfg := &rest.Config{Host: k.url}
	url := k.url + "/exec/ns/web/app?command=cat&command=-n&input=1&output=1"
	for _, mode := range []string{"spdy", "fallback"} {
		t.Run(mode, func(t *testing.T) {
			ex, err := remotecommand.NewSPDYExecutor(cfg, "POST", mustURL(t, url))
			if err != nil {
				t.Fatal(err)
			}
			if mode == "fallback" {
				ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", url)
				if err != nil {
					t.Fatal(err)
				}
				ex, err = remotecommand.NewFallbackExecutor(ws, ex, func(err error) bool {
					return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out bytes.Buffer
			err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("hello exec\n"), Stdout: &out})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != "hello exec\n" {
				t.Errorf("stdout %q", got)
			}
			k.runtime.mu.Lock()
			defer k.runtime.mu.Unlock()
			if r := k.runtime.exec; r == nil || r.ContainerId != "c1" || strings.Join(r.Cmd, " ") != "cat -n" || !r.Stdin || !r.Stdout || r.Stderr || r.Tty {
				t.Errorf("runtime got %+v", r)
			}
		})
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPortForwardRawUpgrade(t *testing.T) {
	k := startTestKubelet(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(k.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /portForward/ns/web?port=8080&port=53 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test-echo\r\nContent-Length: 0\r\n\r\nearly bytes|")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "test-echo" {
		t.Fatalf("response %d %v", resp.StatusCode, resp.Header)
	}
	io.WriteString(conn, "late bytes")
	want := "early bytes|late bytes"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("echo %q, want %q", got, want)
	}
	k.runtime.mu.Lock()
	defer k.runtime.mu.Unlock()
	if r := k.runtime.pf; r == nil || r.PodSandboxId != "sandbox-1" || len(r.Port) != 2 || r.Port[0] != 8080 || r.Port[1] != 53 {
		t.Errorf("runtime got %+v", r)
	}
}

func TestRefusedUpgradePassesThrough(t *testing.T) {
	k := startTestKubelet(t)
	req, _ := http.NewRequest("GET", k.url+"/attach/ns/web/app?output=1", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Protocol", "v5.channel.k8s.io")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || string(b) != "websocket is not supported here\n" {
		t.Errorf("got %d %q", resp.StatusCode, b)
	}
}

func TestServeTLSClientCerts(t *testing.T) {
	bundle, err := pki.Ensure(t.TempDir(), pki.Options{NodeIPs: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	pods := &fakePods{ref: ContainerRef{Name: "app", ContainerID: "c1", LogPath: filepath.Join(t.TempDir(), "1.log")}}
	appendFile(t, pods.ref.LogPath, "2026-01-01T00:00:01Z stdout F one\n")
	s, err := New(Options{Pods: pods, Runtime: &fakeStreamer{}, TLS: bundle.ServingTLSConfig(), ClientCAs: bundle.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	base := "https://" + ln.Addr().String()

	certPEM, keyPEM, err := bundle.IssueClientCert("kube-apiserver-kubelet-client", []string{"system:masters"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: bundle.CertPool()}}}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: bundle.CertPool(), Certificates: []tls.Certificate{cert}}}}
	for _, tc := range []struct {
		client *http.Client
		path   string
		code   int
	}{
		{anon, "/healthz", 200},
		{anon, "/containerLogs/ns/web/app", 401},
		{withCert, "/containerLogs/ns/web/app", 200},
	} {
		resp, err := tc.client.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: status %d, want %d", tc.path, resp.StatusCode, tc.code)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after ctx ended")
	}
}

// TestServeEndsUpgradedStreams: when Serve's ctx ends, hijacked streams
// are closed too, not left to the client.
func TestServeEndsUpgradedStreams(t *testing.T) {
	bundle, err := pki.Ensure(t.TempDir(), pki.Options{NodeIPs: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Pods: &fakePods{}, Runtime: &fakeStreamer{url: echoStreamServer(t).URL}, TLS: bundle.ServingTLSConfig(), ClientCAs: bundle.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	cert, err := tls.X509KeyPair(bundle.AdminCertPEM, bundle.AdminKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: bundle.CertPool(), Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /portForward/ns/web HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test-echo\r\nContent-Length: 0\r\n\r\nping")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v", got, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Serve did not return after ctx ended")
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("the upgraded stream is still open after Serve returned")
	}
}
