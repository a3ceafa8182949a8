// Command k1s is Kubernetes in one binary. Each subcommand runs one
// component or a composition of them; see `k1s help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // CronJob time zones validate on hosts without zoneinfo

	"k8s.io/client-go/tools/clientcmd"

	"github.com/k1s/k1s/internal/controllermanager"
	"github.com/k1s/k1s/internal/server"
	"github.com/k1s/k1s/internal/version"
)

const usage = `k1s: Kubernetes in one binary

Usage: k1s COMMAND [flags]

Commands:
  up          bring up a whole cluster on this machine (--nodes N: more nodes in network namespaces)
  down        stop the cluster k1s up started and remove what it made (--purge: and its data)
  status      show the health of the cluster k1s up started
  demo        deploy examples/my-app on the cluster of k1s up and check what it promises
  server      run the control plane (embedded etcd, api-server, ...) for a data dir
  apiserver   run the api-server alone against an etcd cluster
  controller-manager
              run the controllers alone against an api-server
  scheduler   run the scheduler alone against an api-server
  agent       run a worker node (containerd, kubelet, proxy, pod network) joined to a server
  kubelet     run the kubelet alone against an api-server
  proxy       run kube-proxy (Services on nftables) alone; --cleanup removes its table
  dns         run the cluster DNS (the server deploys it as an add-on)
  ingress     run the Ingress controller (the server deploys it as an add-on)
  simulate    run hollow nodes (in-memory runtime) for scale tests
  image       load image tarballs into a node's containerd
  secrets-encrypt
              rotate|status the keys that encrypt Secrets at rest
  version     print the version

Run 'k1s COMMAND -h' for a command's flags.
`

// dataPath says whether the command serves traffic on the data path
// (the Ingress controller, the DNS): there CPU per request matters more
// than a small heap, so Go's default GC pacing stays.
func dataPath(args []string) bool {
	return len(args) > 0 && (args[0] == "ingress" || args[0] == "dns")
}

