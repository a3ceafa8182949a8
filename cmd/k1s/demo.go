package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/k1s/k1s/internal/demo"
)

const demoUsage = `Usage: k1s demo [--data-dir DIR] [--module-dir DIR] [--namespace NS]

Deploys the reference application (examples/my-app: a web service with two
replicas behind an Ingress, a database on a persistent volume) on the
cluster 'k1s up' made in DIR, and shows step by step that both replicas
answer, a write survives the database pod's deletion, deleting an app pod
loses no request, a ConfigMap change rolls out without new images and,
with 3 nodes or more, a stopped node's pods move to the others. Needs
root, the k1s source tree (the images are built from it with go) and
kubectl. Running it again on the same cluster works.
`

// runDemo implements `k1s demo`.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("k1s demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, demoUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	var o demo.Options
	fs.StringVar(&o.DataDir, "data-dir", "/var/lib/k1s", "data dir of the cluster (k1s up --data-dir)")
	fs.StringVar(&o.ModuleDir, "module-dir", ".", "the k1s source tree, whose examples/my-app the images are built from")
	fs.StringVar(&o.Namespace, "namespace", "my-app", "namespace to deploy the application in")
	fs.StringVar(&o.GoBinary, "go", "go", "go command that builds the images")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	o.Out = stdout
	err := demo.Run(ctx, o)
	if err == nil {
		return nil
	}
	// The error is one line; what follows it (a build's output, k1s up's
	// last lines) goes to stderr.
	msg := err.Error()
	first, rest, found := strings.Cut(msg, "\n")
	if !found {
		return err
	}
	fmt.Fprintln(stderr, strings.TrimRight(rest, "\n"))
	return errors.New(first)
}
