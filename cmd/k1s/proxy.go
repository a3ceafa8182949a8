package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k1s/k1s/internal/proxy"
)

func runProxy(ctx context.Context, name string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o proxy.Options
	var kubeconfig, logLevel string
	var cleanup bool
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file of the api-server to run against (required)")
	fs.StringVar(&o.NodeName, "node-name", "", "name of this node (default: the hostname)")
	fs.StringVar(&o.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "pod address range; service traffic from outside it is masqueraded")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", "127.0.0.1:10249", "address serving /metrics and /healthz (empty: none)")
	fs.DurationVar(&o.ResyncPeriod, "resync-period", 0, "how often the whole nftables table is rewritten (default 15m)")
	fs.BoolVar(&cleanup, "cleanup", false, "delete the proxy's nftables table and exit")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cleanup {
		return proxy.Cleanup("")
	}
	if kubeconfig == "" {
		return errors.New("proxy: --kubeconfig is required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if o.NodeName == "" {
		if o.NodeName, err = os.Hostname(); err != nil {
			return fmt.Errorf("--node-name: %w", err)
		}
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	o.Client, o.Log = client, log
	p, err := proxy.New(o)
	if err != nil {
		return err
	}
	return p.Run(ctx)
}
