package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Regressions found in review, each against upstream behaviour.
func TestReviewRegressions(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client()
	cms := c.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep", Labels: map[string]string{"grp": "t"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("dry-run deletecollection deletes nothing", func(t *testing.T) {
		err := cms.DeleteCollection(ctx, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}, metav1.ListOptions{LabelSelector: "grp=t"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Get(ctx, "keep", metav1.GetOptions{}); err != nil {
			t.Errorf("dry-run deletecollection deleted: %v", err)
		}
	})
	t.Run("patch changing kind is refused", func(t *testing.T) {
		_, err := cms.Patch(ctx, "keep", types.MergePatchType, []byte(`{"kind":"Secret","data":null}`), metav1.PatchOptions{})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("got %v, want BadRequest", err)
		}
	})
	t.Run("too large resourceVersion is 504 with the cause clients relist on", func(t *testing.T) {
		_, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: "99999999", ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		if !apierrors.IsTimeout(err) || !apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) {
			t.Errorf("got %v, want 504 with ResourceVersionTooLarge", err)
		}
	})
	t.Run("malformed resourceVersion is 400", func(t *testing.T) {
		code, _, raw := ts.do(t, "GET", "/api/v1/namespaces/default/configmaps/keep?resourceVersion=abc", "", nil)
		if code != http.StatusBadRequest {
			t.Errorf("get: %d %s", code, raw)
		}
	})
	t.Run("timeoutSeconds=0 means the default", func(t *testing.T) {
		zero := int64(0)
		w, err := cms.Watch(ctx, metav1.ListOptions{TimeoutSeconds: &zero, ResourceVersion: "0"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		ev, ok := <-w.ResultChan() // the initial ADDED for "keep"
		if !ok || ev.Object == nil {
			t.Fatalf("watch closed at once")
		}
	})
	t.Run("status writes keep finalizers and owners", func(t *testing.T) {
		pods := c.CoreV1().Pods("default")
		p, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "st", Finalizers: []string{"example.com/x"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Finalizers = nil
		p.Status.Message = "hello"
		out, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Finalizers) != 1 || out.Status.Message != "hello" {
			t.Errorf("status update: finalizers %v message %q", out.Finalizers, out.Status.Message)
		}
		out.Finalizers = nil
		if _, err := pods.Update(ctx, out, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a different uid is refused", func(t *testing.T) {
		cm, err := cms.Get(ctx, "keep", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.UID = "not-the-uid"
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("update with another uid: got %v, want Invalid", err)
		}
	})
	t.Run("long generateName is cut to fit", func(t *testing.T) {
		out, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: strings.Repeat("a", 70) + "-"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Name) != 63 {
			t.Errorf("generated name %q has %d characters, want 63", out.Name, len(out.Name))
		}
	})
	t.Run("eviction takes one disruption from the budget", func(t *testing.T) {
		pdbs := c.PolicyV1().PodDisruptionBudgets("default")
		one := intstr.FromInt32(1)
		pdb, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "b"},
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "ev"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: 1, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2}
		if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		pods := c.CoreV1().Pods("default")
		for _, name := range []string{"ev1", "ev2"} {
			if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "ev"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "ev1", Namespace: "default"}}); err != nil {
			t.Fatalf("first eviction: %v", err)
		}
		err = pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "ev2", Namespace: "default"}})
		if !apierrors.IsTooManyRequests(err) {
			t.Errorf("second eviction: got %v, want 429", err)
		}
	})
}
