package k8s

import (
	"bytes"
	_ "embed"
)

//go:embed my-app.yaml
var manifest []byte

// Manifest returns my-app.yaml: every object of the example as one
// multi-document YAML stream, for `kubectl apply -f -`.
func Manifest() []byte { return bytes.Clone(manifest) }
