package nodetoken

import (
	"bytes"
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
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/atomicfile"
)

// CertPath is where the server signs agents' certificate requests.
const CertPath = "/v1-k1s/client-cert"

// Identity is one client certificate an agent keeps: its files are
// DIR/NAME.crt and DIR/NAME.key.
type Identity struct {
	Name   string
	User   string
	Groups []string
}

// NodeIdentity is the kubelet's: system:node:NODE in system:nodes.
func NodeIdentity(node string) Identity {
	return Identity{Name: "kubelet", User: "system:node:" + node, Groups: []string{"system:nodes"}}
}

// The per-node components' shared identities.
var (
	ProxyIdentity       = Identity{Name: "kube-proxy", User: "system:kube-proxy"}
	ProvisionerIdentity = Identity{Name: "local-path-provisioner", User: "system:k1s-local-path-provisioner"}
)

// renewAt is the fraction of a certificate's lifetime after which it is
// renewed (upstream's kubelet: between 70% and 90%).
const renewAt = 0.8

// Joiner gets and renews an agent's client certificates: the first time
// with the join token, afterwards with the certificate being renewed. The
// private keys are made here and never leave the node.
type Joiner struct {
	server string
	ca     []byte
	secret string
	dir    string
	log    *slog.Logger
	now    func() time.Time
}

// JoinOptions configure Join.
type JoinOptions struct {
	Server, Token string
	// Dir keeps the certificates and keys.
	Dir string
	Log *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Join fetches and verifies the server's CA against the token (see
// Config) and returns a Joiner for the certificates under o.Dir.
func Join(ctx context.Context, o JoinOptions) (*Joiner, error) {
	cfg, err := Config(ctx, o.Server, o.Token)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	return &Joiner{server: cfg.Host, ca: cfg.CAData, secret: cfg.BearerToken, dir: o.Dir, log: o.Log, now: o.Now}, nil
}

func (j *Joiner) files(id Identity) (cert, key string) {
	return filepath.Join(j.dir, id.Name+".crt"), filepath.Join(j.dir, id.Name+".key")
}

// Ensure returns a client configuration for id, requesting a certificate
// when there is none, when it is not the cluster CA's or not id's, or when
// it is due for renewal.
func (j *Joiner) Ensure(ctx context.Context, id Identity) (*rest.Config, error) {
	certFile, keyFile := j.files(id)
	if _, due, ok := j.current(id); !ok || !j.now().Before(due) {
		if err := j.request(ctx, id); err != nil {
			return nil, err
		}
	}
	return &rest.Config{Host: j.server, TLSClientConfig: rest.TLSClientConfig{CAData: j.ca, CertFile: certFile, KeyFile: keyFile}}, nil
}

// current returns id's certificate pair if it is valid now, signed by the
// cluster CA and for id, and when it is due for renewal.
func (j *Joiner) current(id Identity) (pair *tls.Certificate, due time.Time, ok bool) {
	certFile, keyFile := j.files(id)
	p, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil || p.Leaf == nil {
		return nil, time.Time{}, false
	}
	c := p.Leaf
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(j.ca)
	now := j.now()
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, time.Time{}, false
	}
	if c.Subject.CommonName != id.User || !slices.Equal(c.Subject.Organization, id.Groups) {
		return nil, time.Time{}, false
	}
	// The lifetime counts from when the certificate was stored here: a
	// signer backdates NotBefore to tolerate clock skew.
	start := c.NotBefore
	if fi, err := os.Stat(certFile); err == nil && fi.ModTime().After(start) && fi.ModTime().Before(c.NotAfter) {
		start = fi.ModTime()
	}
	life := c.NotAfter.Sub(start)
	return &p, start.Add(time.Duration(float64(life) * renewAt)), true
}

// request asks the server for a new certificate for id and stores it with
// its new key. It authenticates with id's current certificate while that
// is valid, with the join token otherwise.
func (j *Joiner) request(ctx context.Context, id Identity) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: id.User, Organization: id.Groups},
	}, key)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(j.ca)
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.server+CertPath,
		bytes.NewReader(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-pem-file")
	how := "the join token"
	if pair, _, ok := j.current(id); ok {
		tlsCfg.Certificates = []tls.Certificate{*pair}
		how = "its current certificate"
	} else {
		req.Header.Set("Authorization", "Bearer "+j.secret)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("requesting the %s certificate: %w", id.User, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("the server refused %s (401 Unauthorized): use the token in the server's DATA_DIR/%s", how, FileName)
	case resp.StatusCode != http.StatusCreated:
		return fmt.Errorf("requesting the %s certificate: %s: %s", id.User, resp.Status, strings.TrimSpace(statusMessage(body)))
	}
	block, _ := pem.Decode(body)
	if block == nil || block.Type != "CERTIFICATE" {
		return errors.New("the server's answer is not a PEM certificate")
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	certFile, keyFile := j.files(id)
	// The key first: a crash between the two writes leaves a pair that
	// does not match, which current() rejects, so it is asked for again.
	if err := atomicfile.Write(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	if err := atomicfile.Write(certFile, body, 0o644); err != nil {
		return err
	}
	j.log.Info("client certificate issued", "user", id.User, "via", how)
	return nil
}

// statusMessage extracts a Status's message from an error body.
func statusMessage(body []byte) string {
	const k = `"message":"`
	if i := bytes.Index(body, []byte(k)); i >= 0 {
		rest := body[i+len(k):]
		if e := bytes.IndexByte(rest, '"'); e >= 0 {
			return string(rest[:e])
		}
	}
	return string(body)
}

// Renew keeps ids' certificates fresh until ctx ends: each is requested
// again once renewAt of its lifetime has passed (a failure is retried
// every retry, while the old certificate still works).
func (j *Joiner) Renew(ctx context.Context, retry time.Duration, ids ...Identity) error {
	if retry <= 0 {
		retry = time.Minute
	}
	for {
		next := time.Duration(-1)
		for _, id := range ids {
			_, due, ok := j.current(id)
			wait := due.Sub(j.now())
			if !ok || wait <= 0 {
				if err := j.request(ctx, id); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					j.log.Warn("client certificate renewal failed; retrying", "user", id.User, "err", err)
					wait = retry
				} else if _, due, ok = j.current(id); ok {
					wait = due.Sub(j.now())
				} else {
					wait = retry
				}
			}
			if next < 0 || wait < next {
				next = wait
			}
		}
		if next < time.Second {
			next = time.Second
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// AgentCredentials are a node agent's identities: the kubelet's, the
// kube-proxy's and the local-path provisioner's.
type AgentCredentials struct {
	Node, Proxy, Provisioner *rest.Config
	// Identities to pass to Renew.
	Identities []Identity
}

// EnsureAgent ensures the certificates of node's agent (see Ensure).
func (j *Joiner) EnsureAgent(ctx context.Context, node string) (AgentCredentials, error) {
	ids := []Identity{NodeIdentity(node), ProxyIdentity, ProvisionerIdentity}
	cfgs := make([]*rest.Config, len(ids))
	for i, id := range ids {
		cfg, err := j.Ensure(ctx, id)
		if err != nil {
			return AgentCredentials{}, err
		}
		cfgs[i] = cfg
	}
	return AgentCredentials{Node: cfgs[0], Proxy: cfgs[1], Provisioner: cfgs[2], Identities: ids}, nil
}
