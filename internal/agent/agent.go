package agent

import (
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
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/containerd"
	"github.com/k1s/k1s/internal/controller/eventrecorder"
	"github.com/k1s/k1s/internal/image"
	"github.com/k1s/k1s/internal/kubelet"
	"github.com/k1s/k1s/internal/kubelet/kubeletserver"
	"github.com/k1s/k1s/internal/localpath"
	"github.com/k1s/k1s/internal/podnetwork"
	"github.com/k1s/k1s/internal/proxy"
	"github.com/k1s/k1s/internal/runtime/cri"
)

// Options configure a node agent.
type Options struct {
	// Config reaches the api-server with the node's identity
	// (system:node:NAME). Required.
	Config *rest.Config
	// ProxyConfig and ProvisionerConfig are the kube-proxy's
	// (system:kube-proxy) and the local-path provisioner's identities;
	// default Config.
	ProxyConfig, ProvisionerConfig *rest.Config
	NodeName                       string // default: the hostname
	// DataDir holds containerd's and the kubelet's state. Default
	// /var/lib/k1s/agent.
	DataDir string
	// ContainerRuntimeEndpoint, if set (unix:///...), is used instead of
	// a private containerd child.
	ContainerRuntimeEndpoint string
	// NodeIP is the address advertised and served on; default: the first
	// non-loopback address.
	NodeIP string
	// KubeletPort is the kubelet's HTTPS port (default 10250; -1 picks a
	// free one, for tests and several nodes on one host).
	KubeletPort int
	// PodCIDR, if set, is this node's pod range; otherwise the node's
	// spec.podCIDR (allocated by the controller-manager) is used.
	PodCIDR string
	// NetNSPath runs containerd in that network namespace (extra nodes
	// on one machine).
	NetNSPath string
	// ClusterCIDR holds every node's pod range (default 10.42.0.0/16):
	// traffic from pods to outside it is masqueraded.
	ClusterCIDR string
	ClusterDNS  []string
	// CgroupRoot is the cgroupfs parent of pod cgroups (default /k1s).
	CgroupRoot string
	// BridgeName is the pods' Linux bridge (default k1s0).
	BridgeName string
	// DisableProxy runs no kube-proxy (`k1s kubelet`: the kubelet alone).
	DisableProxy bool
	// ProxyMetricsAddr, if set, is where the proxy serves /metrics and
	// /healthz (upstream's 127.0.0.1:10249).
	ProxyMetricsAddr string
	// K1sBinary, if set, is a static k1s executable whose image
	// (image.SelfImageRef, the add-ons' image) the agent loads into its
	// containerd; pods of that image wait for the load, not a pull.
	K1sBinary string
	Log       *slog.Logger
	// OnReady, if set, is called once the node is registered.
	OnReady func()
	// WaitAPI, if set, blocks until the api-server answers (or fails
	// when ctx ends): the agent starts its containerd and loads the
	// image meanwhile, and talks to the api-server only after it.
	WaitAPI func(ctx context.Context) error
}

