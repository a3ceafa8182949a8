package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/k1s/k1s/internal/atomicfile"
)

// File names under DIR/tls.
const (
	CACertFile         = "ca.crt"
	CAKeyFile          = "ca.key"
	ServingCertFile    = "serving.crt"
	ServingKeyFile     = "serving.key"
	AdminCertFile      = "admin.crt"
	AdminKeyFile       = "admin.key"
	ServiceAccountFile = "service-account.key"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore re-issues a leaf certificate this long before it expires.
	renewBefore = 90 * 24 * time.Hour
	// backdate tolerates clocks slightly behind the one that issued.
	backdate = time.Hour

	// AdminUser and AdminGroup identify the admin client certificate; the
	// group is bound to cluster-admin by the default RBAC policy.
	AdminUser  = "system:admin"
	AdminGroup = "system:masters"

	servingCN = "k1s-apiserver"
)

// Options says what the serving certificate must cover beyond the fixed set
// (127.0.0.1, ::1, localhost, the host name, and the in-cluster names
// kubernetes, kubernetes.default, kubernetes.default.svc,
// kubernetes.default.svc.cluster.local).
type Options struct {
	// NodeIPs are this machine's node addresses.
	NodeIPs []net.IP
	// ServiceIP is the first IP of the service range (10.43.0.1), the
	// ClusterIP of the default/kubernetes service.
	ServiceIP net.IP
	// ExtraSANs are more host names or IP addresses (e.g. --tls-san).
	ExtraSANs []string
	// Hostname overrides os.Hostname.
	Hostname string
	// Now is the clock; nil means time.Now. Tests move it forward to
	// exercise renewal.
	Now func() time.Time
}

// Bundle is the loaded PKI. Its byte slices are shared; do not modify them.
type Bundle struct {
	// Dir is DIR/tls.
	Dir string

	CACert    *x509.Certificate
	CACertPEM []byte

	ServingCertPEM, ServingKeyPEM []byte
	AdminCertPEM, AdminKeyPEM     []byte

	// ServiceAccountKey signs service account tokens (ES256).
	ServiceAccountKey crypto.Signer

	// Written lists the files this Ensure created or replaced, in the
	// order written; empty when everything was reused.
	Written []string

	caKey   crypto.Signer
	serving tls.Certificate
	now     func() time.Time
}

// Ensure loads the PKI under dir/tls, creating or re-issuing what is missing,
// stale or no longer matching opts (see the package documentation).
func Ensure(dir string, opts Options) (*Bundle, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("pki: hostname: %w", err)
		}
		opts.Hostname = h
	}
	b := &Bundle{Dir: filepath.Join(dir, "tls"), now: opts.Now}
	if err := os.MkdirAll(b.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if err := b.ensureCA(); err != nil {
		return nil, fmt.Errorf("pki: CA: %w", err)
	}

	dns, ips := servingSANs(opts)
	serving, err := b.ensureLeaf(ServingCertFile, ServingKeyFile, leafSpec{
		subject: pkix.Name{CommonName: servingCN},
		usage:   x509.ExtKeyUsageServerAuth,
		dns:     dns,
		ips:     ips,
	})
	if err != nil {
		return nil, fmt.Errorf("pki: serving certificate: %w", err)
	}
	b.ServingCertPEM, b.ServingKeyPEM = serving.certPEM, serving.keyPEM
	b.serving, err = tls.X509KeyPair(serving.certPEM, serving.keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: serving certificate: %w", err)
	}

	admin, err := b.ensureLeaf(AdminCertFile, AdminKeyFile, leafSpec{
		subject: pkix.Name{CommonName: AdminUser, Organization: []string{AdminGroup}},
		usage:   x509.ExtKeyUsageClientAuth,
	})
	if err != nil {
		return nil, fmt.Errorf("pki: admin certificate: %w", err)
	}
	b.AdminCertPEM, b.AdminKeyPEM = admin.certPEM, admin.keyPEM

	if err := b.ensureServiceAccountKey(); err != nil {
		return nil, fmt.Errorf("pki: service account key: %w", err)
	}
	return b, nil
}

// IssueClientCert returns a new client certificate and key signed by the CA
// for user cn in groups orgs, valid for ttl (capped at the CA's expiry).
// Examples: "system:kube-scheduler"; "system:node:NAME" in "system:nodes".
func (b *Bundle) IssueClientCert(cn string, orgs []string, ttl time.Duration) (certPEM, keyPEM []byte, err error) {
	if cn == "" || ttl <= 0 {
		return nil, nil, fmt.Errorf("pki: client certificate needs a name and a positive ttl")
	}
	pair, err := b.issue(leafSpec{
		subject: pkix.Name{CommonName: cn, Organization: slices.Clone(orgs)},
		usage:   x509.ExtKeyUsageClientAuth,
	}, ttl)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: client certificate %s: %w", cn, err)
	}
	return pair.certPEM, pair.keyPEM, nil
}

