package serviceaccount_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controller/serviceaccount"
)

func startController(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := serviceaccount.New(serviceaccount.Options{
		Client:          client,
		Namespaces:      factory.Core().V1().Namespaces(),
		ServiceAccounts: factory.Core().V1().ServiceAccounts(),
		Logger:          testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller Run: %v", err)
		}
		factory.Shutdown()
	})
	return client
}

func TestDefaultServiceAccount(t *testing.T) {
	ctx := context.Background()
	client := startController(t, startAPIServer(t))

	// Namespaces that existed before the controller started get one too.
	for _, ns := range []string{"default", "kube-system"} {
		eventually(t, 10*time.Second, func() error {
			_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err
		})
	}

	const ns = "fresh"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var first *corev1.ServiceAccount
	eventually(t, 10*time.Second, func() error {
		sa, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		first = sa
		return err
	})

	// Deleted, it comes back as a new object.
	if err := client.CoreV1().ServiceAccounts(ns).Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		sa, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if sa.UID == first.UID {
			return apierrors.NewNotFound(corev1.Resource("serviceaccounts"), "default (recreated)")
		}
		return nil
	})
}

func TestTerminatingNamespaceGetsNoAccount(t *testing.T) {
	ctx := context.Background()
	client := startController(t, startAPIServer(t))
	const ns = "leaving"
	// Held by a finalizer nobody removes, the namespace stays terminating.
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// No namespace controller runs here, so the account stays; deleting it
	// must not bring it back while the namespace terminates.
	if err := client.CoreV1().ServiceAccounts(ns).Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Give the controller the chance to (wrongly) recreate it: a marker
	// namespace created afterwards gets its account, so the terminating
	// one has been processed by then.
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "marker"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		_, err := client.CoreV1().ServiceAccounts("marker").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	if _, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("account in terminating namespace: got %v, want NotFound", err)
	}
}
