package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k1s/k1s/internal/ingress"
)

func runIngress(ctx context.Context, name string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o ingress.Options
	var kubeconfig, logLevel, publish string
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file of the api-server (default: in-cluster service account)")
	fs.StringVar(&o.NodeName, "node-name", os.Getenv("NODE_NAME"), "node whose addresses are published in the Ingresses' status (default $NODE_NAME)")
	fs.StringVar(&publish, "publish-addresses", "", "comma-separated addresses to publish in the Ingresses' status instead of the node's")
	fs.StringVar(&o.HTTPAddr, "http-addr", ":80", "address of the HTTP proxy")
	fs.StringVar(&o.HTTPSAddr, "https-addr", ":443", "address of the HTTPS proxy")
	fs.StringVar(&o.HealthAddr, "health-addr", ":10254", "address serving /healthz and /metrics")
	fs.StringVar(&o.ClassName, "ingress-class", ingress.DefaultClassName, "name of the IngressClass to serve")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if publish != "" {
		o.PublishAddresses = strings.Split(publish, ",")
	}
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return fmt.Errorf("ingress: kubeconfig: %w", err)
	}
	cfg.UserAgent = "k1s-ingress"
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("ingress: %w", err)
	}
	o.Client, o.Log = client, log
	c, err := ingress.New(o)
	if err != nil {
		return err
	}
	return c.Run(ctx)
}
