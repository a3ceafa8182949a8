package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/k1s/k1s/internal/encryption"
	"github.com/k1s/k1s/internal/server"
)

// runSecretsEncrypt is `k1s secrets-encrypt rotate|status`: the keys that
// encrypt Secrets at rest, in the server's data dir.
func runSecretsEncrypt(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "status") {
		return errors.New("usage: k1s secrets-encrypt rotate|status [--data-dir /var/lib/k1s]")
	}
	fs := flag.NewFlagSet("k1s secrets-encrypt "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "/var/lib/k1s", "the server's data dir")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	path := server.EncryptionKeysPath(*dataDir)
	switch args[0] {
	case "rotate":
		name, err := encryption.Rotate(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is the new primary key in %s; a running server re-encrypts every Secret with it within seconds (older keys stay, for reading)\n", name, path)
	case "status":
		names, err := encryption.KeyNames(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "primary: %s\nkeys: %v\nfile: %s\n", names[0], names, path)
	}
	return nil
}
