package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/k1s/k1s/internal/image"
	"github.com/k1s/k1s/internal/localcluster"
)

func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o localcluster.Options
	fs.StringVar(&o.DataDir, "data-dir", "/var/lib/k1s", "directory of the cluster (a second k1s up here resumes it)")
	fs.IntVar(&o.Nodes, "nodes", 0, "number of nodes: this machine and N-1 more, each in a network namespace (default: as before, or 1)")
	fs.IntVar(&o.IngressHTTPPort, "ingress-http-port", 0, "port every node's Ingress serves HTTP on, here http://127.0.0.1:PORT (default: as before, or 80)")
	fs.IntVar(&o.IngressHTTPSPort, "ingress-https-port", 0, "port every node's Ingress serves HTTPS on (default: as before, or 443)")
	fs.IntVar(&o.APIPort, "api-port", 0, "port of the api-server (default: as before, or 6443)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.Out = stdout
	st, err := localcluster.Up(ctx, o)
	if err != nil {
		return err
	}
	host := "127.0.0.1"
	if st.IngressHTTPPort != 80 {
		host = fmt.Sprintf("127.0.0.1:%d", st.IngressHTTPPort)
	}
	var names []string
	for _, n := range st.Nodes {
		names = append(names, n.Name)
	}
	fmt.Fprintf(stdout, `
The cluster is ready: %d node(s) (%s).

  export KUBECONFIG=%s
  kubectl get nodes -o wide
  kubectl create deployment hello --image=%s -- /k1s dns --listen :5353
  make demo                 # the reference application, through the Ingress at http://%s
  k1s status --data-dir %s
  k1s down --data-dir %s   # --purge also deletes the data
`, len(st.Nodes), strings.Join(names, ", "), st.Kubeconfig, image.SelfImageRef(), host, o.DataDir, o.DataDir)
	return nil
}

func runDown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s down", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o localcluster.DownOptions
	fs.StringVar(&o.DataDir, "data-dir", "/var/lib/k1s", "directory of the cluster")
	fs.BoolVar(&o.Purge, "purge", false, "also delete the data dir (objects, volumes, certificates)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.Out = stdout
	return localcluster.Down(ctx, o)
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "/var/lib/k1s", "directory of the cluster")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return localcluster.Status(ctx, *dataDir, stdout)
}
