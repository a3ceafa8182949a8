// Package rootcacert is upstream's root-ca-cert-publisher: every active
// namespace has the ConfigMap kube-root-ca.crt whose key ca.crt holds the
// cluster's CA bundle, so that pods can verify the api-server (their
// kube-api-access volume projects it). A changed or deleted ConfigMap is
// put back.
package rootcacert
