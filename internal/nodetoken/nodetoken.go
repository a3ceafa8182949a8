package nodetoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

const prefix = "K1S"

// FileName is the token file in a server's data dir.
const FileName = "node-token"

// Ensure returns the data dir's token, creating it on first use.
func Ensure(dataDir string, caPEM []byte) (string, error) {
	path := filepath.Join(dataDir, FileName)
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		hash, _, err := Parse(tok)
		if err == nil && hash == caHash(caPEM) {
			return tok, nil
		}
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	tok := prefix + caHash(caPEM) + "::" + hex.EncodeToString(buf)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	return tok, os.Rename(tmp, path)
}

// Parse splits a token into the CA hash and the secret.
func Parse(token string) (caHashHex, secret string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(token), prefix)
	h, s, found := strings.Cut(rest, "::")
	if !ok || !found || len(h) != 64 || s == "" {
		return "", "", errors.New("malformed token: want K1S<ca-hash>::<secret> (the server's DATA_DIR/node-token)")
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", "", errors.New("malformed token: the CA hash is not hex")
	}
	return h, s, nil
}

// Secret returns the bearer secret of token ("" if malformed).
func Secret(token string) string {
	_, s, _ := Parse(token)
	return s
}

// SecretMatches compares a presented bearer token with the secret in
// constant time.
func SecretMatches(presented, secret string) bool {
	return secret != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(secret)) == 1
}

func caHash(caPEM []byte) string {
	sum := sha256.Sum256(caPEM)
	return hex.EncodeToString(sum[:])
}

// Config fetches and verifies the server's CA and returns a client
// configuration authenticating with the token's secret.
func Config(ctx context.Context, server, token string) (*rest.Config, error) {
	hash, secret, err := Parse(token)
	if err != nil {
		return nil, err
	}
	server = strings.TrimRight(server, "/")
	if !strings.HasPrefix(server, "https://") {
		return nil, fmt.Errorf("--server %q: want https://HOST:PORT", server)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/cacerts", nil)
	if err != nil {
		return nil, err
	}
	// The CA is not known yet: it is checked against the token's hash.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := insecure.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the cluster CA: %w", err)
	}
	defer resp.Body.Close()
	ca, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the cluster CA: %s", resp.Status)
	}
	if caHash(ca) != hash {
		return nil, errors.New("the server's CA does not match the token: wrong server or wrong token")
	}
	return &rest.Config{Host: server, BearerToken: secret, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}, nil
}
