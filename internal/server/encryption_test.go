package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

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
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Options{
			DataDir: dir, HTTPSPort: 0, DisableAgent: true, DisableControllerManager: true, DisableScheduler: true,
			Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			OnReady: func(kubeconfig string) { ready <- kubeconfig },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("server Run: %v", err)
		}
	})
	var kubeconfig string
	select {
	case kubeconfig = <-ready:
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server not ready after 60s")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
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
