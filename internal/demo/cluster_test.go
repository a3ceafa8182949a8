package demo

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/testcluster"
)

// TestAgainstTheAPI checks the Ingress step against a real api-server
// holding the Deployment's pods (the answers must come from two
// different pods, and only from ready pods of the Deployment) and the
// cordoning the failover step does.
func TestAgainstTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an api-server")
	}
	cs := kubernetes.NewForConfigOrDie(testcluster.StartAPIServer(t))
	ctx := context.Background()
	const ns = "my-app"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name, node string
		ready      bool
	}{{"my-app-1", "k1s-1", true}, {"my-app-2", "k1s-2", true}, {"my-app-3", "k1s-3", false}} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Labels: map[string]string{"app": "my-app"}},
			Spec: corev1.PodSpec{NodeName: p.node, Containers: []corev1.Container{{
				Name: "my-app", Image: "k1s.local/my-app:latest", ImagePullPolicy: corev1.PullNever,
			}}},
		}
		created, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		status := corev1.ConditionFalse
		if p.ready {
			status = corev1.ConditionTrue
		}
		created.Status.Phase = corev1.PodRunning
		created.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name    string
		served  []string
		want    string
		wantErr string
	}{
		{name: "both ready pods", served: []string{"my-app-2", "my-app-1"}, want: "both replicas answer: my-app-1, my-app-2"},
		{name: "a pod that is not ready", served: []string{"my-app-1", "my-app-3"}, wantErr: "my-app-3, which is not a ready pod"},
		{name: "a stranger", served: []string{"my-app-1", "other"}, wantErr: "other, which is not a ready pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &demo{
				o:       Options{Namespace: ns},
				cs:      cs,
				ingress: serveFake(t, &fakeApp{pods: tt.served, greeting: "hello"}),
			}
			got, err := d.bothReplicas(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("bothReplicas = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("bothReplicas = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	d := &demo{o: Options{Namespace: ns}, cs: cs}
	ready, err := d.readyPods(ctx, appSelector)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := podsOn(ready), "my-app-1 on k1s-1, my-app-2 on k1s-2"; got != want {
		t.Errorf("ready pods = %q, want %q", got, want)
	}
	if got := d.podProblem(ctx, appSelector); !strings.Contains(got, "my-app-3 is Running") {
		t.Errorf("podProblem = %q, want my-app-3's", got)
	}

	// Cordoning, as the failover step does to place a pod.
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "k1s-2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		unschedulable, wantChanged bool
	}{{true, true}, {true, false}, {false, true}, {false, false}} {
		changed, err := d.setUnschedulable(ctx, "k1s-2", step.unschedulable)
		if err != nil || changed != step.wantChanged {
			t.Errorf("setUnschedulable(%t) = %t, %v; want changed %t", step.unschedulable, changed, err, step.wantChanged)
		}
		n, err := cs.CoreV1().Nodes().Get(ctx, "k1s-2", metav1.GetOptions{})
		if err != nil || n.Spec.Unschedulable != step.unschedulable {
			t.Errorf("after setUnschedulable(%t): node unschedulable %t, %v", step.unschedulable, n.Spec.Unschedulable, err)
		}
	}
}
