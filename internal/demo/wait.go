package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pollInterval is how often waits look again.
const pollInterval = 500 * time.Millisecond

// poll calls check until it reports done, ctx ends or timeout passes.
// check returns what it saw, so that a timeout says what the cluster
// looked like last; its errors (an api-server restarting, a refused
// connection) are what it saw, not the end of the wait.
func poll(ctx context.Context, timeout time.Duration, what string, check func(ctx context.Context) (done bool, seen string, err error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last string
	for {
		done, seen, err := check(ctx)
		if err != nil {
			seen = err.Error()
		}
		if done && err == nil {
			return nil
		}
		last = seen
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%s: not after %s; last seen: %s", what, timeout, last)
			}
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// deploymentSettled says whether d's controller has seen its latest
// spec and it runs exactly want replicas, all updated and available (no
// old pod still counted).
func deploymentSettled(d *appsv1.Deployment, want int32) bool {
	s := d.Status
	return s.ObservedGeneration >= d.Generation &&
		s.Replicas == want && s.UpdatedReplicas == want && s.AvailableReplicas == want
}

func deploymentSeen(d *appsv1.Deployment) string {
	s := d.Status
	return fmt.Sprintf("deployment %s: generation %d observed %d, %d replicas, %d updated, %d available",
		d.Name, d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.AvailableReplicas)
}

// podReady says whether p is Ready and not being deleted.
func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// nodeReady says whether n's Ready condition is True.
func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyPods lists the ready, not deleted pods of the namespace that
// match selector, sorted by name.
func (d *demo) readyPods(ctx context.Context, selector string) ([]corev1.Pod, error) {
	list, err := d.cs.CoreV1().Pods(d.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	var ready []corev1.Pod
	for i := range list.Items {
		if podReady(&list.Items[i]) {
			ready = append(ready, list.Items[i])
		}
	}
	slices.SortFunc(ready, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return ready, nil
}

// waitDeployment waits until the Deployment my-app runs its replicas,
// all updated and available.
func (d *demo) waitDeployment(ctx context.Context, timeout time.Duration) error {
	return poll(ctx, timeout, "deployment "+appName, func(ctx context.Context) (bool, string, error) {
		dep, err := d.cs.AppsV1().Deployments(d.o.Namespace).Get(ctx, appName, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return deploymentSettled(dep, appReplicas), deploymentSeen(dep), nil
	})
}

// podNames lists the pods' names.
func podNames(pods []corev1.Pod) []string {
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = p.Name
	}
	return names
}

// podsOn formats pods as "name (node), ...".
func podsOn(pods []corev1.Pod) string {
	parts := make([]string, len(pods))
	for i, p := range pods {
		parts[i] = p.Name + " on " + p.Spec.NodeName
	}
	return strings.Join(parts, ", ")
}
