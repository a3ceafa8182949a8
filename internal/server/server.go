// Package server composes the control plane of `k1s server`: etcd
// (embedded unless external endpoints are given), the cluster PKI and
// kubeconfig, and the api-server. Later issues add the scheduler,
// controller-manager and the node agent here.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"

	"github.com/k1s/k1s/internal/addons"
	"github.com/k1s/k1s/internal/apiserver"
	"github.com/k1s/k1s/internal/encryption"
	"github.com/k1s/k1s/internal/etcd"
	"github.com/k1s/k1s/internal/nodetoken"
	"github.com/k1s/k1s/internal/openapi"
	"github.com/k1s/k1s/internal/pki"
	"github.com/k1s/k1s/internal/registry"
	"github.com/k1s/k1s/internal/satoken"
	"github.com/k1s/k1s/internal/scheme"
	"github.com/k1s/k1s/internal/version"
)

// Options configure `k1s server` and `k1s apiserver`.
type Options struct {
	DataDir     string
	BindAddress string // default 127.0.0.1
	HTTPSPort   int    // default 6443; 0 picks a free port (tests)
	// EtcdServers, if set, names an external etcd cluster instead of the
	// embedded member.
	EtcdServers []string
	ServiceCIDR string // default 10.43.0.0/16
	// NodeCertTTL is the lifetime of the client certificates joining
	// agents get for their token (default a year; they renew at 80%).
	NodeCertTTL time.Duration
	// ClusterCIDR is the pod address range (a /24 per node); default
	// 10.42.0.0/16.
	ClusterCIDR string
	// AdvertiseAddress is where pods and nodes reach the api-server: the
	// kubernetes Service's endpoint and this machine's node address.
	// Default: the bind address when it names one interface, else
	// 127.0.0.1 (a loopback-only cluster, whose pods cannot reach the
	// api-server).
	AdvertiseAddress string
	DisableAgent     bool
	// DisableAddons names add-ons (addons.All) not to install.
	DisableAddons []string
	// IngressHTTPPort and IngressHTTPSPort are the node ports the Ingress
	// add-on answers on (default 80 and 443).
	IngressHTTPPort, IngressHTTPSPort int
	// NodeMonitorGracePeriod: how long a node may be silent before it is
	// marked Unknown (0: the controller-manager's default, 40s).
	NodeMonitorGracePeriod time.Duration
	// DefaultTolerationSeconds: how long pods without their own
	// toleration stay on a NotReady or unreachable node before they are
	// evicted (0: upstream's 300).
	DefaultTolerationSeconds int64
	Logger                   *slog.Logger
	// OnReady, if set, is called once the api-server answers, with the
	// admin kubeconfig path.
	OnReady func(kubeconfig string)

	// DisableControllerManager runs no controllers in this process.
	DisableControllerManager bool
	// DisableScheduler runs no scheduler in this process.
	DisableScheduler bool
	// NodeName names this machine's node (default: the hostname).
	NodeName string
	// Agent configures this machine's node agent (unless DisableAgent);
	// its data dir defaults to DATA_DIR/agent.
	Agent AgentOptions
}

