package apiserver

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/k1s/k1s/internal/nodeauth"
)

// nodeCertPath is where a joining agent exchanges its join token (and later
// its current certificate) for client certificates of its own: the
// kubelet's system:node:NAME in system:nodes, and the per-node components'
// shared identities. The agent sends a PEM certificate request; its private
// key never leaves the node.
const nodeCertPath = "/v1-k1s/client-cert"

// Identities of the per-node components besides the kubelet.
const (
	KubeProxyUser            = "system:kube-proxy"
	LocalPathProvisionerUser = "system:k1s-local-path-provisioner"
)

// defaultNodeCertTTL is how long an agent's certificates last (upstream's
// kubelet client certificates: a year); agents renew them before.
const defaultNodeCertTTL = 365 * 24 * time.Hour

// serveNodeCert signs a client certificate request if the caller may have
// that identity: the join token's holder may have any node's identity (as
// upstream's bootstrap tokens), a node only its own; both may have the
// shared component identities.
func (s *Server) serveNodeCert(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "client-cert"}, r.Method))
		return
	}
	u, ok := UserFrom(r.Context())
	if !ok {
		s.writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
		return
	}
	if s.cfg.ClientCertSigner == nil {
		s.writeError(w, r, apierrors.NewServiceUnavailable("this api-server signs no client certificates"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		s.writeError(w, r, apierrors.NewBadRequest(err.Error()))
		return
	}
	block, _ := pem.Decode(body)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		s.writeError(w, r, apierrors.NewBadRequest("the body is not a PEM CERTIFICATE REQUEST"))
		return
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		s.writeError(w, r, apierrors.NewBadRequest("certificate request: "+err.Error()))
		return
	}
	if err := csr.CheckSignature(); err != nil {
		s.writeError(w, r, apierrors.NewBadRequest("certificate request: "+err.Error()))
		return
	}
	if err := mayHaveIdentity(u, csr.Subject.CommonName, csr.Subject.Organization); err != nil {
		s.writeError(w, r, apierrors.NewForbidden(schema.GroupResource{Resource: "client-cert"}, csr.Subject.CommonName, err))
		return
	}
	ttl := s.cfg.NodeCertTTL
	if ttl <= 0 {
		ttl = defaultNodeCertTTL
	}
	certPEM, err := s.cfg.ClientCertSigner(csr, ttl)
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	s.log.Info("issued client certificate", "to", csr.Subject.CommonName, "groups", csr.Subject.Organization, "requester", u.Name, "ttl", ttl)
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.WriteHeader(http.StatusCreated)
	w.Write(certPEM)
}

// mayHaveIdentity decides whether user u may get a certificate for cn in
// orgs.
func mayHaveIdentity(u User, cn string, orgs []string) error {
	bootstrap := hasGroup(u.Groups, BootstrapGroup)
	node, isNode := nodeauth.NodeIdentity(u.Name, u.Groups)
	if !bootstrap && !isNode && !hasGroup(u.Groups, privilegedGroup) {
		return fmt.Errorf("User %q may not request client certificates: only joining agents (the node token) and nodes may", u.Name)
	}
	switch {
	case cn == KubeProxyUser || cn == LocalPathProvisionerUser:
		if len(orgs) != 0 {
			return fmt.Errorf("%s certificates carry no groups, the request asks for %v", cn, orgs)
		}
		return nil
	case strings.HasPrefix(cn, nodeauth.NodeUserPrefix):
		name := strings.TrimPrefix(cn, nodeauth.NodeUserPrefix)
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			return fmt.Errorf("invalid node name %q: %s", name, strings.Join(msgs, "; "))
		}
		if !slices.Equal(orgs, []string{nodeauth.NodesGroup}) {
			return fmt.Errorf("node certificates are in exactly the group %s, the request asks for %v", nodeauth.NodesGroup, orgs)
		}
		if isNode && !bootstrap && name != node {
			return fmt.Errorf("node %q may not request a certificate for node %q", node, name)
		}
		return nil
	}
	return errors.New("only system:node:NAME, " + KubeProxyUser + " and " + LocalPathProvisionerUser + " certificates are issued here")
}
