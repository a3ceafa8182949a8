package rootcacert_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/controller/rootcacert"
	"github.com/k1s/k1s/internal/testcluster"
)

const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func TestPublishesAndRestores(t *testing.T) {
	cfg := testcluster.StartAPIServer(t)
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := rootcacert.New(rootcacert.Options{
		Client: client, Namespaces: factory.Core().V1().Namespaces(), ConfigMaps: factory.Core().V1().ConfigMaps(),
		RootCA: []byte(ca), Logger: testcluster.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	factory.Start(ctx.Done())
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown() })

	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	published := func(ns string) func() error {
		return func() error {
			cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, rootcacert.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cm.Data["ca.crt"] != ca {
				return fmt.Errorf("ca.crt = %q", cm.Data["ca.crt"])
			}
			return nil
		}
	}
	for _, ns := range []string{"default", "kube-system", "team"} {
		testcluster.Eventually(t, 10*time.Second, published(ns))
	}

	// Edited or deleted, it comes back.
	cm, err := client.CoreV1().ConfigMaps("team").Get(ctx, rootcacert.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["ca.crt"] = "tampered"
	if _, err := client.CoreV1().ConfigMaps("team").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, published("team"))
	if err := client.CoreV1().ConfigMaps("team").Delete(ctx, rootcacert.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, published("team"))
}