func (o *Options) defaults() error {
	if o.DataDir == "" {
		return errors.New("--data-dir is required")
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	o.DataDir = abs
	if o.BindAddress == "" {
		o.BindAddress = "127.0.0.1"
	}
	if o.ServiceCIDR == "" {
		o.ServiceCIDR = "10.43.0.0/16"
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = "10.42.0.0/16"
	}
	if o.AdvertiseAddress == "" {
		o.AdvertiseAddress = kubeconfigHost(o.BindAddress)
	}
	if ip := net.ParseIP(o.AdvertiseAddress); ip == nil || ip.IsUnspecified() {
		return fmt.Errorf("--advertise-address %q is not the address of an interface", o.AdvertiseAddress)
	}
	if _, err := netip.ParsePrefix(o.ClusterCIDR); err != nil {
		return fmt.Errorf("--cluster-cidr: %w", err)
	}
	for _, a := range o.DisableAddons {
		if !slices.Contains(addons.All, a) {
			return fmt.Errorf("--disable %q: not an add-on (they are %s)", a, strings.Join(addons.All, ", "))
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if net.ParseIP(o.BindAddress) == nil {
		return fmt.Errorf("--bind-address %q is not an IP address", o.BindAddress)
	}
	if o.HTTPSPort < 0 || o.HTTPSPort > 65535 {
		return fmt.Errorf("--https-listen-port %d is out of range", o.HTTPSPort)
	}
	return nil
}

// KubeconfigPath is where the admin kubeconfig of a data dir lives.
func KubeconfigPath(dataDir string) string { return filepath.Join(dataDir, "kubeconfig.yaml") }

// Run starts everything and blocks until ctx ends or a component fails.
func Run(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	start := time.Now()
	log := o.Logger
	serviceCIDR, err := netip.ParsePrefix(o.ServiceCIDR)
	if err != nil {
		return fmt.Errorf("--service-cidr: %w", err)
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	bundle, err := pki.Ensure(o.DataDir, pki.Options{
		NodeIPs:   []net.IP{net.ParseIP(o.BindAddress), net.ParseIP(o.AdvertiseAddress)},
		ServiceIP: firstIP(serviceCIDR),
	})
	if err != nil {
		return fmt.Errorf("cluster certificates: %w", err)
	}

	token, err := nodetoken.Ensure(o.DataDir, bundle.CACertPEM)
	if err != nil {
		return fmt.Errorf("node token: %w", err)
	}

	g, ctx := errgroup.WithContext(ctx)
	var client *clientv3.Client
	if len(o.EtcdServers) > 0 {
		client, err = clientv3.New(clientv3.Config{Endpoints: o.EtcdServers, DialTimeout: 5 * time.Second, Logger: quietZap()})
		if err != nil {
			return fmt.Errorf("connecting to etcd %v: %w", o.EtcdServers, err)
		}
		defer client.Close()
	} else {
		// A unix socket in the data dir: etcd has no authentication, so
		// only root (the data dir is 0700) may reach it.
		// only root (the data dir is 0700) may reach it. Socket paths are
		// limited to 108 bytes; deep data dirs fall back to loopback TCP.
		clientURL := "unix://" + filepath.Join(o.DataDir, "etcd.sock")
		if len(clientURL) > 100 {
			clientURL = ""
		}
		member := etcd.New(etcd.Config{DataDir: o.DataDir, ClientURL: clientURL, Logger: log.With("component", "etcd")})
		g.Go(func() error { return member.Run(ctx) })
		select {
		case <-member.Ready():
		case <-ctx.Done():
			return g.Wait()
		}
		client = member.Client()
		log.Info("etcd ready", "endpoints", member.Endpoints(), "after", time.Since(start).Round(time.Millisecond))
	}

	addr := net.JoinHostPort(o.BindAddress, strconv.Itoa(o.HTTPSPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	sch := scheme.New()
	var api *apiserver.Server
	resources := registry.All(registry.Options{
		ServiceCIDR: serviceCIDR,
		ListServices: func(ctx context.Context) ([]corev1.Service, error) {
			return api.ListServices(ctx)
		},
	})
	oa, err := openapi.New(resources, sch)
	if err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	kubeletClientCert, kubeletClientKey, err := bundle.IssueClientCert("kube-apiserver-kubelet-client", []string{pki.AdminGroup}, 365*24*time.Hour)
	if err != nil {
		ln.Close()
		return fmt.Errorf("kubelet client certificate: %w", err)
	}
	kubeletClientPair, err := tls.X509KeyPair(kubeletClientCert, kubeletClientKey)
	if err != nil {
		ln.Close()
		return fmt.Errorf("kubelet client certificate: %w", err)
	}
	secrets, err := encryption.Load(EncryptionKeysPath(o.DataDir))
	if err != nil {
		ln.Close()
		return err
	}
	issuer, err := satoken.NewIssuer(ServiceAccountIssuer, bundle.ServiceAccountKey)
	if err != nil {
		ln.Close()
		return err
	}
	api, err = apiserver.New(apiserver.Config{
		Etcd: client, Resources: resources, Scheme: sch, OpenAPI: oa,
		Listener: ln, TLS: bundle.ServingTLSConfig(), Logger: log.With("component", "apiserver"),
		Version:              version.Info(),
		KubeletClientTLS:     &tls.Config{Certificates: []tls.Certificate{kubeletClientPair}, MinVersion: tls.VersionTLS12},
		NodeToken:            nodetoken.Secret(token),
		CACertPEM:            bundle.CACertPEM,
		ServiceAccountIssuer: issuer,
		SecretTransformer:    secrets,
		ClientCertSigner:     bundle.SignClientCSR,
		NodeCertTTL:          o.NodeCertTTL,
		KubernetesService: &apiserver.KubernetesService{
			ClusterIP: firstIP(serviceCIDR).String(),
			Address:   o.AdvertiseAddress,
			Port:      ln.Addr().(*net.TCPAddr).Port,
		},
	})
	if err != nil {
		ln.Close()
		return err
	}
	url := "https://" + net.JoinHostPort(kubeconfigHost(o.BindAddress), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	kubeconfig := KubeconfigPath(o.DataDir)
	if err := pki.WriteKubeconfig(kubeconfig, url, bundle.CACertPEM, bundle.AdminCertPEM, bundle.AdminKeyPEM, "admin"); err != nil {
		ln.Close()
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	g.Go(func() error { return api.Run(ctx) })
	g.Go(func() error {
		keepSecretsEncrypted(ctx, secrets, client, log.With("component", "encryption"))
		return nil
	})
	// Warm the OpenAPI documents before kubectl asks, once the start's
	// rush (the node, its pods) is over: building them costs a tenth of
	// a second of CPU. A client asking earlier builds them itself.
	openAPIWarm := time.AfterFunc(3*time.Second, func() { oa.Build() })
	defer openAPIWarm.Stop()
	g.Go(func() error {
		if err := api.WaitReady(ctx); err != nil {
			return nil
		}
		log.Info("k1s server ready", "url", url, "kubeconfig", kubeconfig, "after", time.Since(start).Round(time.Millisecond))
		if o.OnReady != nil {
			o.OnReady(kubeconfig)
		}
		return nil
	})
	if !o.DisableScheduler {
		g.Go(func() error {
			if err := api.WaitReady(ctx); err != nil {
				return nil
			}
			return runScheduler(ctx, o, bundle, url)
		})
	}
	if !o.DisableControllerManager {
		g.Go(func() error {
			if err := api.WaitReady(ctx); err != nil {
				return nil
			}
			return runControllerManager(ctx, o, bundle, url)
		})
	}
	g.Go(func() error {
		if err := api.WaitReady(ctx); err != nil {
			return nil
		}
		installAddons(ctx, o, bundle, url, serviceCIDR)
		return nil
	})
	if !o.DisableAgent {
		g.Go(func() error {
			// The agent starts its containerd at once, while the
			// api-server starts, and waits for the api-server after.
			// A node that cannot run (no containerd, say) must not take
			// the control plane down with it.
			if err := runAgent(ctx, o, bundle, url, api.WaitReady); err != nil && ctx.Err() == nil {
				log.Error("the node agent stopped; the control plane keeps running (--disable-agent skips the agent)", "err", err)
			}
			return nil
		})
	}
	return g.Wait()
}

// EncryptionKeysPath is the key file Secrets are encrypted at rest with.
func EncryptionKeysPath(dataDir string) string { return filepath.Join(dataDir, "encryption.json") }

// keepSecretsEncrypted re-encrypts every Secret stored in plain text or
// under an older key: at start (Secrets written before encryption was on)
// and whenever the key file's primary key changes (`k1s secrets-encrypt
// rotate`), which it checks every few seconds.
func keepSecretsEncrypted(ctx context.Context, t *encryption.Transformer, client *clientv3.Client, log *slog.Logger) {
	const secretsPrefix = "/registry/core/secrets/"
	pending := true
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for {
		if changed, err := t.Reload(); err != nil {
			log.Error("reading the encryption keys; keeping the current ones", "err", err)
		} else if changed {
			log.Info("new primary encryption key", "key", t.Primary())
			pending = true
		}
		if pending {
			n, err := t.Reencrypt(ctx, client, secretsPrefix)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("re-encrypting secrets; will retry", "err", err, "done", n)
			case err == nil:
				pending = false
				if n > 0 {
					log.Info("secrets re-encrypted", "key", t.Primary(), "secrets", n)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ServiceAccountIssuer names the cluster's service account tokens (their
// "iss" and default audience), upstream's usual value.
const ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// clusterDNS is the cluster DNS Service's address: the tenth of the
// service range, as upstream's convention (10.43.0.10 by default).
func clusterDNS(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	for range 10 {
		a = a.Next()
	}
	return a
}

// kubeconfigHost is the host clients dial for a bind address.
func kubeconfigHost(bind string) string {
	ip := net.ParseIP(bind)
	if ip == nil || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return bind
}

// firstIP returns the first usable address of a prefix (the kubernetes Service IP).
func firstIP(p netip.Prefix) net.IP {
	return net.IP(p.Masked().Addr().Next().AsSlice())
}
