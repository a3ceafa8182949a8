package nodeipam

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/testcluster"
)

func TestAllocatorRanges(t *testing.T) {
	a, err := newAllocator("10.42.0.0/16", 24)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		i    int
		cidr string
	}{{0, "10.42.0.0/24"}, {1, "10.42.1.0/24"}, {255, "10.42.255.0/24"}} {
		if got := a.cidr(tc.i); got != tc.cidr {
			t.Errorf("cidr(%d) = %s, want %s", tc.i, got, tc.cidr)
		}
		if i, ok := a.index(tc.cidr); !ok || i != tc.i {
			t.Errorf("index(%s) = %d, %v", tc.cidr, i, ok)
		}
	}
	for _, foreign := range []string{"10.43.0.0/24", "10.42.0.0/25", "garbage"} {
		if _, ok := a.index(foreign); ok {
			t.Errorf("index(%s) claimed", foreign)
		}
	}
	if _, err := newAllocator("10.42.0.0/16", 8); err == nil {
		t.Error("node mask wider than the cluster accepted")
	}
	if i, ok := a.free(map[int]string{0: "a", 1: "b"}); !ok || i != 2 {
		t.Errorf("free = %d, %v", i, ok)
	}
}

func TestNodesGetDistinctCIDRs(t *testing.T) {
	cfg := testcluster.StartAPIServer(t)
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// One node brings its own range, which must not be handed out again.
	_, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "own"},
		Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Options{Client: client, Nodes: f.Core().V1().Nodes(), Logger: testcluster.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for i := range 5 {
		_, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%d", i)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		seen := map[string]string{}
		for _, n := range nodes.Items {
			if n.Spec.PodCIDR == "" {
				return fmt.Errorf("node %s has no pod CIDR yet", n.Name)
			}
			if other, dup := seen[n.Spec.PodCIDR]; dup {
				t.Fatalf("nodes %s and %s share %s", other, n.Name, n.Spec.PodCIDR)
			}
			seen[n.Spec.PodCIDR] = n.Name
		}
		if len(seen) != 6 {
			return fmt.Errorf("%d nodes", len(seen))
		}
		return nil
	})
}
