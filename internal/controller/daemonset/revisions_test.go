package daemonset_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/controller/daemonset"
)

func agent(name string, strategy appsv1.DaemonSetUpdateStrategy) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "agent:1"}}},
			},
			UpdateStrategy: strategy,
		},
	}
}

// kubectlPatch is what kubectl's rollback computes from a DaemonSet to
// compare with a revision's data: its template, to be replaced.
func kubectlPatch(t *testing.T, ds *appsv1.DaemonSet) []byte {
	t.Helper()
	b, err := json.Marshal(ds)
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

// history lists ds's revisions as kubectl does: by selector, controlled
// by ds, by revision number.
func history(t *testing.T, client kubernetes.Interface, ds *appsv1.DaemonSet) []appsv1.ControllerRevision {
	t.Helper()
	list, err := client.AppsV1().ControllerRevisions(ds.Namespace).List(context.Background(), metav1.ListOptions{
		LabelSelector: metav1.FormatLabelSelector(ds.Spec.Selector),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []appsv1.ControllerRevision
	for _, cr := range list.Items {
		if metav1.IsControlledBy(&cr, ds) {
			out = append(out, cr)
		}
	}
	slices.SortFunc(out, func(a, b appsv1.ControllerRevision) int { return int(a.Revision - b.Revision) })
	return out
}

// rolledOut waits until every node runs one ready pod of image, labelled
// with the hash of ds's newest revision, and returns ds and its history.
func rolledOut(t *testing.T, client kubernetes.Interface, ns, name, image string, nodes int) (*appsv1.DaemonSet, []appsv1.ControllerRevision) {
	t.Helper()
	var ds *appsv1.DaemonSet
	var h []appsv1.ControllerRevision
	eventually(t, 30*time.Second, func() error {
		var err error
		if ds, err = client.AppsV1().DaemonSets(ns).Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			return err
		}
		h = history(t, client, ds)
		if len(h) == 0 {
			return fmt.Errorf("no revisions")
		}
		hash := h[len(h)-1].Labels["controller.kubernetes.io/hash"]
		byNode, err := activeByNode(client, ns)
		if err != nil {
			return err
		}
		if len(byNode) != nodes {
			return fmt.Errorf("pods on %d nodes, want %d", len(byNode), nodes)
		}
		for n, pods := range byNode {
			if len(pods) != 1 || !podReady(&pods[0]) || pods[0].Spec.Containers[0].Image != image ||
				pods[0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != hash {
				return fmt.Errorf("node %s: %d pods, first %s at %s, want one ready %s at %s", n, len(pods),
					pods[0].Spec.Containers[0].Image, pods[0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey], image, hash)
			}
		}
		if st := ds.Status; st.UpdatedNumberScheduled != int32(nodes) || st.NumberAvailable != int32(nodes) || st.ObservedGeneration != ds.Generation {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	return ds, h
}

func setImage(t *testing.T, client kubernetes.Interface, ns, name, image string) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":%q}]}}}}`, image)
	if _, err := client.AppsV1().DaemonSets(ns).Patch(context.Background(), name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRevisionsRollbackAndOnDelete(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "revs"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createNode(t, client, "node-1")
	createNode(t, client, "node-2")
	startController(t, client)
	startScheduler(t, cfg)
	startKubelet(t, client, ns)

	two := intstr.FromInt32(2)
	ds := agent("agent", appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &two}})
	ds.Spec.RevisionHistoryLimit = new(int32(1))
	if _, err := client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ds, h := rolledOut(t, client, ns, "agent", "agent:1", 2)
	if len(h) != 1 || h[0].Revision != 1 || h[0].Name != "agent-"+h[0].Labels["controller.kubernetes.io/hash"] {
		t.Fatalf("history %v, want one revision 1", revisionNames(h))
	}
	if !bytes.Equal(h[0].Data.Raw, kubectlPatch(t, ds)) {
		t.Errorf("revision data\n%s\nis not kubectl's patch\n%s", h[0].Data.Raw, kubectlPatch(t, ds))
	}

	setImage(t, client, ns, "agent", "agent:2")
	_, h = rolledOut(t, client, ns, "agent", "agent:2", 2)
	if len(h) != 2 || h[1].Revision != 2 {
		t.Fatalf("history %v, want revisions 1 and 2", revisionNames(h))
	}

	// kubectl rollout undo: patch the DaemonSet with revision 1's data.
	if _, err := client.AppsV1().DaemonSets(ns).Patch(ctx, "agent", types.StrategicMergePatchType, h[0].Data.Raw, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	rev1 := h[0].Name
	eventually(t, 10*time.Second, func() error {
		_, h = rolledOut(t, client, ns, "agent", "agent:1", 2)
		if len(h) != 2 || h[1].Name != rev1 || h[1].Revision != 3 || h[0].Revision != 2 {
			return fmt.Errorf("history after undo %v, want %s renumbered 3 after 2", revisionNames(h), rev1)
		}
		return nil
	})

	// A third template: with a history limit of 1 the oldest unused goes.
	setImage(t, client, ns, "agent", "agent:3")
	eventually(t, 10*time.Second, func() error {
		_, h = rolledOut(t, client, ns, "agent", "agent:3", 2)
		if len(h) != 2 || h[1].Revision != 4 || h[0].Revision != 3 {
			return fmt.Errorf("history %v, want revisions 3 and 4", revisionNames(h))
		}
		return nil
	})

	// OnDelete: a new template replaces only the pod someone deletes.
	patch := []byte(`{"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null}}}`)
	if _, err := client.AppsV1().DaemonSets(ns).Patch(ctx, "agent", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	setImage(t, client, ns, "agent", "agent:4")
	var victim string
	eventually(t, 10*time.Second, func() error {
		ds, err := client.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ds.Status.ObservedGeneration != ds.Generation {
			return fmt.Errorf("generation %d not observed", ds.Generation)
		}
		byNode, err := activeByNode(client, ns)
		if err != nil {
			return err
		}
		victim = byNode["node-1"][0].Name
		return nil
	})
	// The generation was observed by the reconcile that saw the new
	// template: had it replaced pods, it would have done so then.
	byNode, err := activeByNode(client, ns)
	if err != nil {
		t.Fatal(err)
	}
	for n, pods := range byNode {
		if img := pods[0].Spec.Containers[0].Image; img != "agent:3" {
			t.Errorf("OnDelete: pod on %s runs %s before anyone deleted it", n, img)
		}
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() error {
		byNode, err := activeByNode(client, ns)
		if err != nil {
			return err
		}
		got := fmt.Sprint(len(byNode["node-1"]), len(byNode["node-2"]))
		if got != "1 1" {
			return fmt.Errorf("pods per node %s", got)
		}
		if a, b := byNode["node-1"][0].Spec.Containers[0].Image, byNode["node-2"][0].Spec.Containers[0].Image; a != "agent:4" || b != "agent:3" {
			return fmt.Errorf("node-1 runs %s, node-2 %s; want agent:4 and agent:3", a, b)
		}
		return nil
	})
}

func TestFailedPodsBackOff(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "failing"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createNode(t, client, "bad")
	startController(t, client, func(o *daemonset.Options) {
		o.FailedPodsBackoffBase, o.FailedPodsBackoffMax = 400*time.Millisecond, time.Minute
	})
	startScheduler(t, cfg)
	// The kubelet of node "bad" rejects every pod it gets.
	created := map[string]bool{}
	kctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-kctx.Done():
				return
			case <-tick.C:
			}
			list, err := client.CoreV1().Pods(ns).List(kctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, p := range list.Items {
				created[p.Name] = true
				switch {
				case p.DeletionTimestamp != nil:
					uid := p.UID
					_ = client.CoreV1().Pods(ns).Delete(kctx, p.Name, metav1.DeleteOptions{
						GracePeriodSeconds: new(int64(0)), Preconditions: &metav1.Preconditions{UID: &uid}})
				case p.Spec.NodeName != "" && p.Status.Phase != corev1.PodFailed:
					cur := p.DeepCopy()
					cur.Status.Phase, cur.Status.Reason = corev1.PodFailed, "NodeAffinity"
					_, _ = client.CoreV1().Pods(ns).UpdateStatus(kctx, cur, metav1.UpdateOptions{})
				}
			}
		}
	}()
	start := time.Now()
	if _, err := client.AppsV1().DaemonSets(ns).Create(ctx, agent("crashy", appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Deletions at about 0, 0.4, 1.2, 2.8s: at most 4 or 5 pods in 3s,
	// where a hot loop makes dozens.
	eventually(t, 10*time.Second, func() error {
		evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == "FailedDaemonPod" && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no FailedDaemonPod event")
	})
	time.Sleep(3*time.Second - time.Since(start))
	cancel()
	<-done
	if n := len(created); n < 2 || n > 5 {
		t.Errorf("%d pods created on the failing node in 3s, want 2 to 5 (backing off)", n)
	}
}

func revisionNames(h []appsv1.ControllerRevision) []string {
	var out []string
	for _, cr := range h {
		out = append(out, fmt.Sprintf("%s=%d", cr.Name, cr.Revision))
	}
	return out
}

func TestRollingUpdateWithSurge(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "surge"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createNode(t, client, "node-1")
	createNode(t, client, "node-2")
	startController(t, client)
	startScheduler(t, cfg)
	startKubelet(t, client, ns)
	zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
	ds := agent("surger", appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &zero, MaxSurge: &one}})
	if _, err := client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rolledOut(t, client, ns, "surger", "agent:1", 2)
	setImage(t, client, ns, "surger", "agent:2")
	// Every node keeps a ready pod throughout; at most one runs two.
	eventually(t, 30*time.Second, func() error {
		byNode, err := activeByNode(client, ns)
		if err != nil {
			return err
		}
		doubled, updated := 0, 0
		for _, n := range []string{"node-1", "node-2"} {
			pods := byNode[n]
			if !slices.ContainsFunc(pods, func(p corev1.Pod) bool { return podReady(&p) }) {
				t.Fatalf("node %s has no ready pod during the rollout", n)
			}
			if len(pods) > 1 {
				doubled++
			}
			if len(pods) == 1 && pods[0].Spec.Containers[0].Image == "agent:2" {
				updated++
			}
		}
		if doubled > 1 {
			t.Fatalf("%d nodes surging at once, maxSurge is 1", doubled)
		}
		if updated != 2 {
			return fmt.Errorf("%d nodes updated", updated)
		}
		return nil
	})
	rolledOut(t, client, ns, "surger", "agent:2", 2)
}
