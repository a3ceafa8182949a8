package pki

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// whoami is an api-server stand-in that answers with the verified client
// identity, or "anonymous".
func whoami(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		fmt.Fprint(w, "ok")
		return
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		fmt.Fprintf(w, "anonymous %s", r.Proto)
		return
	}
	s := r.TLS.PeerCertificates[0].Subject
	fmt.Fprintf(w, "%s %s %s", s.CommonName, strings.Join(s.Organization, ","), r.Proto)
}

func startServer(t *testing.T, b *Bundle) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(whoami))
	srv.TLS = b.ServingTLSConfig()
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// clientFromKubeconfig builds an HTTP client the way client-go does from the
// kubeconfig file.
func clientFromKubeconfig(t *testing.T, path string) *http.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("BuildConfigFromFlags: %v", err)
	}
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatalf("TLSConfigFor: %v", err)
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true},
	}
}

func get(t *testing.T, c *http.Client, url string) (string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func TestHandshakeWithKubeconfigCredentials(t *testing.T) {
	dir := t.TempDir()
	b := mustEnsure(t, dir, baseOptions())
	srv := startServer(t, b)

	nodeCert, nodeKey, err := b.IssueClientCert("system:node:node-a", []string{"system:nodes"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	schedCert, schedKey, err := b.IssueClientCert("system:kube-scheduler", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		cert, key []byte
		user      string
		want      string
	}{
		{"admin", b.AdminCertPEM, b.AdminKeyPEM, "", "system:admin system:masters HTTP/2.0"},
		{"node", nodeCert, nodeKey, "system:node:node-a", "system:node:node-a system:nodes HTTP/2.0"},
		{"scheduler", schedCert, schedKey, "system:kube-scheduler", "system:kube-scheduler  HTTP/2.0"},
		{"no client certificate", nil, nil, "", "anonymous HTTP/2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kubeconfig")
			if err := WriteKubeconfig(path, srv.URL, b.CACertPEM, tt.cert, tt.key, tt.user); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("kubeconfig mode = %o, want 600", fi.Mode().Perm())
			}
			got, err := get(t, clientFromKubeconfig(t, path), srv.URL+"/whoami")
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			if got != tt.want {
				t.Errorf("server saw %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHandshakeRejects(t *testing.T) {
	b := mustEnsure(t, t.TempDir(), baseOptions())
	other := mustEnsure(t, t.TempDir(), baseOptions()) // a different CA
	srv := startServer(t, b)

	tests := []struct {
		name string
		cfg  *tls.Config
	}{
		{
			name: "client certificate from another CA",
			cfg: func() *tls.Config {
				pair, err := tls.X509KeyPair(other.AdminCertPEM, other.AdminKeyPEM)
				if err != nil {
					t.Fatal(err)
				}
				return &tls.Config{RootCAs: b.CertPool(), Certificates: []tls.Certificate{pair}}
			}(),
		},
		{
			name: "server not trusted by another CA",
			cfg:  &tls.Config{RootCAs: other.CertPool()},
		},
		{
			name: "TLS 1.1",
			cfg:  &tls.Config{RootCAs: b.CertPool(), MaxVersion: tls.VersionTLS11},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tt.cfg}}
			// A client whose CA the server does not name in its request
			// for a certificate sends none (Go matches issuers by name,
			// and two CAs made in different seconds have different
			// names): it is then anonymous, never the other CA's user.
			if got, err := get(t, c, srv.URL+"/whoami"); err == nil && !(tt.name == "client certificate from another CA" && strings.HasPrefix(got, "anonymous")) {
				t.Errorf("request succeeded with %q, want a handshake error", got)
			}
		})
	}
}

func TestServingTLSConfig(t *testing.T) {
	b := mustEnsure(t, t.TempDir(), baseOptions())
	c := b.ServingTLSConfig()
	if c.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Errorf("ClientAuth = %v, want VerifyClientCertIfGiven", c.ClientAuth)
	}
	if c.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", c.MinVersion)
	}
	if got := strings.Join(c.NextProtos, ","); got != "h2,http/1.1" {
		t.Errorf("NextProtos = %s, want h2,http/1.1", got)
	}
	// Each call returns its own config; callers may modify it.
	c.NextProtos[0] = "x"
	if b.ServingTLSConfig().NextProtos[0] != "h2" {
		t.Errorf("ServingTLSConfig shares state between calls")
	}
}

func TestKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not on PATH")
	}
	b := mustEnsure(t, t.TempDir(), baseOptions())
	srv := startServer(t, b)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := WriteKubeconfig(path, srv.URL, b.CACertPEM, b.AdminCertPEM, b.AdminKeyPEM, ""); err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), kubectl, append([]string{"--kubeconfig", path}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no cache in the real home
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	t.Run("config view", func(t *testing.T) {
		out := run(t, "config", "view", "--raw", "-o",
			"jsonpath={.current-context} {.clusters[0].cluster.server} {.users[0].name}")
		if want := "default " + srv.URL + " default"; out != want {
			t.Errorf("kubectl config view = %q, want %q", out, want)
		}
	})
	t.Run("request with the credentials", func(t *testing.T) {
		// kubectl verifies the server against the embedded CA and
		// presents the embedded client certificate.
		if out := run(t, "get", "--raw", "/whoami"); !strings.HasPrefix(out, "system:admin system:masters") {
			t.Errorf("kubectl get --raw /whoami = %q, want the admin identity", out)
		}
	})
}
