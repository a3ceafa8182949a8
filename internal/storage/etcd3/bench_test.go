package etcd3_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k1s/k1s/internal/storage"
	"github.com/k1s/k1s/internal/storage/storagetest"
)

func benchPod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("p%d", i), Labels: map[string]string{"app": "bench"}},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

// The embedded etcd runs without fsync: these numbers measure the store's
// own overhead plus a loopback gRPC round trip, not disk latency.
func BenchmarkCreate(b *testing.B) {
	s := newStore(b, storagetest.StartEtcd(b), nil)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Create(ctx, fmt.Sprintf("/registry/pods/bench/p%d", i), benchPod(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGet(b *testing.B) {
	for _, rv := range []string{"", "0"} {
		b.Run("rv="+rv, func(b *testing.B) {
			s := newStore(b, storagetest.StartEtcd(b), nil)
			ctx := b.Context()
			if _, err := s.Create(ctx, "/registry/pods/bench/p0", benchPod(0)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Get(ctx, "/registry/pods/bench/p0", storage.GetOptions{ResourceVersion: rv}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCreateParallel(b *testing.B) {
	s := newStore(b, storagetest.StartEtcd(b), nil)
	ctx := b.Context()
	b.ReportAllocs()
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			if _, err := s.Create(ctx, fmt.Sprintf("/registry/pods/bench/p%d", i), benchPod(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
