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
// created at a steady 2 per second (the SLO is defined under a paced load,
// as ClusterLoader2's density test creates pods), then 30 pods created at
// once, reporting when the last one runs.
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
		lat := startPods(b, client, "paced", 100, 500*time.Millisecond)
		b.ReportMetric(percentile(lat, 50).Seconds(), "p50-s")
		b.ReportMetric(percentile(lat, 99).Seconds(), "p99-s")
		par := startPods(b, client, "burst", 30, 0)
		b.ReportMetric(percentile(par, 100).Seconds(), "30-parallel-all-running-s")
	}
}

// startPods creates n pods, one every interval (all at once for 0), and
// returns each one's create -> Running latency; it deletes them
// afterwards and waits for the node to be idle.
func startPods(b testing.TB, client kubernetes.Interface, prefix string, n int, interval time.Duration) []time.Duration {
	ctx := context.Background()
	ns := fmt.Sprintf("bench-%s-%d", prefix, time.Now().UnixNano())
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	defer func() {
		client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}, metav1.ListOptions{})
		client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		// The next round starts on an idle node.
		waitRuntimeEmpty(b)
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
	var wg sync.WaitGroup
	tick := time.NewTicker(max(interval, time.Microsecond))
	defer tick.Stop()
	for i := range n {
		name := fmt.Sprintf("p%d", i)
		if interval > 0 && i > 0 {
			<-tick.C
		}
		wg.Go(func() {
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