func main() {
	if os.Getenv("GOGC") == "" && !dataPath(os.Args[1:]) {
		// A control plane holds little live heap but churns through
		// request buffers; collecting at 25% growth instead of 100% keeps
		// the resident set a fifth smaller for about a tenth more CPU per request
		// (docs/benchmarks.md). GOGC in the environment still wins.
		debug.SetGCPercent(25)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "k1s: "+err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "up":
		return runUp(ctx, args, stdout, stderr)
	case "down":
		return runDown(ctx, args, stdout, stderr)
	case "status":
		return runStatus(ctx, args, stdout, stderr)
	case "demo":
		return runDemo(ctx, args, stdout, stderr)
	case "server":
		return runServer(ctx, cmd, args, stderr, false)
	case "apiserver":
		return runServer(ctx, cmd, args, stderr, true)
	case "controller-manager":
		return runControllerManager(ctx, cmd, args, stderr)
	case "ingress":
		return runIngress(ctx, cmd, args, stderr)
	case "scheduler":
		return runScheduler(ctx, cmd, args, stderr)
	case "agent", "kubelet":
		return runAgent(ctx, cmd, args, stderr)
	case "dns":
		return runDNS(ctx, cmd, args, stderr)
	case "simulate":
		return runSimulate(ctx, cmd, args, stderr)
	case "image":
		return runImage(ctx, args, stdout, stderr)
	case "secrets-encrypt":
		return runSecretsEncrypt(ctx, args, stdout, stderr)
	case "proxy":
		return runProxy(ctx, cmd, args, stderr)
	case "version", "--version":
		v := version.Info()
		fmt.Fprintf(stdout, "k1s %s (%s)\n", v.GitVersion, v.GoVersion)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runServer(ctx context.Context, name string, args []string, stderr io.Writer, apiOnly bool) error {
	fs := flag.NewFlagSet("k1s "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o server.Options
	var etcdServers, logLevel string
	fs.StringVar(&o.DataDir, "data-dir", "/var/lib/k1s", "directory for etcd data, certificates and the admin kubeconfig")
	fs.IntVar(&o.HTTPSPort, "https-listen-port", 6443, "HTTPS port of the api-server")
	fs.StringVar(&o.BindAddress, "bind-address", "127.0.0.1", "address the api-server listens on")
	fs.StringVar(&etcdServers, "etcd-servers", "", "comma-separated URLs of an external etcd cluster (default: embedded etcd in the data dir)")
	fs.StringVar(&o.ServiceCIDR, "service-cidr", "10.43.0.0/16", "range of Service cluster IPs")
	fs.StringVar(&o.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "pod address range; each node gets a /24 of it")
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", "", "address pods and nodes reach the api-server at, and this machine's node address (default: --bind-address, or 127.0.0.1 when that is 0.0.0.0)")
	fs.BoolVar(&o.DisableAgent, "disable-agent", false, "do not run a node agent on this machine")
	fs.Func("disable", "comma-separated add-ons not to install: dns, ingress, local-storage", func(v string) error {
		o.DisableAddons = append(o.DisableAddons, strings.Split(v, ",")...)
		return nil
	})
	fs.IntVar(&o.IngressHTTPPort, "ingress-http-port", 80, "node port the Ingress add-on serves HTTP on")
	fs.IntVar(&o.IngressHTTPSPort, "ingress-https-port", 443, "node port the Ingress add-on serves HTTPS on")
	fs.BoolVar(&o.DisableControllerManager, "disable-controller-manager", false, "do not run the controllers in this process")
	fs.BoolVar(&o.DisableScheduler, "disable-scheduler", false, "do not run the scheduler in this process")
	fs.DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "how long a node may stay silent before it is marked Unknown and tainted unreachable")
	fs.Int64Var(&o.DefaultTolerationSeconds, "default-toleration-seconds", 300, "how long pods without their own toleration stay on a NotReady or unreachable node before they are evicted")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if etcdServers != "" {
		o.EtcdServers = strings.Split(etcdServers, ",")
	}
	if exe, err := os.Executable(); err == nil {
		o.Agent.K1sBinary = exe // the add-ons' image is this binary
	}
	o.Agent.ProxyMetricsAddr = "127.0.0.1:10249"
	if apiOnly {
		if len(o.EtcdServers) == 0 {
			return errors.New("apiserver: --etcd-servers is required")
		}
		o.DisableAgent = true
		o.DisableControllerManager = true
		o.DisableScheduler = true
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	o.Logger = log
	return server.Run(ctx, o)
}

func runControllerManager(ctx context.Context, name string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o controllermanager.Options
	var kubeconfig, logLevel string
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file of the api-server to run against (required)")
	fs.BoolVar(&o.LeaderElect, "leader-elect", true, "run the controllers only while holding the lease kube-system/kube-controller-manager")
	fs.StringVar(&o.Identity, "identity", "", "name of this process in the lease (default HOSTNAME_RANDOM)")
	fs.DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "how long a node may stay silent before it is marked Unknown and tainted unreachable")
	fs.Int64Var(&o.DefaultTolerationSeconds, "default-not-ready-toleration-seconds", 300, "how long pods without their own toleration stay on a not-ready or unreachable node")
	fs.IntVar(&o.TerminatedPodGCThreshold, "terminated-pod-gc-threshold", 12500, "terminated pods kept before the oldest are deleted (<= 0 disables)")
	fs.StringVar(&o.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "pod address range; each node gets a /24 of it")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if kubeconfig == "" {
		return errors.New("controller-manager: --kubeconfig is required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	if o.TerminatedPodGCThreshold <= 0 {
		o.TerminatedPodGCThreshold = -1 // upstream: <= 0 disables
	}
	o.Kubeconfig, o.Logger = cfg, log
	return controllermanager.Run(ctx, o)
}
