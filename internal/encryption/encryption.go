package encryption

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/k1s/k1s/internal/atomicfile"
)

// prefix starts every encrypted value; the key's name and ":" follow.
const prefix = "k8s:enc:aesgcm:v1:"

type keyFile struct {
	Keys []fileKey `json:"keys"`
}

type fileKey struct {
	Name   string `json:"name"`
	Secret []byte `json:"secret"` // 32 bytes, base64 in JSON
}

type key struct {
	name string
	aead cipher.AEAD
}

// Transformer encrypts with the primary key and decrypts with any key of
// its file. It is safe for concurrent use.
type Transformer struct {
	path string
	mu   sync.RWMutex
	keys []key  // keys[0] is the primary
	raw  []byte // the file as last read
}

// Load reads the key file at path, creating it with one new key when it
// does not exist.
func Load(path string) (*Transformer, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if _, err := Rotate(path); err != nil {
			return nil, err
		}
	}
	t := &Transformer{path: path}
	if _, err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload re-reads the key file and says whether its primary key changed.
// The file is small; it is read whole each time, so no clock or
// timestamp granularity can hide a change.
func (t *Transformer) Reload() (bool, error) {
	raw, err := os.ReadFile(t.path)
	if err != nil {
		return false, fmt.Errorf("encryption keys: %w", err)
	}
	t.mu.RLock()
	same := bytes.Equal(raw, t.raw) && len(t.keys) > 0
	t.mu.RUnlock()
	if same {
		return false, nil
	}
	f, err := parseFile(t.path, raw)
	if err != nil {
		return false, err
	}
	keys := make([]key, 0, len(f.Keys))
	for _, k := range f.Keys {
		block, err := aes.NewCipher(k.Secret)
		if err != nil || len(k.Secret) != 32 {
			return false, fmt.Errorf("encryption keys: %s: key %q is not a 32-byte AES key", t.path, k.Name)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return false, err
		}
		keys = append(keys, key{name: k.Name, aead: aead})
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := len(t.keys) > 0 && t.keys[0].name != keys[0].name
	t.keys, t.raw = keys, raw
	return changed, nil
}

func readFile(path string) (*keyFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption keys: %w", err)
	}
	return parseFile(path, b)
}

func parseFile(path string, b []byte) (*keyFile, error) {
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("encryption keys: %s: %w", path, err)
	}
	if len(f.Keys) == 0 {
		return nil, fmt.Errorf("encryption keys: %s holds no key", path)
	}
	seen := map[string]bool{}
	for _, k := range f.Keys {
		if k.Name == "" || strings.Contains(k.Name, ":") || seen[k.Name] {
			return nil, fmt.Errorf("encryption keys: %s: bad or repeated key name %q", path, k.Name)
		}
		seen[k.Name] = true
	}
	return &f, nil
}

// Rotate writes a new key at the head of the file at path (creating it),
// keeping the older keys for reading, and returns the new key's name.
func Rotate(path string) (string, error) {
	var f keyFile
	if _, err := os.Stat(path); err == nil {
		old, err := readFile(path)
		if err != nil {
			return "", err
		}
		f = *old
	}
	n := 1
	for _, k := range f.Keys {
		if v, err := strconv.Atoi(strings.TrimPrefix(k.Name, "key-")); err == nil && v >= n {
			n = v + 1
		}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	name := "key-" + strconv.Itoa(n)
	f.Keys = append([]fileKey{{Name: name, Secret: secret}}, f.Keys...)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return "", fmt.Errorf("encryption keys: %w", err)
	}
	return name, nil
}

// Primary names the key new values are encrypted with.
func (t *Transformer) Primary() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.keys[0].name
}

// KeyOf names the key a stored value is encrypted with ("" for a value
// stored in plain text).
func KeyOf(stored []byte) string {
	rest, ok := bytes.CutPrefix(stored, []byte(prefix))
	if !ok {
		return ""
	}
	name, _, _ := bytes.Cut(rest, []byte(":"))
	return string(name)
}

// TransformToStorage seals data under the primary key, bound to etcdKey.
func (t *Transformer) TransformToStorage(_ context.Context, data []byte, etcdKey string) ([]byte, error) {
	t.mu.RLock()
	k := t.keys[0]
	t.mu.RUnlock()
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(prefix)+len(k.name)+1+len(nonce)+len(data)+k.aead.Overhead())
	out = append(out, prefix...)
	out = append(out, k.name...)
	out = append(out, ':')
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, data, []byte(etcdKey)), nil
}

// TransformFromStorage opens a value sealed by any key of the file; a
// value without the prefix is returned as it is.
func (t *Transformer) TransformFromStorage(_ context.Context, stored []byte, etcdKey string) ([]byte, error) {
	rest, ok := bytes.CutPrefix(stored, []byte(prefix))
	if !ok {
		return stored, nil
	}
	name, sealed, ok := bytes.Cut(rest, []byte(":"))
	if !ok {
		return nil, errors.New("encryption: malformed value")
	}
	t.mu.RLock()
	var aead cipher.AEAD
	for _, k := range t.keys {
		if k.name == string(name) {
			aead = k.aead
		}
	}
	t.mu.RUnlock()
	if aead == nil {
		return nil, fmt.Errorf("encryption: value is sealed with key %q, which the key file does not hold", name)
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("encryption: value too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(etcdKey))
	if err != nil {
		return nil, fmt.Errorf("encryption: value under key %q does not open: %w", name, err)
	}
	return plain, nil
}

// Reencrypt rewrites every value under etcdPrefix that is not sealed
// with the primary key, each only if it did not change meanwhile (a
// value written concurrently is already under the primary key). It
// returns how many values it rewrote.
func (t *Transformer) Reencrypt(ctx context.Context, client *clientv3.Client, etcdPrefix string) (int, error) {
	primary := t.Primary()
	resp, err := client.Get(ctx, etcdPrefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, kv := range resp.Kvs {
		if KeyOf(kv.Value) == primary {
			continue
		}
		plain, err := t.TransformFromStorage(ctx, kv.Value, string(kv.Key))
		if err != nil {
			return n, fmt.Errorf("%s: %w", kv.Key, err)
		}
		sealed, err := t.TransformToStorage(ctx, plain, string(kv.Key))
		if err != nil {
			return n, err
		}
		txn, err := client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)).
			Then(clientv3.OpPut(string(kv.Key), string(sealed))).Commit()
		if err != nil {
			return n, err
		}
		if txn.Succeeded {
			n++
		}
	}
	return n, nil
}

// KeyNames lists the keys of the file at path, the primary first.
func KeyNames(path string) ([]string, error) {
	f, err := readFile(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(f.Keys))
	for i, k := range f.Keys {
		names[i] = k.Name
	}
	return names, nil
}
