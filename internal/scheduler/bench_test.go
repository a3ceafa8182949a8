package scheduler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/scheduler"
)

// BenchmarkScheduling measures pods/s to bind 10,000 pending pods over
// 1,000 and 5,000 nodes (Node objects only) through a real api-server on
// embedded etcd, all in this process. Each round creates the pods first,
// for a scheduler name no one serves yet, then starts a scheduler for that
// name and times from its start (informer lists included) until a watch
// has seen every pod bound. Upstream's CI floor is 270 pods/s at 5,000
// nodes. Run with -benchtime=1x: a round takes seconds.
func BenchmarkScheduling(b *testing.B) {
	const pods = 10000
	for _, nodes := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("nodes=%d/pods=%d", nodes, pods), func(b *testing.B) {
			benchmarkScheduling(b, nodes, pods)
		})
	}
}

func benchmarkScheduling(b *testing.B, nodes, pods int) {
	ctx := context.Background()
	cfg := startAPIServer(b)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	// Each node holds 110 pods: room for 10,000 pods per round with
	// 1,000 nodes for up to 11 rounds.
	err = inParallel(nodes, 16, func(i int) error {
		_, err := client.CoreV1().Nodes().Create(ctx, newNode(fmt.Sprintf("node-%05d", i), "64", "256Gi", 110*b.N), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var total time.Duration
	for round := range b.N {
		b.StopTimer()
		name := fmt.Sprintf("bench-%d", round)
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		created := time.Now()
		err := inParallel(pods, 16, func(i int) error {
			p := newPod(name, fmt.Sprintf("pod-%05d", i), "100m", "500Mi")
			p.Spec.SchedulerName = name
			_, err := client.CoreV1().Pods(name).Create(ctx, p, metav1.CreateOptions{})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		list, err := client.CoreV1().Pods(name).List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			b.Fatal(err)
		}
		w, err := client.CoreV1().Pods(name).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("created %d pods in %v", pods, time.Since(created).Round(time.Millisecond))

		b.StartTimer()
		start := time.Now()
		s := startScheduler(b, cfg, scheduler.Options{SchedulerName: name})
		first, err := waitBound(w, pods, 5*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		w.Stop()
		s.stop(b)
		total += elapsed
		b.Logf("bound %d pods over %d nodes in %v: %.0f pods/s (first bound after %v, then %.0f pods/s)",
			pods, nodes, elapsed.Round(time.Millisecond), float64(pods)/elapsed.Seconds(),
			first.Sub(start).Round(time.Millisecond), float64(pods-1)/time.Since(first).Seconds())
	}
	b.ReportMetric(float64(pods*b.N)/total.Seconds(), "pods/s")
}

// waitBound counts pods seen bound on w until want of them are, and
// returns when the first was seen.
func waitBound(w watch.Interface, want int, timeout time.Duration) (first time.Time, err error) {
	bound := map[string]bool{}
	deadline := time.After(timeout)
	for len(bound) < want {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return first, fmt.Errorf("watch ended with %d of %d pods bound", len(bound), want)
			}
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Spec.NodeName != "" {
				if len(bound) == 0 {
					first = time.Now()
				}
				bound[p.Name] = true
			}
		case <-deadline:
			return first, fmt.Errorf("%d of %d pods bound after %v", len(bound), want, timeout)
		}
	}
	return first, nil
}
