package server_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/nodetoken"
	"github.com/k1s/k1s/internal/server"
)

// TestJoinWithToken: the server's node token gets an agent its own node
// certificate, which renews itself; a wrong token gets nothing, and
// nothing is registered.
func TestJoinWithToken(t *testing.T) {
	dir := t.TempDir()
	admin := startServer(t, server.Options{DataDir: dir, HTTPSPort: 0, DisableAgent: true, NodeCertTTL: 4 * time.Second})
	ctx := context.Background()
	tokenBytes, err := os.ReadFile(filepath.Join(dir, nodetoken.FileName))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenBytes))
	host := admin.CoreV1().RESTClient().Get().URL()
	serverURL := host.Scheme + "://" + host.Host

	hash, _, _ := nodetoken.Parse(token)
	wrong := "K1S" + hash + "::not-the-secret"
	j, err := nodetoken.Join(ctx, nodetoken.JoinOptions{Server: serverURL, Token: wrong, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Ensure(ctx, nodetoken.NodeIdentity("intruder")); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v, want a 401 refusal", err)
	}
	if nodes, err := admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || len(nodes.Items) != 0 {
		t.Errorf("nodes after a refused join: %v %v", nodes, err)
	}

	certDir := t.TempDir()
	j, err = nodetoken.Join(ctx, nodetoken.JoinOptions{Server: serverURL, Token: token, Dir: certDir})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := j.Ensure(ctx, nodetoken.NodeIdentity("joiner"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "joiner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("the node registering itself: %v", err)
	}
	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Nodes().Delete(ctx, "other", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the node deleting another node: %v, want 403", err)
	}
	_ = node

	serial := func() string {
		pair, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return "unreadable: " + err.Error()
		}
		return pair.Leaf.SerialNumber.String()
	}
	first := serial()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- j.Renew(rctx, time.Second, nodetoken.NodeIdentity("joiner")) }()
	deadline := time.Now().Add(20 * time.Second)
	for serial() == first {
		if time.Now().After(deadline) {
			t.Fatal("the certificate was not renewed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Renew: %v", err)
	}
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Nodes().Get(ctx, "joiner", metav1.GetOptions{}); err != nil {
		t.Errorf("with the renewed certificate: %v", err)
	}
}
