package node

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

// BenchmarkPodStartup measures create -> Running as upstream's pod
// startup SLO does (image present, observed through a watch): 100 pods
// created 10 at a time, then 30 pods created at once.
func BenchmarkPodStartup(b *testing.B) {
	if skipReason != "" {
		b.Skip(skipReason)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	client := kubernetes.NewForConfigOrDie(cfg)
	for range b.N {
		lat := startPods(b, client, "seq", 100, 10)
		b.ReportMetric(percentile(lat, 50).Seconds(), "p50-s")
		b.ReportMetric(percentile(lat, 99).Seconds(), "p99-s")
		par := startPods(b, client, "par", 30, 30)
		b.ReportMetric(percentile(par, 100).Seconds(), "30-parallel-all-running-s")
	}
}

// startPods creates n pods, at most conc at a time, and returns each
// one's create -> Running latency; it deletes them afterwards.
func startPods(b testing.TB, client kubernetes.Interface, prefix string, n, conc int) []time.Duration {
	ctx := context.Background()
	ns := fmt.Sprintf("bench-%s-%d", prefix, time.Now().UnixNano())
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	defer func() {
		client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}, metav1.ListOptions{})
		client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		// Wait for the node to be empty again before the next round.
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err == nil && len(l.Items) == 0 {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	created := map[string]time.Time{}
	running := map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if ev.Type != watch.Modified && ev.Type != watch.Added {
				continue
			}
			p := ev.Object.(*corev1.Pod)
			if p.Status.Phase != corev1.PodRunning {
				continue
			}
			mu.Lock()
			if _, ok := running[p.Name]; !ok {
				running[p.Name] = time.Now()
			}
			all := len(running) == n
			mu.Unlock()
			if all {
				return
			}
		}
	}()
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range n {
		name := fmt.Sprintf("p%d", i)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.PodSpec{
					NodeName: nodeName, TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers: []corev1.Container{{Name: "c", Image: busybox, ImagePullPolicy: corev1.PullNever,
						Command: []string{"sleep", "3600"}}},
				},
			}
			t0 := time.Now()
			if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			created[name] = t0
			mu.Unlock()
			// Pace like the SLO's load: the next pod of this slot once
			// this one runs.
			for {
				mu.Lock()
				_, ok := running[name]
				mu.Unlock()
				if ok || b.Failed() {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("only %d of %d pods running after 2 minutes", len(running), n)
	}
	var lat []time.Duration
	mu.Lock()
	for name, t0 := range created {
		lat = append(lat, running[name].Sub(t0))
	}
	mu.Unlock()
	return lat
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := (len(d)*p + 99) / 100
	return d[max(0, min(len(d)-1, i-1))]
}
