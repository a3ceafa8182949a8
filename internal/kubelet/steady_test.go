package kubelet_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// A running pod's status is written when it changes, not on every sync:
// once Ready, no further writes happen while nothing changes.
func TestSteadyPodIsNotRewritten(t *testing.T) {
	c := newClient(t)
	startNode(t, c, "n1", nil, "")
	create(t, c, pod("calm", "n1", corev1.RestartPolicyAlways, container("c")))
	p := waitPod(t, c, "calm", "ready", func(p *corev1.Pod) bool { return condTrue(p, corev1.PodReady) })
	w, err := c.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{
		FieldSelector: "metadata.name=calm", ResourceVersion: p.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	timeout := time.After(2 * time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Modified {
				got := ev.Object.(*corev1.Pod)
				t.Fatalf("steady pod rewritten: %+v", got.Status)
			}
		case <-timeout:
			return
		}
	}
}