// SignClientCSR returns a client certificate for the key and subject
// (CN = user, O = groups) of a checked certificate request, valid for ttl
// (capped at the CA's expiry). The caller decides whether the subject may
// be issued; only CN and O are taken from the request.
func (b *Bundle) SignClientCSR(csr *x509.CertificateRequest, ttl time.Duration) ([]byte, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("pki: certificate request: %w", err)
	}
	if csr.Subject.CommonName == "" || ttl <= 0 {
		return nil, fmt.Errorf("pki: client certificate needs a name and a positive ttl")
	}
	return b.sign(leafSpec{
		subject: pkix.Name{CommonName: csr.Subject.CommonName, Organization: slices.Clone(csr.Subject.Organization)},
		usage:   x509.ExtKeyUsageClientAuth,
	}, csr.PublicKey, ttl)
}

// ServingTLSConfig returns a new TLS configuration for the api-server: it
// serves the serving certificate, verifies client certificates against the CA
// when a client sends one (requests without one go on to other
// authenticators), and offers h2 and http/1.1 over TLS 1.2 or later.
func (b *Bundle) ServingTLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(b.CACert)
	return &tls.Config{
		Certificates: []tls.Certificate{b.serving},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// CertPool returns a pool holding the cluster CA, for clients of the
// api-server.
func (b *Bundle) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(b.CACert)
	return pool
}

func (b *Bundle) path(name string) string { return filepath.Join(b.Dir, name) }

// write replaces one file and records it in Written.
func (b *Bundle) write(name string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(b.path(name), data, perm); err != nil {
		return err
	}
	b.Written = append(b.Written, name)
	return nil
}

func (b *Bundle) ensureCA() error {
	certPEM, err := readFileIfExists(b.path(CACertFile))
	if err != nil {
		return err
	}
	keyPEM, err := readFileIfExists(b.path(CAKeyFile))
	if err != nil {
		return err
	}
	// The key is written before the certificate, so a certificate without
	// a key is not a crash we caused: refuse rather than orphan every
	// credential it signed.
	if certPEM != nil {
		if keyPEM == nil {
			return fmt.Errorf("%s exists but %s does not", CACertFile, CAKeyFile)
		}
		return b.loadCA(certPEM, keyPEM)
	}

	key, err := newKey()
	if err != nil {
		return err
	}
	now := b.now()
	serial, err := newSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("k1s-ca@%d", now.Unix())},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return err
	}
	certPEM = encodeCert(der)
	if err := b.write(CAKeyFile, keyPEM, keyMode); err != nil {
		return err
	}
	if err := b.write(CACertFile, certPEM, certMode); err != nil {
		return err
	}
	return b.loadCA(certPEM, keyPEM)
}

func (b *Bundle) loadCA(certPEM, keyPEM []byte) error {
	cert, err := parseCert(certPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", CACertFile, err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", CAKeyFile, err)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return fmt.Errorf("%s does not match %s", CAKeyFile, CACertFile)
	}
	if !cert.IsCA {
		return fmt.Errorf("%s is not a CA certificate", CACertFile)
	}
	if err := restrictMode(b.path(CAKeyFile)); err != nil {
		return err
	}
	b.CACert, b.CACertPEM, b.caKey = cert, certPEM, key
	return nil
}

func (b *Bundle) ensureServiceAccountKey() error {
	keyPEM, err := readFileIfExists(b.path(ServiceAccountFile))
	if err != nil {
		return err
	}
	if keyPEM == nil {
		key, err := newKey()
		if err != nil {
			return err
		}
		if keyPEM, err = encodeKey(key); err != nil {
			return err
		}
		if err := b.write(ServiceAccountFile, keyPEM, keyMode); err != nil {
			return err
		}
	} else if err := restrictMode(b.path(ServiceAccountFile)); err != nil {
		return err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", ServiceAccountFile, err)
	}
	b.ServiceAccountKey = key
	return nil
}

// leafSpec is what a leaf certificate must say.
type leafSpec struct {
	subject pkix.Name
	usage   x509.ExtKeyUsage
	dns     []string
	ips     []net.IP
}

type pemPair struct{ certPEM, keyPEM []byte }

