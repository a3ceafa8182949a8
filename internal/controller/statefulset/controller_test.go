package statefulset_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/controller/statefulset"
)

func startController(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := statefulset.New(statefulset.Options{
		Client: client, StatefulSets: factory.Apps().V1().StatefulSets(),
		Pods: factory.Core().V1().Pods(), Claims: factory.Core().V1().PersistentVolumeClaims(),
		Revisions: factory.Apps().V1().ControllerRevisions(),
		Logger:    testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller Run: %v", err)
		}
		factory.Shutdown()
	})
}

// kubelet plays the kubelet of node "node-1" for the pods of one
// namespace, through the API: it binds pods, makes bound pods running and
// ready, and finishes graceful deletions. It records the order in which
// it first saw pods, and whether the pod before each (by ordinal) was
// already ready then.
type kubelet struct {
	mu        sync.Mutex
	seen      []string
	outOfTurn []string
}

func startKubelet(t *testing.T, client kubernetes.Interface, ns string) *kubelet {
	t.Helper()
	k := &kubelet{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			k.observe(list.Items)
			for i := range list.Items {
				kubeletStep(ctx, client, &list.Items[i])
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return k
}

func (k *kubelet) observe(pods []corev1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ready := map[string]bool{}
	for i := range pods {
		ready[pods[i].Name] = podReady(&pods[i])
	}
	for _, p := range pods {
		if slices.Contains(k.seen, p.Name) {
			continue
		}
		k.seen = append(k.seen, p.Name)
		var ord int
		if _, err := fmt.Sscanf(p.Labels["apps.kubernetes.io/pod-index"], "%d", &ord); err == nil && ord > 0 {
			prev := fmt.Sprintf("db-%d", ord-1)
			if !ready[prev] {
				k.outOfTurn = append(k.outOfTurn, p.Name)
			}
		}
	}
}

func (k *kubelet) report() ([]string, []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.seen), slices.Clone(k.outOfTurn)
}

func kubeletStep(ctx context.Context, client kubernetes.Interface, p *corev1.Pod) {
	switch {
	case p.DeletionTimestamp != nil:
		uid := p.UID
		_ = client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64(0)), Preconditions: &metav1.Preconditions{UID: &uid}})
	case p.Spec.NodeName == "":
		_ = client.CoreV1().Pods(p.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, UID: p.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: "node-1"},
		}, metav1.CreateOptions{})
	case !podReady(p):
		now := metav1.Now()
		cur := p.DeepCopy()
		cur.Status.Phase = corev1.PodRunning
		cur.Status.StartTime = &now
		cur.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		_, _ = client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func createNamespace(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func statefulSet(replicas int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			PodManagementPolicy: policy,
			ServiceName:         "db",
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "postgres"}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: resource.MustParse("1Gi"),
					}},
				},
			}},
		},
	}
}

func podNames(client kubernetes.Interface, ns string) ([]string, error) {
	list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names, nil
}

func TestOrderedReady(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "ordered"
	createNamespace(t, client, ns)
	_, err = client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := startKubelet(t, client, ns)
	startController(t, client)
	if _, err := client.AppsV1().StatefulSets(ns).Create(ctx, statefulSet(3, appsv1.OrderedReadyPodManagement), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Start: 0, 1, 2 in order, each after the one before is ready.
	eventually(t, 20*time.Second, func() error {
		s, err := client.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s.Status.ReadyReplicas != 3 || s.Status.UpdatedReplicas != 3 || s.Status.ObservedGeneration != s.Generation {
			return fmt.Errorf("status %+v", s.Status)
		}
		return nil
	})
	seen, outOfTurn := k.report()
	if want := []string{"db-0", "db-1", "db-2"}; !slices.Equal(seen, want) {
		t.Errorf("pods created in order %v, want %v", seen, want)
	}
	if len(outOfTurn) != 0 {
		t.Errorf("pods created before the previous was ready: %v", outOfTurn)
	}
	pod0, err := client.CoreV1().Pods(ns).Get(ctx, "db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod0.Spec.Hostname != "db-0" || pod0.Spec.Subdomain != "db" || pod0.Labels["statefulset.kubernetes.io/pod-name"] != "db-0" {
		t.Errorf("db-0 hostname %q subdomain %q labels %v", pod0.Spec.Hostname, pod0.Spec.Subdomain, pod0.Labels)
	}
	pvc0, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data-db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == "SuccessfulCreate" && e.Message == "create Pod db-0 in StatefulSet db successful" {
				return nil
			}
		}
		return fmt.Errorf("no SuccessfulCreate event for db-0 among %d", len(evs.Items))
	})

	// A deleted pod comes back under its name, with the same claim.
	if err := client.CoreV1().Pods(ns).Delete(ctx, "db-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "db-0", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.UID == pod0.UID || !podReady(p) {
			return fmt.Errorf("db-0 not yet replaced and ready")
		}
		var claim string
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				claim = v.PersistentVolumeClaim.ClaimName
			}
		}
		if claim != "data-db-0" {
			return fmt.Errorf("recreated db-0 uses claim %q, want data-db-0", claim)
		}
		return nil
	})
	pvc, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data-db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pvc.UID != pvc0.UID {
		t.Errorf("data-db-0 was recreated")
	}

	// Rolling update: every pod replaced, then the new revision is current.
	s, err := client.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldRevision := s.Status.UpdateRevision
	s.Spec.Template.Annotations = map[string]string{"restartedAt": "now"}
	if _, err := client.AppsV1().StatefulSets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		s, err := client.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := s.Status
		if st.UpdateRevision == oldRevision || st.CurrentRevision != st.UpdateRevision || st.UpdatedReplicas != 3 || st.ReadyReplicas != 3 {
			return fmt.Errorf("rollout not done: %+v", st)
		}
		return nil
	})

	// Scale to 0: 2, 1, 0, each gone before the next is deleted.
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	s, err = client.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Replicas = new(int32(0))
	if _, err := client.AppsV1().StatefulSets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var steps []string // "-db-2" deletion requested, "x db-2" gone
	timeout := time.After(20 * time.Second)
	for len(steps) < 6 {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			switch {
			case ev.Type == watch.Deleted:
				if !slices.Contains(steps, "- "+p.Name) {
					steps = append(steps, "- "+p.Name)
				}
				steps = append(steps, "x "+p.Name)
			case p.DeletionTimestamp != nil && !slices.Contains(steps, "- "+p.Name):
				steps = append(steps, "- "+p.Name)
			}
		case <-timeout:
			t.Fatalf("scale down incomplete: %v", steps)
		}
	}
	if want := []string{"- db-2", "x db-2", "- db-1", "x db-1", "- db-0", "x db-0"}; !slices.Equal(steps, want) {
		t.Errorf("scale down went %v, want %v", steps, want)
	}
	pvcs, err := client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pvcs.Items) != 3 {
		t.Errorf("%d claims kept after scale down, want 3", len(pvcs.Items))
	}
}

func TestParallel(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "parallel"
	createNamespace(t, client, ns)
	startController(t, client)
	// No kubelet: no pod ever becomes ready, yet all are created.
	if _, err := client.AppsV1().StatefulSets(ns).Create(ctx, statefulSet(3, appsv1.ParallelPodManagement), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		names, err := podNames(client, ns)
		if err != nil {
			return err
		}
		if want := []string{"db-0", "db-1", "db-2"}; !slices.Equal(names, want) {
			return fmt.Errorf("pods %v, want %v", names, want)
		}
		return nil
	})
}
