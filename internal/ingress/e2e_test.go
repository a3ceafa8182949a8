package ingress

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/testcluster"
)

const testNS = "web"

// backend is a loopback HTTP server answering with its name.
type backend struct {
	name string
	srv  *httptest.Server
	hits atomic.Int64
	// block, when set, holds requests to /block until closed.
	block       chan struct{}
	releaseOnce sync.Once
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name, block: make(chan struct{})}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if r.Header.Get("Upgrade") == "test-proto" {
			echoUpgrade(w)
			return
		}
		if r.URL.Path == "/stream" { // half an answer, then wait
			io.WriteString(w, "first\n")
			http.NewResponseController(w).Flush()
			select {
			case <-b.block:
			case <-r.Context().Done():
			}
			io.WriteString(w, "second\n")
			return
		}
		if r.URL.Path == "/block" {
			select {
			case <-b.block:
			case <-r.Context().Done():
			}
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Body", string(body))
		w.Header().Set("X-Seen", strings.Join([]string{r.Host, r.Header.Get("X-Forwarded-For"),
			r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Port")}, " "))
		io.WriteString(w, name)
	}))
	t.Cleanup(func() {
		b.release()
		b.srv.Close()
	})
	return b
}

func (b *backend) release() { b.releaseOnce.Do(func() { close(b.block) }) }

func (b *backend) port() int32 {
	return int32(b.srv.Listener.Addr().(*net.TCPAddr).Port)
}

func (b *backend) addr() string { return b.srv.Listener.Addr().String() }

// echoUpgrade takes over the connection after a 101 and echoes bytes.
func echoUpgrade(w http.ResponseWriter) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test-proto\r\n\r\n")
	brw.Flush()
	buf := make([]byte, 1024)
	for {
		n, err := brw.Read(buf)
		if n > 0 {
			conn.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// harness is a real api-server with our controller running against it.
type harness struct {
	t      *testing.T
	client kubernetes.Interface
	c      *Controller
	ctx    context.Context
}

func startHarness(t *testing.T) *harness {
	t.Helper()
	cfg := testcluster.StartAPIServer(t)
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, client: client, ctx: ctx}
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	class := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "k1s"}, Spec: networkingv1.IngressClassSpec{Controller: ControllerName}}
	if _, err := client.NetworkingV1().IngressClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Client: client, NodeName: "node-1", HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0",
		HealthAddr: "127.0.0.1:0", Log: testcluster.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-c.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("controller not ready after 30s")
	}
	h.c = c
	return h
}

func (h *harness) create(objs ...any) {
	h.t.Helper()
	var err error
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			_, err = h.client.CoreV1().Services(testNS).Create(h.ctx, o, metav1.CreateOptions{})
		case *discoveryv1.EndpointSlice:
			_, err = h.client.DiscoveryV1().EndpointSlices(testNS).Create(h.ctx, o, metav1.CreateOptions{})
		case *networkingv1.Ingress:
			_, err = h.client.NetworkingV1().Ingresses(testNS).Create(h.ctx, o, metav1.CreateOptions{})
		case *corev1.Secret:
			_, err = h.client.CoreV1().Secrets(testNS).Create(h.ctx, o, metav1.CreateOptions{})
		default:
			h.t.Fatalf("cannot create %T", o)
		}
		if err != nil {
			h.t.Fatal(err)
		}
	}
}

// service creates a Service, an Ingress of the same name routing
// host+path to it, and one EndpointSlice per backend.
func (h *harness) service(name, host, path string, backends ...*backend) {
	h.t.Helper()
	h.create(serviceObj(testNS, name), ingressObj(testNS, name, ptr("k1s"), host, testPath{path, networkingv1.PathTypePrefix, name}))
	for _, b := range backends {
		h.create(sliceObj(testNS, name+"-"+b.name, name, b.port(), []string{"127.0.0.1"}))
	}
	h.waitEndpoints(host, path, len(backends))
}

// waitEndpoints polls until the snapshot routes host+path to n ready
// endpoints.
func (h *harness) waitEndpoints(host, path string, n int) {
	h.t.Helper()
	testcluster.Eventually(h.t, 10*time.Second, func() error {
		r := h.c.table.Load().lookup(host, path)
		switch {
		case r == nil:
			return fmt.Errorf("no route for %s%s", host, path)
		case r.pool == nil && n > 0, r.pool != nil && len(r.pool.endpoints) != n:
			return fmt.Errorf("route for %s%s: %d endpoints, want %d", host, path, len(r.pool.endpoints), n)
		}
		return nil
	})
}