// ensureLeaf reuses the pair in certFile/keyFile when it still satisfies
// spec, and issues and writes a new one otherwise.
func (b *Bundle) ensureLeaf(certFile, keyFile string, spec leafSpec) (pemPair, error) {
	certPEM, err := readFileIfExists(b.path(certFile))
	if err != nil {
		return pemPair{}, err
	}
	keyPEM, err := readFileIfExists(b.path(keyFile))
	if err != nil {
		return pemPair{}, err
	}
	if certPEM != nil && keyPEM != nil && b.leafUsable(certPEM, keyPEM, spec) {
		return pemPair{certPEM, keyPEM}, restrictMode(b.path(keyFile))
	}
	pair, err := b.issue(spec, leafValidity)
	if err != nil {
		return pemPair{}, err
	}
	// Key first: a crash in between leaves a pair that does not match,
	// which leafUsable rejects next time.
	if err := b.write(keyFile, pair.keyPEM, keyMode); err != nil {
		return pemPair{}, err
	}
	if err := b.write(certFile, pair.certPEM, certMode); err != nil {
		return pemPair{}, err
	}
	return pair, nil
}

// leafUsable reports whether an existing pair can be kept.
func (b *Bundle) leafUsable(certPEM, keyPEM []byte, spec leafSpec) bool {
	cert, err := parseCert(certPEM)
	if err != nil {
		return false
	}
	key, err := parseKey(keyPEM)
	if err != nil || !publicKeysEqual(key.Public(), cert.PublicKey) {
		return false
	}
	if cert.CheckSignatureFrom(b.CACert) != nil {
		return false
	}
	if b.now().Add(renewBefore).After(cert.NotAfter) {
		return false
	}
	if cert.Subject.CommonName != spec.subject.CommonName ||
		!slices.Equal(cert.Subject.Organization, spec.subject.Organization) ||
		!slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{spec.usage}) {
		return false
	}
	return slices.Equal(sortedStrings(cert.DNSNames), sortedStrings(spec.dns)) &&
		slices.Equal(ipStrings(cert.IPAddresses), ipStrings(spec.ips))
}

// issue creates a key and a certificate for spec signed by the CA.
func (b *Bundle) issue(spec leafSpec, ttl time.Duration) (pemPair, error) {
	key, err := newKey()
	if err != nil {
		return pemPair{}, err
	}
	certPEM, err := b.sign(spec, key.Public(), ttl)
	if err != nil {
		return pemPair{}, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return pemPair{}, err
	}
	return pemPair{certPEM: certPEM, keyPEM: keyPEM}, nil
}

// sign returns a certificate for pub, signed by the CA.
func (b *Bundle) sign(spec leafSpec, pub crypto.PublicKey, ttl time.Duration) ([]byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := b.now()
	notAfter := now.Add(ttl)
	if notAfter.After(b.CACert.NotAfter) {
		notAfter = b.CACert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               spec.subject,
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{spec.usage},
		BasicConstraintsValid: true,
		DNSNames:              spec.dns,
		IPAddresses:           spec.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, b.CACert, pub, b.caKey)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return encodeCert(der), nil
}

// servingSANs returns the serving certificate's DNS names and IPs, sorted and
// without duplicates so that the set compares equal across restarts.
func servingSANs(opts Options) (dns []string, ips []net.IP) {
	names := []string{
		"localhost",
		"kubernetes",
		"kubernetes.default",
		"kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local",
	}
	addrs := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	addrs = append(addrs, opts.NodeIPs...)
	if opts.ServiceIP != nil {
		addrs = append(addrs, opts.ServiceIP)
	}
	for _, s := range append([]string{opts.Hostname}, opts.ExtraSANs...) {
		s = strings.TrimSpace(s)
		if ip := net.ParseIP(s); ip != nil {
			addrs = append(addrs, ip)
		} else if validDNSName(s) {
			names = append(names, strings.ToLower(s))
		}
	}

	dns = sortedStrings(names)
	seen := map[string]bool{}
	for _, ip := range addrs {
		if ip == nil {
			continue
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if k := ip.String(); !seen[k] {
			seen[k] = true
			ips = append(ips, ip)
		}
	}
	slices.SortFunc(ips, func(a, b net.IP) int { return strings.Compare(a.String(), b.String()) })
	return dns, ips
}

// validDNSName keeps host names that x509 can carry; a host name with, say,
// an underscore or non-ASCII letters is left out rather than failing start.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
			if !ok {
				return false
			}
		}
	}
	return true
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func ipStrings(ips []net.IP) []string {
	s := make([]string, 0, len(ips))
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return sortedStrings(s)
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	// Zero is not a valid serial.
	return n.Add(n, big.NewInt(1)), nil
}

// restrictMode makes an existing key file 0600 if it has looser bits.
func restrictMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&^keyMode == 0 {
		return nil
	}
	if err := os.Chmod(path, keyMode); err != nil {
		return fmt.Errorf("restrict key mode: %w", err)
	}
	return nil
}
