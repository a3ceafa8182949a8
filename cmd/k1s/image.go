package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/k1s/k1s/internal/containerd"
	"github.com/k1s/k1s/internal/image"
)

const imageUsage = `Usage: k1s image load [--containerd-address SOCK | --data-dir DIR] FILE.tar...

Loads docker-archive or OCI-layout tarballs (docker save, crane, skopeo,
ko, ...) into the node's containerd, where pods can use them with
imagePullPolicy IfNotPresent or Never. OCI layouts need a full image name
(io.containerd.image.name, or a full org.opencontainers.image.ref.name).
`

// runImage implements `k1s image load`.
func runImage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "load" {
		fmt.Fprint(stderr, imageUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return errors.New("image: the only subcommand is load")
	}
	fs := flag.NewFlagSet("k1s image load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, imageUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	var address, dataDir, namespace string
	fs.StringVar(&address, "containerd-address", "", "containerd socket (default DATA-DIR/containerd/containerd.sock)")
	fs.StringVar(&dataDir, "data-dir", "/var/lib/k1s/agent", "data dir of the node agent whose containerd gets the images (k1s server: DATA_DIR/agent)")
	fs.StringVar(&namespace, "namespace", "k8s.io", "containerd namespace (the CRI's is k8s.io)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("image load: no tarball given")
	}
	if address == "" {
		address = containerd.SocketPath(dataDir)
	}
	for _, file := range fs.Args() {
		if err := image.Load(ctx, address, namespace, file); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "loaded %s\n", file)
	}
	return nil
}
