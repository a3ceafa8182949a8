package encryption

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpenRotate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "encryption.json")
	tr, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if tr.Primary() != "key-1" {
		t.Fatalf("primary = %s", tr.Primary())
	}
	secret := []byte("password=hunter2")
	sealed, err := tr.TransformToStorage(ctx, secret, "/registry/core/secrets/default/db")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) || KeyOf(sealed) != "key-1" {
		t.Fatalf("sealed value %q", sealed)
	}
	got, err := tr.TransformFromStorage(ctx, sealed, "/registry/core/secrets/default/db")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q %v", got, err)
	}
	// Bound to its etcd key, and tamper-evident.
	if _, err := tr.TransformFromStorage(ctx, sealed, "/registry/core/secrets/default/other"); err == nil {
		t.Error("a value opened under another etcd key")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := tr.TransformFromStorage(ctx, tampered, "/registry/core/secrets/default/db"); err == nil {
		t.Error("a tampered value opened")
	}
	// Plain text from before encryption reads as it is.
	if got, err := tr.TransformFromStorage(ctx, []byte("k8s\x00plain"), "k"); err != nil || string(got) != "k8s\x00plain" {
		t.Errorf("plain value: %q %v", got, err)
	}

	// Rotation: the new key encrypts, the old one still opens.
	name, err := Rotate(path)
	if err != nil || name != "key-2" {
		t.Fatalf("Rotate = %s, %v", name, err)
	}
	changed, err := tr.Reload()
	if err != nil || !changed || tr.Primary() != "key-2" {
		t.Fatalf("Reload = %v, %v; primary %s", changed, err, tr.Primary())
	}
	if got, err := tr.TransformFromStorage(ctx, sealed, "/registry/core/secrets/default/db"); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("old value after rotation: %q %v", got, err)
	}
	again, err := tr.TransformToStorage(ctx, secret, "k")
	if err != nil || KeyOf(again) != "key-2" {
		t.Errorf("new value under %q, %v", KeyOf(again), err)
	}
	if changed, err := tr.Reload(); err != nil || changed {
		t.Errorf("second Reload = %v, %v", changed, err)
	}

	// A key file without the value's key: a clear error.
	other, err := Load(filepath.Join(t.TempDir(), "other.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.TransformFromStorage(ctx, again, "k"); err == nil {
		t.Error("a value sealed with an unknown key opened")
	}
}

func TestBadKeyFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty.json":   `{"keys":[]}`,
		"garbage.json": `not json`,
		"short.json":   `{"keys":[{"name":"key-1","secret":"c2hvcnQ="}]}`,
		"repeat.json":  `{"keys":[{"name":"a","secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},{"name":"a","secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