// ingressClient sends every request to the ingress, whatever the URL's host.
func (h *harness) ingressClient(roots *x509.CertPool) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		target := h.c.HTTPAddr()
		if strings.HasSuffix(addr, ":443") {
			target = h.c.HTTPSAddr()
		}
		return (&net.Dialer{}).DialContext(ctx, network, target)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: 64,
	}}
}

func get(t *testing.T, c *http.Client, url string) (int, string, *http.Response) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body), resp
}

// selfSignedPEM makes a certificate for host, as a TLS Secret would hold.
func selfSignedPEM(t *testing.T, host string) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), cert
}

func TestEndToEnd(t *testing.T) {
	h := startHarness(t)

	// Node addresses go into the status of every Ingress of ours.
	node, err := h.client.CoreV1().Nodes().Create(h.ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeHostName, Address: "node-1"}}
	if _, err := h.client.CoreV1().Nodes().UpdateStatus(h.ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	app, api := newBackend(t, "app"), newBackend(t, "api")
	h.service("app", "my-app.com", "/", app)
	h.service("api", "api.my-app.com", "/v1", api)

	appCert, appKey, appX509 := selfSignedPEM(t, "my-app.com")
	apiCert, apiKey, apiX509 := selfSignedPEM(t, "api.my-app.com")
	for _, s := range []struct {
		name      string
		cert, key []byte
		ingress   string
		host      string
	}{{"app-tls", appCert, appKey, "app", "my-app.com"}, {"api-tls", apiCert, apiKey, "api", "api.my-app.com"}} {
		h.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.name}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: s.cert, corev1.TLSPrivateKeyKey: s.key}})
		ing, err := h.client.NetworkingV1().Ingresses(testNS).Get(h.ctx, s.ingress, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{s.host}, SecretName: s.name}}
		if _, err := h.client.NetworkingV1().Ingresses(testNS).Update(h.ctx, ing, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(appX509)
	roots.AddCert(apiX509)
	client := h.ingressClient(roots)

	t.Run("routing by host and path over HTTP and HTTPS", func(t *testing.T) {
		testcluster.Eventually(t, 10*time.Second, func() error {
			if h.c.table.Load().certificate("api.my-app.com") == nil {
				return errors.New("no certificate for api.my-app.com yet")
			}
			return nil
		})
		for _, tt := range []struct{ url, want, cn, proto, port string }{
			{"http://my-app.com/", "app", "", "http", portOf(h.c.HTTPAddr())},
			{"http://api.my-app.com/v1/users", "api", "", "http", portOf(h.c.HTTPAddr())},
			{"https://my-app.com/", "app", "my-app.com", "https", portOf(h.c.HTTPSAddr())},
			{"https://api.my-app.com/v1", "api", "api.my-app.com", "https", portOf(h.c.HTTPSAddr())},
		} {
			code, body, resp := get(t, client, tt.url)
			if code != 200 || body != tt.want {
				t.Errorf("GET %s = %d %q, want 200 %q", tt.url, code, body, tt.want)
			}
			host := strings.TrimPrefix(strings.TrimPrefix(tt.url, "http://"), "https://")
			host = host[:strings.IndexByte(host, '/')]
			if got, want := resp.Header.Get("X-Seen"), fmt.Sprintf("%s 127.0.0.1 %s %s %s", host, tt.proto, host, tt.port); got != want {
				t.Errorf("GET %s: backend saw Host, X-Forwarded-For/-Proto/-Host/-Port %q, want %q", tt.url, got, want)
			}
			if tt.cn != "" {
				if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != tt.cn {
					t.Errorf("GET %s: certificate CN %q, want %q", tt.url, got, tt.cn)
				}
			}
		}
		// An SNI name without a secret gets the default certificate.
		conn, err := tls.Dial("tcp", h.c.HTTPSAddr(), &tls.Config{ServerName: "unknown.com", InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; got != "k1s ingress default certificate" {
			t.Errorf("default certificate CN %q", got)
		}
		conn.Close()
	})

	t.Run("404 and 503", func(t *testing.T) {
		code, body, _ := get(t, client, "http://nope.com/")
		if code != 404 || body != "404 not found: no ingress rule matches this host and path\n" {
			t.Errorf("unknown host: %d %q", code, body)
		}
		code, _, _ = get(t, client, "http://api.my-app.com/v2")
		if code != 404 {
			t.Errorf("unknown path: %d, want 404", code)
		}
		h.service("empty", "empty.com", "/")
		code, body, _ = get(t, client, "http://empty.com/")
		if code != 503 || body != "503 service unavailable: no ready endpoint for this backend\n" {
			t.Errorf("no endpoints: %d %q", code, body)
		}
	})

	t.Run("not ready endpoint gets no traffic", func(t *testing.T) {
		ready, notReady := newBackend(t, "ready"), newBackend(t, "notready")
		h.create(serviceObj(testNS, "nr"), ingressObj(testNS, "nr", ptr("k1s"), "nr.com", testPath{"/", networkingv1.PathTypePrefix, "nr"}),
			sliceObj(testNS, "nr-a", "nr", ready.port(), []string{"127.0.0.1"}),
			sliceObj(testNS, "nr-b", "nr", notReady.port(), []string{"127.0.0.1"}, "127.0.0.1"))
		h.waitEndpoints("nr.com", "/", 1)
		for range 20 {
			if code, body, _ := get(t, client, "http://nr.com/"); code != 200 || body != "ready" {
				t.Fatalf("GET nr.com = %d %q", code, body)
			}
		}
		if n := notReady.hits.Load(); n != 0 {
			t.Errorf("not-ready endpoint got %d requests", n)
		}
	})

	t.Run("least outstanding spreads load", func(t *testing.T) {
		a, b := newBackend(t, "lo-a"), newBackend(t, "lo-b")
		h.service("lo", "lo.com", "/", a, b)
		const n = 10
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if code, _, _ := get(t, client, "http://lo.com/block"); code != 200 {
					t.Errorf("GET lo.com/block = %d", code)
				}
			})
		}
		testcluster.Eventually(t, 10*time.Second, func() error {
			if got := a.hits.Load() + b.hits.Load(); got != n {
				return fmt.Errorf("%d of %d requests arrived", got, n)
			}
			return nil
		})
		if a.hits.Load() != n/2 || b.hits.Load() != n/2 {
			t.Errorf("outstanding requests split %d/%d, want %d each", a.hits.Load(), b.hits.Load(), n/2)
		}
		a.release()
		b.release()
		wg.Wait()
	})

	t.Run("dead endpoint is retried", func(t *testing.T) {
		live := newBackend(t, "live")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		deadPort := int32(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		h.create(serviceObj(testNS, "dead"), ingressObj(testNS, "dead", ptr("k1s"), "dead.com", testPath{"/", networkingv1.PathTypePrefix, "dead"}),
			sliceObj(testNS, "dead-a", "dead", live.port(), []string{"127.0.0.1"}),
			sliceObj(testNS, "dead-b", "dead", deadPort, []string{"127.0.0.1"}))
		h.waitEndpoints("dead.com", "/", 2)
		for range 10 {
			if code, body, _ := get(t, client, "http://dead.com/"); code != 200 || body != "live" {
				t.Fatalf("GET dead.com = %d %q", code, body)
			}
		}
		// A POST is retried too when the dial failed: nothing was sent.
		// Lift the ejection and load the live endpoint with one phantom
		// request, so that the dead endpoint is chosen first every time.
		var dead, alive *endpoint
		for _, e := range h.c.table.Load().lookup("dead.com", "/").pool.endpoints {
			if e.addr == live.addr() {
				alive = e
			} else {
				dead = e
			}
		}
		alive.outstanding.Add(1)
		defer alive.done()
		for i := range 10 {
			dead.ejectedUntil.Store(0)
			resp, err := client.Post("http://dead.com/", "text/plain", strings.NewReader(fmt.Sprint("payload ", i)))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("X-Body") != fmt.Sprint("payload ", i) {
				t.Fatalf("POST dead.com = %d, backend got body %q", resp.StatusCode, resp.Header.Get("X-Body"))
			}
			if dead.ejectedUntil.Load() == 0 {
				t.Fatal("the dead endpoint was not tried")
			}
		}
	})

	t.Run("upgrade passes through", func(t *testing.T) {
		ws := newBackend(t, "ws")
		h.service("ws", "ws.com", "/", ws)
		conn, err := net.Dial("tcp", h.c.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, "GET /socket HTTP/1.1\r\nHost: ws.com\r\nConnection: Upgrade\r\nUpgrade: test-proto\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "test-proto" {
			t.Fatalf("upgrade answer %d, Upgrade %q", resp.StatusCode, resp.Header.Get("Upgrade"))
		}
		for _, msg := range []string{"hello\n", "again\n"} {
			io.WriteString(conn, msg)
			got, err := br.ReadString('\n')
			if err != nil || got != msg {
				t.Fatalf("echo = %q, %v; want %q", got, err, msg)
			}
		}
	})

	t.Run("streaming answers are flushed at once", func(t *testing.T) {
		st := newBackend(t, "stream")
		h.service("stream", "stream.com", "/", st)
		resp, err := client.Get("http://stream.com/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); err != nil || line != "first\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		st.release()
		if rest, err := io.ReadAll(br); err != nil || string(rest) != "second\n" {
			t.Fatalf("rest %q, %v", rest, err)
		}
	})

	t.Run("an Ingress without class is ours once our class is default", func(t *testing.T) {
		nc := newBackend(t, "noclass")
		h.create(serviceObj(testNS, "noclass"), sliceObj(testNS, "noclass", "noclass", nc.port(), []string{"127.0.0.1"}),
			ingressObj(testNS, "noclass", nil, "noclass.com", testPath{"/", networkingv1.PathTypePrefix, "noclass"}))
		if code, _, _ := get(t, client, "http://noclass.com/"); code != 404 {
			t.Errorf("before the class is default: %d, want 404", code)
		}
		class, err := h.client.NetworkingV1().IngressClasses().Get(h.ctx, "k1s", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		class.Annotations = map[string]string{defaultClassAnnotation: "true"}
		if _, err := h.client.NetworkingV1().IngressClasses().Update(h.ctx, class, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		h.waitEndpoints("noclass.com", "/", 1)
		if code, body, _ := get(t, client, "http://noclass.com/"); code != 200 || body != "noclass" {
			t.Errorf("once the class is default: %d %q", code, body)
		}
	})

	t.Run("status has the node address", func(t *testing.T) {
		testcluster.Eventually(t, 10*time.Second, func() error {
			ing, err := h.client.NetworkingV1().Ingresses(testNS).Get(h.ctx, "app", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got := ing.Status.LoadBalancer.Ingress; len(got) != 1 || got[0].IP != "10.0.0.5" {
				return fmt.Errorf("status.loadBalancer.ingress = %+v, want [10.0.0.5]", got)
			}
			return nil
		})
	})

	t.Run("metrics and healthz", func(t *testing.T) {
		plainClient := &http.Client{Timeout: 10 * time.Second}
		code, body, _ := get(t, plainClient, "http://"+h.c.HealthAddr()+"/healthz")
		if code != 200 || body != "ok\n" {
			t.Errorf("/healthz = %d %q", code, body)
		}
		_, body, _ = get(t, plainClient, "http://"+h.c.HealthAddr()+"/metrics")
		for _, want := range []string{
			`k1s_ingress_requests_total{code="200",ingress="app",namespace="web",service="app"}`,
			`k1s_ingress_requests_total{code="404",ingress="",namespace="",service=""}`,
			`k1s_ingress_request_duration_seconds_count{ingress="api",namespace="web",service="api"}`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	t.Run("removing a backend under load loses no request", func(t *testing.T) {
		stay, leave := newBackend(t, "stay"), newBackend(t, "leave")
		h.service("roll", "roll.com", "/", stay, leave)
		leaving := h.c.table.Load().endpoints[leave.addr()]
		if leaving == nil {
			t.Fatal("leaving endpoint not in the table")
		}
		var ok, failed atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := client.Get("http://roll.com/")
					if err != nil {
						failed.Add(1)
						t.Errorf("GET roll.com: %v", err)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						failed.Add(1)
						t.Errorf("GET roll.com = %d", resp.StatusCode)
						continue
					}
					ok.Add(1)
				}
			})
		}
		waitCount := func(n int64) {
			testcluster.Eventually(t, 10*time.Second, func() error {
				if ok.Load() < n {
					return fmt.Errorf("%d requests done, want %d", ok.Load(), n)
				}
				return nil
			})
		}
		waitCount(200)
		// As in Kubernetes: the endpoint turns not ready, the proxy
		// notices and drains it, and only then does the pod stop.
		s, err := h.client.DiscoveryV1().EndpointSlices(testNS).Get(h.ctx, "roll-leave", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Endpoints[0].Conditions.Ready = ptr(false)
		if _, err := h.client.DiscoveryV1().EndpointSlices(testNS).Update(h.ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		h.waitEndpoints("roll.com", "/", 1)
		testcluster.Eventually(t, 10*time.Second, func() error {
			if n := leaving.outstanding.Load(); n != 0 {
				return fmt.Errorf("%d requests still on the leaving endpoint", n)
			}
			return nil
		})
		leave.srv.Close()
		waitCount(ok.Load() + 200)
		close(stop)
		wg.Wait()
		if failed.Load() != 0 || leave.hits.Load() == 0 {
			t.Errorf("%d requests failed, %d ok, leaving backend served %d", failed.Load(), ok.Load(), leave.hits.Load())
		}
	})
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
