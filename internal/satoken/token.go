package satoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Ref names a Kubernetes object a token refers to.
type Ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// KubernetesClaims is upstream's private "kubernetes.io" claim.
type KubernetesClaims struct {
	Namespace      string `json:"namespace"`
	ServiceAccount Ref    `json:"serviceaccount"`
	Pod            *Ref   `json:"pod,omitempty"`
	Secret         *Ref   `json:"secret,omitempty"`
	Node           *Ref   `json:"node,omitempty"`
	// WarnAfter is set on tokens whose lifetime was extended past what
	// was asked for (upstream's extended expiration); unused here.
	WarnAfter int64 `json:"warnafter,omitempty"`
}

// Claims are a token's claims.
type Claims struct {
	Issuer     string           `json:"iss"`
	Subject    string           `json:"sub"`
	Audience   []string         `json:"aud"`
	Expiry     int64            `json:"exp"`
	IssuedAt   int64            `json:"iat"`
	NotBefore  int64            `json:"nbf"`
	ID         string           `json:"jti,omitempty"`
	Kubernetes KubernetesClaims `json:"kubernetes.io"`
}

// UserName is the user a service account authenticates as.
func UserName(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Issuer signs and verifies tokens with one ECDSA P-256 key.
type Issuer struct {
	url   string
	key   *ecdsa.PrivateKey
	keyID string
	now   func() time.Time
}

// NewIssuer returns an issuer named url (the "iss" claim) signing with
// key, which must be an ECDSA P-256 key.
func NewIssuer(url string, key crypto.Signer) (*Issuer, error) {
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve.Params().BitSize != 256 {
		return nil, fmt.Errorf("satoken: the service account key must be ECDSA P-256, not %T", key)
	}
	der, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("satoken: %w", err)
	}
	sum := sha256.Sum256(der)
	return &Issuer{url: url, key: ec, keyID: base64.RawURLEncoding.EncodeToString(sum[:]), now: time.Now}, nil
}

// URL is the issuer's name.
func (i *Issuer) URL() string { return i.url }

// KeyID names the signing key (the JWT "kid" header).
func (i *Issuer) KeyID() string { return i.keyID }

// PublicKey is the verification key.
func (i *Issuer) PublicKey() *ecdsa.PublicKey { return &i.key.PublicKey }

var header = base64.RawURLEncoding.EncodeToString // of a JSON header

// Issue signs a token for c, filling in iss, iat, nbf and jti. Expiry
// must be set.
func (i *Issuer) Issue(c Claims) (string, error) {
	now := i.now()
	c.Issuer = i.url
	c.IssuedAt = now.Unix()
	c.NotBefore = now.Unix()
	if c.ID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		c.ID = hex.EncodeToString(b[:])
	}
	if c.Expiry <= c.IssuedAt {
		return "", errors.New("satoken: the token expires before it is issued")
	}
	h, err := json.Marshal(map[string]string{"alg": "ES256", "kid": i.keyID})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := header(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, i.key, digest[:])
	if err != nil {
		return "", fmt.Errorf("satoken: sign: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// LooksLikeToken says whether s has a JWT's shape (three dot-separated
// base64url parts), so that other bearer tokens can be told apart
// without an error.
func LooksLikeToken(s string) bool {
	return strings.Count(s, ".") == 2 && !strings.ContainsAny(s, " \t")
}

// ErrInvalid is wrapped by every verification failure.
var ErrInvalid = errors.New("invalid service account token")

// Verify checks token's signature, issuer, validity window (with a
// minute of leeway for clock skew) and that one of its audiences is in
// audiences, and returns its claims.
func (i *Issuer) Verify(token string, audiences []string) (*Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: not a JWT", ErrInvalid)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrInvalid, err)
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrInvalid, err)
	}
	if h.Alg != "ES256" {
		return nil, fmt.Errorf("%w: algorithm %q", ErrInvalid, h.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, fmt.Errorf("%w: malformed signature", ErrInvalid)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&i.key.PublicKey, digest[:], r, s) {
		return nil, fmt.Errorf("%w: bad signature", ErrInvalid)
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	var c Claims
	if err := json.Unmarshal(pb, &c); err != nil {
		// "aud" may be a single string in other issuers' tokens.
		return nil, fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	if c.Issuer != i.url {
		return nil, fmt.Errorf("%w: issuer %q", ErrInvalid, c.Issuer)
	}
	now := i.now().Unix()
	const leeway = 60
	if c.Expiry == 0 || now > c.Expiry+leeway {
		return nil, fmt.Errorf("%w: expired", ErrInvalid)
	}
	if c.NotBefore > now+leeway || c.IssuedAt > now+leeway {
		return nil, fmt.Errorf("%w: not valid yet", ErrInvalid)
	}
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(audiences, a) }) {
		return nil, fmt.Errorf("%w: audiences %v are not accepted", ErrInvalid, c.Audience)
	}
	if c.Kubernetes.Namespace == "" || c.Kubernetes.ServiceAccount.Name == "" ||
		c.Subject != UserName(c.Kubernetes.Namespace, c.Kubernetes.ServiceAccount.Name) {
		return nil, fmt.Errorf("%w: subject %q does not name its service account", ErrInvalid, c.Subject)
	}
	return &c, nil
}
