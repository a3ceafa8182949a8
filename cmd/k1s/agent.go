package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k1s/k1s/internal/agent"
	"github.com/k1s/k1s/internal/hollow"
	"github.com/k1s/k1s/internal/nodetoken"
)

// nodeFlags are the connection flags of agent, kubelet and simulate.
type nodeFlags struct {
	server, token, kubeconfig, logLevel string
}

func (f *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", "", "URL of the k1s server (https://HOST:PORT)")
	fs.StringVar(&f.token, "token", "", "join token: the server's DATA_DIR/node-token")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file instead of --server/--token")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
}

func (f *nodeFlags) config(ctx context.Context) (*rest.Config, error) {
	switch {
	case f.kubeconfig != "":
		cfg, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig: %w", err)
		}
		return cfg, nil
	case f.server != "" && f.token != "":
		return nil, errors.New("the join token only gets an agent its own certificates: use --kubeconfig with an admin's kubeconfig")
	}
	return nil, errors.New("--server and --token (or --kubeconfig) are required")
}

func runAgent(ctx context.Context, name string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf nodeFlags
	nf.register(fs)
	var o agent.Options
	var clusterDNS string
	fs.StringVar(&o.NodeName, "node-name", "", "name of this node (default: the hostname)")
	fs.StringVar(&o.DataDir, "data-dir", "/var/lib/k1s/agent", "directory for containerd's and the kubelet's state")
	fs.StringVar(&o.ContainerRuntimeEndpoint, "container-runtime-endpoint", "", "CRI socket (unix:///...) of a running runtime (default: start a private containerd)")
	fs.StringVar(&o.NodeIP, "node-ip", "", "address of this node (default: the first non-loopback address)")
	fs.IntVar(&o.KubeletPort, "kubelet-port", 10250, "HTTPS port of the kubelet (logs, exec, port-forward)")
	fs.StringVar(&o.PodCIDR, "pod-cidr", "", "pod address range of this node (default: allocated by the controller-manager)")
	fs.StringVar(&o.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "pod address range of the whole cluster; pod traffic leaving it is masqueraded")
	fs.StringVar(&clusterDNS, "cluster-dns", "10.43.0.10", "comma-separated DNS server IPs for pods with dnsPolicy ClusterFirst (the server's: the tenth address of its --service-cidr)")
	fs.StringVar(&o.CgroupRoot, "cgroup-root", "/k1s", "cgroupfs parent of the pods' cgroups")
	fs.StringVar(&o.ProxyMetricsAddr, "proxy-metrics-addr", "127.0.0.1:10249", "where the proxy serves /metrics and /healthz (empty: nowhere)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if name == "kubelet" && nf.kubeconfig == "" {
		return errors.New("kubelet: --kubeconfig is required")
	}
	o.DisableProxy = name == "kubelet"
	if clusterDNS != "" {
		o.ClusterDNS = strings.Split(clusterDNS, ",")
	}
	log, err := newLogger(stderr, nf.logLevel)
	if err != nil {
		return err
	}
	o.Log = log
	if exe, err := os.Executable(); err == nil {
		o.K1sBinary = exe
	}
	if nf.kubeconfig != "" || nf.server == "" || nf.token == "" {
		if o.Config, err = nf.config(ctx); err != nil {
			return err
		}
		return agent.Run(ctx, o)
	}
	// Joining with the token: the token buys this node its own
	// certificates, which are renewed while the agent runs.
	if o.NodeName == "" {
		if o.NodeName, err = os.Hostname(); err != nil {
			return fmt.Errorf("--node-name not given and no hostname: %w", err)
		}
	}
	j, err := nodetoken.Join(ctx, nodetoken.JoinOptions{Server: nf.server, Token: nf.token,
		Dir: filepath.Join(o.DataDir, "pki"), Log: log.With("component", "join")})
	if err != nil {
		return err
	}
	creds, err := j.EnsureAgent(ctx, o.NodeName)
	if err != nil {
		return err
	}
	o.Config, o.ProxyConfig, o.ProvisionerConfig = creds.Node, creds.Proxy, creds.Provisioner
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return j.Renew(ctx, time.Minute, creds.Identities...) })
	g.Go(func() error { return agent.Run(ctx, o) })
	return g.Wait()
}

func runSimulate(ctx context.Context, name string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf nodeFlags
	nf.register(fs)
	var o hollow.Options
	fs.IntVar(&o.Nodes, "nodes", 10, "number of hollow nodes")
	fs.StringVar(&o.NamePrefix, "name-prefix", "hollow", "nodes are named PREFIX-0, PREFIX-1, ...")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.Nodes <= 0 {
		return fmt.Errorf("--nodes %d: want at least 1", o.Nodes)
	}
	log, err := newLogger(stderr, nf.logLevel)
	if err != nil {
		return err
	}
	cfg, err := nf.config(ctx)
	if err != nil {
		return err
	}
	o.Config, o.Log = cfg, log
	return hollow.Run(ctx, o)
}