func (o *Options) defaults() error {
	if o.Config == nil {
		return errors.New("agent: no api-server configuration")
	}
	if o.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("agent: --node-name not given and no hostname: %w", err)
		}
		o.NodeName = h
	}
	if o.DataDir == "" {
		o.DataDir = "/var/lib/k1s/agent"
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return err
	}
	o.DataDir = abs
	if o.KubeletPort == 0 {
		o.KubeletPort = 10250
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = "10.42.0.0/16"
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

// newClient is a clientset with upstream kubelet's defaults (kubeAPIQPS
// 50, burst 100: status writes and events of a burst of pods must not
// queue behind client-go's default 5 QPS) and protobuf, cheaper for both
// ends than JSON.
func newClient(c *rest.Config) (*kubernetes.Clientset, error) {
	cfg := rest.CopyConfig(c)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return kubernetes.NewForConfig(cfg)
}

// Run runs the node until ctx ends.
func Run(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	log := o.Log
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	// stop ends what runs already (containerd) after a failure.
	stop := func(err error) error {
		cancel()
		return errors.Join(err, g.Wait())
	}
	// The runtime first: containerd and the add-ons' image take longest,
	// and need no api-server.
	endpoint := o.ContainerRuntimeEndpoint
	var ctrd *containerd.Containerd
	// selfImageLoaded closes once the add-ons' image is loaded (or failed
	// to): the kubelet starts meanwhile and its pods wait for it.
	var selfImageLoaded chan struct{}
	if endpoint == "" {
		var selfImage *image.SelfImageLoad
		if o.K1sBinary != "" {
			selfImage = image.PrepareSelfImage(o.K1sBinary, o.DataDir)
		}
		var err error
		ctrd, err = containerd.New(containerd.Options{
			DataDir: o.DataDir, PodCIDR: o.PodCIDR, BridgeName: o.BridgeName,
			StreamAddress: streamAddress(o.NodeIP), NetNSPath: o.NetNSPath,
			Log: log.With("component", "containerd"),
		})
		if err != nil {
			selfImage.Close()
			return stop(err)
		}
		g.Go(func() error { return ctrd.Run(ctx) })
		if err := ctrd.WaitReady(ctx); err != nil {
			selfImage.Close()
			return stop(fmt.Errorf("containerd: %w", err))
		}
		endpoint = ctrd.Endpoint()
		if selfImage != nil {
			selfImageLoaded = make(chan struct{})
			g.Go(func() error {
				defer close(selfImageLoaded)
				loadSelfImage(ctx, selfImage, ctrd, log)
				return nil
			})
		}
	}
	if o.WaitAPI != nil {
		if err := o.WaitAPI(ctx); err != nil {
			return stop(err)
		}
	}
	// Upstream kubelet's defaults (kubeAPIQPS 50, burst 100): status
	// writes and events of a burst of pods must not queue behind
	// client-go's default 5 QPS.
	client, err := newClient(o.Config)
	if err != nil {
		return stop(err)
	}
	proxyClient, provisionerClient := client, client
	if o.ProxyConfig != nil {
		if proxyClient, err = newClient(o.ProxyConfig); err != nil {
			return stop(err)
		}
	}
	if o.ProvisionerConfig != nil {
		if provisionerClient, err = newClient(o.ProvisionerConfig); err != nil {
			return stop(err)
		}
	}
	// Our own containerd means our own pod network: routes to the other
	// nodes' pods and egress masquerade, in the pods' network namespace.
	var podNet *podnetwork.Network
	if o.ContainerRuntimeEndpoint == "" {
		podNet, err = podnetwork.New(podnetwork.Options{
			Client: client, NodeName: o.NodeName, ClusterCIDR: o.ClusterCIDR,
			NetNSPath: o.NetNSPath, Log: log.With("component", "podnetwork"),
		})
		if err != nil {
			return stop(err)
		}
	}
	var proxier *proxy.Proxier
	if !o.DisableProxy {
		// Bridged pod-to-pod replies must pass the IP hooks, or a reply
		// from a Service's endpoint on the same bridge skips its un-DNAT.
		// (A NetNSPath node's setting is its namespace's, not ours.)
		if o.NetNSPath == "" {
			if err := os.WriteFile("/proc/sys/net/bridge/bridge-nf-call-iptables", []byte("1"), 0o644); err != nil {
				log.Warn("cannot enable bridge-nf-call-iptables: pods may not reach Services whose endpoints share their node", "err", err)
			}
		}
		proxier, err = proxy.New(proxy.Options{
			Client: proxyClient, NodeName: o.NodeName, ClusterCIDR: o.ClusterCIDR,
			MetricsAddr: o.ProxyMetricsAddr, NetNSPath: o.NetNSPath, Log: log.With("component", "proxy"),
		})
		if err != nil {
			return stop(err)
		}
	}
	// Local-path volumes live on this node's disk: this node provisions them.
	storage, err := localpath.New(localpath.Options{
		Client: provisionerClient, NodeName: o.NodeName, Dir: filepath.Join(o.DataDir, "storage"),
		Log: log.With("component", "local-path"),
	})
	if err != nil {
		return stop(err)
	}
	rt, err := cri.New(endpoint)
	if err != nil {
		return stop(err)
	}
	defer rt.Close()

	nodeIP := o.NodeIP
	bind := nodeIP
	if bind == "" {
		bind = "0.0.0.0"
	}
	port := o.KubeletPort
	if port < 0 {
		port = 0
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(bind, strconv.Itoa(port)))
	if err != nil {
		return stop(fmt.Errorf("kubelet server: %w", err))
	}
	events, recorder := eventrecorder.New(ctx, client.CoreV1(), log, "kubelet")
	defer events.Shutdown()
	var onCIDR func(string)
	if ctrd != nil {
		onCIDR = func(cidr string) {
			if err := ctrd.SetPodCIDR(cidr); err != nil {
				log.Error("writing CNI configuration", "cidr", cidr, "err", err)
			}
		}
	}
	kl, err := kubelet.New(kubelet.Options{
		NodeName: o.NodeName, Client: client, Runtime: rt,
		RootDir: filepath.Join(o.DataDir, "kubelet"), NodeIP: nodeIP,
		Port: ln.Addr().(*net.TCPAddr).Port, PodCIDR: o.PodCIDR,
		ClusterDNS: o.ClusterDNS, Recorder: recorder, OnPodCIDR: onCIDR, CgroupRoot: o.CgroupRoot,
		WaitLocalImage: func(ctx context.Context, ref string) error {
			if selfImageLoaded == nil || ref != image.SelfImageRef() {
				return nil
			}
			select {
			case <-selfImageLoaded:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		Log: log.With("component", "kubelet"),
	})
	if err != nil {
		ln.Close()
		return stop(err)
	}
	tlsCfg, err := servingTLS(filepath.Join(o.DataDir, "kubelet"), o.NodeName, nodeIP)
	if err != nil {
		ln.Close()
		return stop(err)
	}
	srvOpts := kubeletserver.Options{Pods: kl, Runtime: rt, TLS: tlsCfg, Log: log.With("component", "kubelet-server")}
	if len(o.Config.CAData) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(o.Config.CAData)
		srvOpts.ClientCAs = pool
	}
	srv, err := kubeletserver.New(srvOpts)
	if err != nil {
		ln.Close()
		return stop(err)
	}
	if podNet != nil {
		g.Go(func() error { return podNet.Run(ctx) })
	}
	if proxier != nil {
		g.Go(func() error { return proxier.Run(ctx) })
	}
	g.Go(func() error { return storage.Run(ctx) })
	g.Go(func() error { return srv.Serve(ctx, ln) })
	g.Go(func() error { return kl.Run(ctx) })
	g.Go(func() error {
		select {
		case <-kl.Ready():
			log.Info("node ready", "node", o.NodeName, "runtime", endpoint)
			if o.OnReady != nil {
				o.OnReady()
			}
		case <-ctx.Done():
		}
		return nil
	})
	return g.Wait()
}

// loadSelfImage loads the k1s image into the node's containerd. Without
// it only the add-ons cannot start, so a failure is logged, not fatal.
func loadSelfImage(ctx context.Context, l *image.SelfImageLoad, ctrd *containerd.Containerd, log *slog.Logger) {
	start := time.Now()
	rt, err := cri.New(ctrd.Endpoint())
	if err != nil {
		l.Close()
		log.Warn("cannot load the k1s image: the add-ons will not start on this node", "err", err)
		return
	}
	defer rt.Close()
	present := func(ctx context.Context, ref string) (bool, error) {
		st, err := rt.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: ref})
		if err != nil {
			return false, err
		}
		return st != nil, nil
	}
	if err := l.Load(ctx, ctrd.Address(), present); err != nil {
		log.Warn("cannot load the k1s image: the add-ons will not start on this node", "err", err)
		return
	}
	log.Info("k1s image ready", "image", image.SelfImageRef(), "after", time.Since(start).Round(time.Millisecond))
}

func streamAddress(nodeIP string) string {
	if nodeIP == "" {
		return "127.0.0.1"
	}
	return nodeIP
}

// servingTLS loads or creates the kubelet's self-signed serving
// certificate. The api-server does not verify it (upstream's default
// without --kubelet-certificate-authority).
func servingTLS(dir, nodeName, nodeIP string) (*tls.Config, error) {
	certFile, keyFile := filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key")
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		if leaf, err := x509.ParseCertificate(pair.Certificate[0]); err == nil && time.Until(leaf.NotAfter) > 24*time.Hour {
			return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeName + "@kubelet"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{nodeName, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if ip := net.ParseIP(nodeIP); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}
