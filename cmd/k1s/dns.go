package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k1s/k1s/internal/dns"
)

func runDNS(ctx context.Context, name string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o dns.Options
	var kubeconfig, upstreams, logLevel string
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file of the api-server to run against (default: the pod's in-cluster config)")
	fs.StringVar(&o.Listen, "listen", ":53", "UDP and TCP address to serve DNS on")
	fs.StringVar(&o.HealthAddr, "health-addr", ":8080", "HTTP address of /healthz, /readyz and /metrics (empty: none)")
	fs.StringVar(&o.Domain, "domain", "cluster.local", "cluster domain")
	fs.StringVar(&upstreams, "upstream", "", "comma-separated resolvers (IP or IP:port) for other names (default: the nameservers of /etc/resolv.conf)")
	fs.DurationVar(&o.TTL, "ttl", 5*time.Second, "TTL of cluster answers")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		if cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
			return fmt.Errorf("--kubeconfig: %w", err)
		}
	} else if cfg, err = rest.InClusterConfig(); err != nil {
		return fmt.Errorf("no --kubeconfig and not in a pod: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	if upstreams != "" {
		o.Upstreams = strings.Split(upstreams, ",")
	}
	o.Client, o.Log = client, log
	s, err := dns.New(o)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
