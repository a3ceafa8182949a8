package server_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k1s/k1s/internal/encryption"
	"github.com/k1s/k1s/internal/server"
)

// TestSecretsEncryptedAtRest: etcd's raw value of a Secret holds no
// plain text, before and after a key rotation, and the Secret reads back
// the same through the API.
func TestSecretsEncryptedAtRest(t *testing.T) {
	dir, err := os.MkdirTemp("", "k1s-enc") // short: etcd listens on a unix socket in it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx := context.Background()
	client := startServer(t, server.Options{DataDir: dir, HTTPSPort: 0, DisableAgent: true, DisableControllerManager: true, DisableScheduler: true})
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{"unix://" + filepath.Join(dir, "etcd.sock")}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()

	const password = "correct-horse-battery-staple"
	if _, err := client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": password},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	raw := func() []byte {
		t.Helper()
		resp, err := etcd.Get(ctx, "/registry/core/secrets/default/db")
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("raw get: %v %v", resp, err)
		}
		return resp.Kvs[0].Value
	}
	check := func(wantKey string) error {
		v := raw()
		if bytes.Contains(v, []byte(password)) {
			t.Fatalf("etcd holds the password in plain text: %q", v)
		}
		if got := encryption.KeyOf(v); got != wantKey {
			return fmt.Errorf("the value is sealed with %q, want %q", got, wantKey)
		}
		s, err := client.CoreV1().Secrets("default").Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if string(s.Data["password"]) != password {
			t.Fatalf("the Secret reads back %q", s.Data["password"])
		}
		return nil
	}
	if err := check("key-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := encryption.Rotate(server.EncryptionKeysPath(dir)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check("key-2")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
