package statefulset_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// kubectlPatch is what kubectl's rollback computes from a StatefulSet to
// compare with a revision's data: its template, to be replaced.
func kubectlPatch(t *testing.T, s *appsv1.StatefulSet) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	tmpl := raw["spec"].(map[string]any)["template"].(map[string]any)
	// kubectl v1.32 writes the zero creationTimestamp as null.
	if meta := tmpl["metadata"].(map[string]any); meta["creationTimestamp"] == nil {
		meta["creationTimestamp"] = nil
	}
	tmpl["$patch"] = "replace"
	out, err := json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// history lists the revisions of set as kubectl does: by the set's
// selector, controlled by the set, ordered by revision number.
func history(t *testing.T, client kubernetes.Interface, s *appsv1.StatefulSet) []appsv1.ControllerRevision {
	t.Helper()
	list, err := client.AppsV1().ControllerRevisions(s.Namespace).List(context.Background(), metav1.ListOptions{
		LabelSelector: metav1.FormatLabelSelector(s.Spec.Selector),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []appsv1.ControllerRevision
	for _, cr := range list.Items {
		if metav1.IsControlledBy(&cr, s) {
			out = append(out, cr)
		}
	}
	slices.SortFunc(out, func(a, b appsv1.ControllerRevision) int { return int(a.Revision - b.Revision) })
	return out
}

func getSet(t *testing.T, client kubernetes.Interface, ns string) *appsv1.StatefulSet {
	t.Helper()
	s, err := client.AppsV1().StatefulSets(ns).Get(context.Background(), "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rolledOut waits until every pod runs image and the update revision is
// current.
func rolledOut(t *testing.T, client kubernetes.Interface, ns, image string) *appsv1.StatefulSet {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		s := getSet(t, client, ns)
		st := s.Status
		if s.Spec.Template.Spec.Containers[0].Image != image || st.ObservedGeneration != s.Generation ||
			st.CurrentRevision != st.UpdateRevision || st.UpdatedReplicas != 2 || st.ReadyReplicas != 2 {
			return fmt.Errorf("rollout to %s not done: %+v", image, st)
		}
		pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Spec.Containers[0].Image != image || p.Labels[appsv1.ControllerRevisionHashLabelKey] != st.UpdateRevision {
				return fmt.Errorf("pod %s runs %s at %s", p.Name, p.Spec.Containers[0].Image, p.Labels[appsv1.ControllerRevisionHashLabelKey])
			}
		}
		return nil
	})
	return getSet(t, client, ns)
}

func setImage(t *testing.T, client kubernetes.Interface, ns, image string) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":%q}]}}}}`, image)
	if _, err := client.AppsV1().StatefulSets(ns).Patch(context.Background(), "db", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRevisionHistoryAndUndo(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "history"
	createNamespace(t, client, ns)
	startKubelet(t, client, ns)
	startController(t, client)
	set := statefulSet(2, appsv1.ParallelPodManagement)
	set.Spec.VolumeClaimTemplates = nil
	set.Spec.RevisionHistoryLimit = new(int32(1))
	if _, err := client.AppsV1().StatefulSets(ns).Create(ctx, set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := rolledOut(t, client, ns, "postgres")
	h := history(t, client, s)
	if len(h) != 1 || h[0].Revision != 1 || h[0].Name != s.Status.UpdateRevision {
		t.Fatalf("history %v, want one revision 1 named %s", revisionNames(h), s.Status.UpdateRevision)
	}
	if !bytes.Equal(h[0].Data.Raw, kubectlPatch(t, s)) {
		t.Errorf("revision data\n%s\nis not kubectl's patch\n%s", h[0].Data.Raw, kubectlPatch(t, s))
	}
	if h[0].Labels["app"] != "db" || h[0].Labels["controller.kubernetes.io/hash"] == "" {
		t.Errorf("revision labels %v", h[0].Labels)
	}

	setImage(t, client, ns, "postgres:2")
	s = rolledOut(t, client, ns, "postgres:2")
	h = history(t, client, s)
	if got := revisionNames(h); len(h) != 2 || h[1].Revision != 2 || h[1].Name != s.Status.UpdateRevision {
		t.Fatalf("history %v, want revisions 1 and 2, 2 being %s", got, s.Status.UpdateRevision)
	}

	// kubectl rollout undo: patch the set with the previous revision's data.
	if _, err := client.AppsV1().StatefulSets(ns).Patch(ctx, "db", types.StrategicMergePatchType, h[0].Data.Raw, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	s = rolledOut(t, client, ns, "postgres")
	eventually(t, 10*time.Second, func() error {
		h := history(t, client, s)
		if got := revisionNames(h); len(h) != 2 || h[1].Name != s.Status.UpdateRevision || h[1].Revision != 3 || h[0].Revision != 2 {
			return fmt.Errorf("history after undo %v, want revision 2 and 3 (%s)", got, s.Status.UpdateRevision)
		}
		return nil
	})

	// A third template: with a history limit of 1 the oldest unused goes.
	setImage(t, client, ns, "postgres:3")
	s = rolledOut(t, client, ns, "postgres:3")
	eventually(t, 10*time.Second, func() error {
		h := history(t, client, s)
		if got := revisionNames(h); len(h) != 2 || h[1].Name != s.Status.UpdateRevision || h[1].Revision != 4 || h[0].Revision != 3 {
			return fmt.Errorf("history %v, want revisions 3 and 4 (%s)", got, s.Status.UpdateRevision)
		}
		return nil
	})
}

func TestPartitionKeepsCurrentRevision(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "partition"
	createNamespace(t, client, ns)
	startKubelet(t, client, ns)
	startController(t, client)
	set := statefulSet(2, appsv1.OrderedReadyPodManagement)
	set.Spec.VolumeClaimTemplates = nil
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{
		Type:          appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(1))},
	}
	if _, err := client.AppsV1().StatefulSets(ns).Create(ctx, set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := rolledOut(t, client, ns, "postgres")
	current := s.Status.CurrentRevision

	setImage(t, client, ns, "postgres:2")
	var update string
	eventually(t, 30*time.Second, func() error {
		s := getSet(t, client, ns)
		p, err := client.CoreV1().Pods(ns).Get(ctx, "db-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Spec.Containers[0].Image != "postgres:2" || !podReady(p) || s.Status.UpdatedReplicas != 1 {
			return fmt.Errorf("db-1 not updated: %s, status %+v", p.Spec.Containers[0].Image, s.Status)
		}
		if s.Status.CurrentRevision != current || s.Status.UpdateRevision == current {
			return fmt.Errorf("revisions %s/%s, want current %s", s.Status.CurrentRevision, s.Status.UpdateRevision, current)
		}
		update = s.Status.UpdateRevision
		return nil
	})
	pod0, err := client.CoreV1().Pods(ns).Get(ctx, "db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, "db-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "db-0", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.UID == pod0.UID || !podReady(p) {
			return fmt.Errorf("db-0 not yet recreated")
		}
		if img, rev := p.Spec.Containers[0].Image, p.Labels[appsv1.ControllerRevisionHashLabelKey]; img != "postgres" || rev != current {
			return fmt.Errorf("recreated db-0 runs %s at %s, want postgres at %s (update is %s)", img, rev, current, update)
		}
		return nil
	})
}

func revisionNames(h []appsv1.ControllerRevision) []string {
	var out []string
	for _, cr := range h {
		out = append(out, fmt.Sprintf("%s=%d", cr.Name, cr.Revision))
	}
	return out
}
