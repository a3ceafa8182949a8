package job_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// forceDelete removes a pod at once, as the pod garbage collector does.
func forceDelete(t *testing.T, client kubernetes.Interface, p *corev1.Pod) {
	t.Helper()
	err := client.CoreV1().Pods(p.Namespace).Delete(context.Background(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
	if err != nil {
		t.Fatal(err)
	}
}

// podsOf lists every pod controlled by the Job with uid.
func podsOf(t *testing.T, client kubernetes.Interface, ns string, j *batchv1.Job) []corev1.Pod {
	t.Helper()
	list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == j.UID {
			out = append(out, p)
		}
	}
	return out
}

func TestCountsSurviveDeletedPods(t *testing.T) {
	client, ns := setup(t)
	j := createJob(t, client, ns, "tracked", 3, 3, 6)
	eventually(t, 10*time.Second, func() error {
		if n := len(activePods(t, client, j)); n != 3 {
			return fmt.Errorf("%d active pods, want 3", n)
		}
		return nil
	})
	for _, p := range activePods(t, client, j) {
		if !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
			t.Errorf("pod %s finalizers %v lack %s", p.Name, p.Finalizers, batchv1.JobTrackingFinalizer)
		}
	}

	// Each pod is deleted right after it finished, as soon as the
	// controller let go of it; the counts must not drop.
	var seenFailed, seenSucceeded int32
	failedOne := false
	eventually(t, 30*time.Second, func() error {
		got := getJob(t, client, j)
		if got.Status.Failed < seenFailed || got.Status.Succeeded < seenSucceeded {
			t.Fatalf("counts went down: failed %d -> %d, succeeded %d -> %d", seenFailed, got.Status.Failed, seenSucceeded, got.Status.Succeeded)
		}
		seenFailed, seenSucceeded = got.Status.Failed, got.Status.Succeeded
		if condition(got, batchv1.JobComplete) != nil {
			return nil
		}
		for _, p := range podsOf(t, client, ns, j) {
			switch {
			case p.DeletionTimestamp != nil:
			case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
				forceDelete(t, client, &p)
			case !failedOne:
				finish(t, client, &p, corev1.PodFailed)
				failedOne = true
			default:
				finish(t, client, &p, corev1.PodSucceeded)
			}
		}
		return fmt.Errorf("not complete: %+v", got.Status)
	})
	got := getJob(t, client, j)
	if got.Status.Succeeded != 3 || got.Status.Failed != 1 || got.Status.UncountedTerminatedPods != nil && len(got.Status.UncountedTerminatedPods.Succeeded)+len(got.Status.UncountedTerminatedPods.Failed) > 0 {
		t.Errorf("status succeeded %d failed %d uncounted %+v, want 3, 1, none", got.Status.Succeeded, got.Status.Failed, got.Status.UncountedTerminatedPods)
	}
	// Deleted finished pods are gone for good: no finalizer holds them.
	eventually(t, 10*time.Second, func() error {
		for _, p := range podsOf(t, client, ns, j) {
			if p.DeletionTimestamp != nil {
				return fmt.Errorf("pod %s still held by %v", p.Name, p.Finalizers)
			}
		}
		return nil
	})
	// And the counts stay once the job is finished.
	for _, p := range podsOf(t, client, ns, j) {
		forceDelete(t, client, &p)
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(podsOf(t, client, ns, j)); n != 0 {
			return fmt.Errorf("%d pods left", n)
		}
		return nil
	})
	if got := getJob(t, client, j); got.Status.Succeeded != 3 || got.Status.Failed != 1 {
		t.Errorf("after deleting every pod: succeeded %d failed %d, want 3 and 1", got.Status.Succeeded, got.Status.Failed)
	}
}

func TestDeletedJobReleasesPods(t *testing.T) {
	client, ns := setup(t)
	j := createJob(t, client, ns, "doomed", 2, 2, 6)
	eventually(t, 10*time.Second, func() error {
		if n := len(activePods(t, client, j)); n != 2 {
			return fmt.Errorf("%d active pods, want 2", n)
		}
		return nil
	})
	if err := client.BatchV1().Jobs(ns).Delete(context.Background(), j.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		for _, p := range podsOf(t, client, ns, j) {
			if slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
				return fmt.Errorf("pod %s of the deleted job keeps its finalizer", p.Name)
			}
		}
		return nil
	})
}
