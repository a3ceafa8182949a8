package deployment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/controller/deployment"
	"github.com/k1s/k1s/internal/controller/replicaset"
)

// cluster is an api-server with the ReplicaSet and Deployment
// controllers running, and a fake kubelet for one namespace.
type cluster struct {
	client  kubernetes.Interface
	ns      string
	kubelet *fakeKubelet
}

func startCluster(t *testing.T, ns string) *cluster {
	t.Helper()
	client, err := kubernetes.NewForConfig(startAPIServer(t))
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	rsc, err := replicaset.New(replicaset.Options{
		Client: client, ReplicaSets: factory.Apps().V1().ReplicaSets(), Pods: factory.Core().V1().Pods(), Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := deployment.New(deployment.Options{
		Client: client, Deployments: factory.Apps().V1().Deployments(), ReplicaSets: factory.Apps().V1().ReplicaSets(),
		Pods: factory.Core().V1().Pods(), Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 2)
	go func() { done <- rsc.Run(ctx) }()
	go func() { done <- dc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("controller Run: %v", err)
			}
		}
		factory.Shutdown()
	})
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return &cluster{client: client, ns: ns, kubelet: &fakeKubelet{client: client, ns: ns, node: "node-1"}}
}

func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

func rolling(d *appsv1.Deployment, surge, unavailable int) *appsv1.Deployment {
	s, u := intstr.FromInt(surge), intstr.FromInt(unavailable)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u}}
	return d
}

func (c *cluster) create(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	if _, err := c.client.AppsV1().Deployments(c.ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) get(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	d, err := c.client.AppsV1().Deployments(c.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (c *cluster) patch(t *testing.T, name string, pt types.PatchType, patch string) {
	t.Helper()
	if _, err := c.client.AppsV1().Deployments(c.ns).Patch(context.Background(), name, pt, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) setImage(t *testing.T, name, image string) {
	t.Helper()
	c.patch(t, name, types.StrategicMergePatchType,
		fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image))
}

// replicaSets returns the Deployment's ReplicaSets by revision.
func (c *cluster) replicaSets(t *testing.T, d *appsv1.Deployment) map[string]*appsv1.ReplicaSet {
	t.Helper()
	list, err := c.client.AppsV1().ReplicaSets(c.ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(d.Spec.Selector.MatchLabels).String()})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		rs := &list.Items[i]
		if metav1.IsControlledBy(rs, d) {
			out[rs.Annotations["deployment.kubernetes.io/revision"]] = rs
		}
	}
	return out
}

// rolledOut is what kubectl rollout status waits for (and a little more):
// the latest spec observed, every replica updated and available, nothing
// old left, and every pod (none terminating) on image.
func rolledOut(c *cluster, name, image string) func([]corev1.Pod) (bool, error) {
	return func(pods []corev1.Pod) (bool, error) {
		d, err := c.client.AppsV1().Deployments(c.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		n := *d.Spec.Replicas
		st := d.Status
		if d.Generation > st.ObservedGeneration || st.UpdatedReplicas != n || st.Replicas != n || st.AvailableReplicas != n {
			return false, fmt.Errorf("generation %d, status %+v", d.Generation, st)
		}
		if int32(len(pods)) != n {
			return false, fmt.Errorf("%d pods, want %d", len(pods), n)
		}
		for _, p := range pods {
			if p.DeletionTimestamp != nil || p.Spec.Containers[0].Image != image || !podReady(&p) {
				return false, fmt.Errorf("pod %s: image %s, ready %v, deleting %v", p.Name, p.Spec.Containers[0].Image, podReady(&p), p.DeletionTimestamp != nil)
			}
		}
		return true, nil
	}
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func TestRollingUpdateKeepsAvailability(t *testing.T) {
	c := startCluster(t, "roll")
	c.create(t, rolling(newDeployment("web", 6, "web:1"), 1, 1))
	c.kubelet.run(t, 20*time.Second, rolledOut(c, "web", "web:1"))

	d := c.get(t, "web")
	if cond := condition(d, appsv1.DeploymentProgressing); cond == nil || cond.Reason != "NewReplicaSetAvailable" || cond.Status != corev1.ConditionTrue {
		t.Errorf("Progressing %+v, want True/NewReplicaSetAvailable", cond)
	}
	if cond := condition(d, appsv1.DeploymentAvailable); cond == nil || cond.Status != corev1.ConditionTrue {
		t.Errorf("Available %+v, want True", cond)
	}
	if d.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Errorf("deployment revision %q, want 1", d.Annotations["deployment.kubernetes.io/revision"])
	}

	// From here on, in every state the cluster passes through: at least
	// 6-1 pods ready (and not being deleted), at most 6+1 pods active.
	pw := watchPods(t, c.client, "roll", func(pods []*corev1.Pod) error {
		ready, active := 0, 0
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				active++
				if podReady(p) {
					ready++
				}
			}
		}
		if ready < 5 {
			return fmt.Errorf("%d ready pods, want at least 5", ready)
		}
		if active > 7 {
			return fmt.Errorf("%d active pods, want at most 7", active)
		}
		return nil
	})
	c.setImage(t, "web", "web:2")
	c.kubelet.run(t, 30*time.Second, rolledOut(c, "web", "web:2"))
	if err, n := pw.err(); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("availability held over %d pod changes", n)
	}

	d = c.get(t, "web")
	rss := c.replicaSets(t, d)
	if len(rss) != 2 || rss["1"] == nil || rss["2"] == nil {
		t.Fatalf("replicasets by revision: %v", keys(rss))
	}
	if *rss["1"].Spec.Replicas != 0 || *rss["2"].Spec.Replicas != 6 {
		t.Errorf("old replicas %d new %d, want 0 and 6", *rss["1"].Spec.Replicas, *rss["2"].Spec.Replicas)
	}
	hash := rss["2"].Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if rss["2"].Name != "web-"+hash || rss["2"].Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("new replicaset %s, selector %v, hash %s", rss["2"].Name, rss["2"].Spec.Selector, hash)
	}
	if a := rss["2"].Annotations; a["deployment.kubernetes.io/desired-replicas"] != "6" || a["deployment.kubernetes.io/max-replicas"] != "7" {
		t.Errorf("new replicaset annotations %v", a)
	}
	if d.Annotations["deployment.kubernetes.io/revision"] != "2" {
		t.Errorf("deployment revision %q, want 2", d.Annotations["deployment.kubernetes.io/revision"])
	}
	events, err := c.client.CoreV1().Events("roll").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=web,reason=ScalingReplicaSet"})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range events.Items {
		msgs = append(msgs, e.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"Scaled up replica set " + rss["2"].Name + " from 0 to 1", "Scaled down replica set " + rss["1"].Name + " from 6 to 5"} {
		if !strings.Contains(all, want) {
			t.Errorf("no event %q among:\n%s", want, all)
		}
	}
}

func keys(m map[string]*appsv1.ReplicaSet) []string {
	return slices.Sorted(maps.Keys(m))
}

// TestRolloutUndo does what kubectl rollout undo does: copy the previous
// revision's template (without its hash label) into the Deployment with a
// JSON patch, and lets the controller roll back to that ReplicaSet.
func TestRolloutUndo(t *testing.T) {
	c := startCluster(t, "undo")
	c.create(t, rolling(newDeployment("api", 3, "api:1"), 1, 0))
	c.kubelet.run(t, 20*time.Second, rolledOut(c, "api", "api:1"))
	c.setImage(t, "api", "api:2")
	c.kubelet.run(t, 20*time.Second, rolledOut(c, "api", "api:2"))

	d := c.get(t, "api")
	rss := c.replicaSets(t, d)
	prev := rss["1"]
	if prev == nil {
		t.Fatalf("no revision 1 among %v", keys(rss))
	}
	tmpl := prev.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	annotations := map[string]string{"deployment.kubernetes.io/revision": d.Annotations["deployment.kubernetes.io/revision"]}
	patch, _ := json.Marshal([]any{
		map[string]any{"op": "replace", "path": "/spec/template", "value": tmpl},
		map[string]any{"op": "replace", "path": "/metadata/annotations", "value": annotations},
	})
	c.patch(t, "api", types.JSONPatchType, string(patch))
	c.kubelet.run(t, 20*time.Second, rolledOut(c, "api", "api:1"))

	d = c.get(t, "api")
	rss = c.replicaSets(t, d)
	// The old ReplicaSet is reused as revision 3; no third one appears.
	if len(rss) != 2 || rss["3"] == nil || rss["3"].UID != prev.UID || rss["2"] == nil {
		t.Fatalf("replicasets by revision %v; want 2 and 3, 3 being the former 1", keys(rss))
	}
	if h := rss["3"].Annotations["deployment.kubernetes.io/revision-history"]; h != "1" {
		t.Errorf("revision-history %q, want 1", h)
	}
	if *rss["3"].Spec.Replicas != 3 || *rss["2"].Spec.Replicas != 0 {
		t.Errorf("replicas: revision 3 has %d, revision 2 %d", *rss["3"].Spec.Replicas, *rss["2"].Spec.Replicas)
	}
	if r := d.Annotations["deployment.kubernetes.io/revision"]; r != "3" {
		t.Errorf("deployment revision %q, want 3", r)
	}
}

func TestRecreateDeletesOldPodsFirst(t *testing.T) {
	c := startCluster(t, "recreate")
	d := newDeployment("db", 3, "db:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	c.create(t, d)
	c.kubelet.run(t, 20*time.Second, rolledOut(c, "db", "db:1"))

	// In every state: no db:2 pod while any db:1 pod exists, even one
	// still terminating.
	pw := watchPods(t, c.client, "recreate", func(pods []*corev1.Pod) error {
		old, cur := 0, 0
		for _, p := range pods {
			switch p.Spec.Containers[0].Image {
			case "db:1":
				old++
			case "db:2":
				cur++
			}
		}
		if old > 0 && cur > 0 {
			return fmt.Errorf("%d old and %d new pods at once", old, cur)
		}
		return nil
	})
	c.setImage(t, "db", "db:2")
	c.kubelet.run(t, 20*time.Second, rolledOut(c, "db", "db:2"))
	if err, _ := pw.err(); err != nil {
		t.Fatal(err)
	}
}

func TestPauseStopsProgress(t *testing.T) {
	c := startCluster(t, "pause")
	c.create(t, rolling(newDeployment("app", 2, "app:1"), 1, 0))
	c.kubelet.run(t, 20*time.Second, rolledOut(c, "app", "app:1"))

	c.patch(t, "app", types.StrategicMergePatchType, `{"spec":{"paused":true}}`)
	c.setImage(t, "app", "app:2")
	// Scaling still applies while paused.
	c.patch(t, "app", types.MergePatchType, `{"spec":{"replicas":3}}`)
	want := c.get(t, "app").Generation
	eventually(t, 10*time.Second, func() error {
		d := c.get(t, "app")
		cond := condition(d, appsv1.DeploymentProgressing)
		if d.Status.ObservedGeneration < want || cond == nil || cond.Reason != "DeploymentPaused" || cond.Status != corev1.ConditionUnknown {
			return fmt.Errorf("observed %d of %d, Progressing %+v", d.Status.ObservedGeneration, want, cond)
		}
		return nil
	})
	// The controller has seen the new template and done no rollout: one
	// ReplicaSet, the old template, scaled to 3.
	c.kubelet.run(t, 20*time.Second, func(pods []corev1.Pod) (bool, error) {
		d := c.get(t, "app")
		rss := c.replicaSets(t, d)
		if len(rss) != 1 || rss["1"] == nil {
			t.Fatalf("paused deployment has replicasets %v", keys(rss))
		}
		if d.Status.AvailableReplicas != 3 || len(pods) != 3 || *rss["1"].Spec.Replicas != 3 {
			return false, fmt.Errorf("%d pods, status %+v", len(pods), d.Status)
		}
		for _, p := range pods {
			if p.Spec.Containers[0].Image != "app:1" {
				t.Fatalf("paused deployment started pod %s with %s", p.Name, p.Spec.Containers[0].Image)
			}
		}
		return true, nil
	})

	c.patch(t, "app", types.StrategicMergePatchType, `{"spec":{"paused":false}}`)
	c.kubelet.run(t, 20*time.Second, rolledOut(c, "app", "app:2"))
	d := c.get(t, "app")
	if cond := condition(d, appsv1.DeploymentProgressing); cond == nil || cond.Reason != "NewReplicaSetAvailable" {
		t.Errorf("Progressing %+v after resume, want NewReplicaSetAvailable", cond)
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	c := startCluster(t, "deadline")
	d := rolling(newDeployment("stuck", 1, "stuck:1"), 1, 0)
	d.Spec.ProgressDeadlineSeconds = new(int32(1))
	c.create(t, d)
	c.kubelet.run(t, 20*time.Second, rolledOut(c, "stuck", "stuck:1"))
	// The new pod never becomes ready: no kubelet from here on.
	c.setImage(t, "stuck", "stuck:2")
	eventually(t, 10*time.Second, func() error {
		cond := condition(c.get(t, "stuck"), appsv1.DeploymentProgressing)
		if cond == nil || cond.Reason != "ProgressDeadlineExceeded" || cond.Status != corev1.ConditionFalse {
			return fmt.Errorf("Progressing %+v", cond)
		}
		return nil
	})
}

func TestRevisionHistoryLimit(t *testing.T) {
	c := startCluster(t, "history")
	d := rolling(newDeployment("h", 1, "h:1"), 1, 0)
	d.Spec.RevisionHistoryLimit = new(int32(1))
	c.create(t, d)
	for _, image := range []string{"h:1", "h:2", "h:3"} {
		if image != "h:1" {
			c.setImage(t, "h", image)
		}
		c.kubelet.run(t, 20*time.Second, rolledOut(c, "h", image))
	}
	eventually(t, 10*time.Second, func() error {
		rss := c.replicaSets(t, c.get(t, "h"))
		if len(rss) != 2 || rss["2"] == nil || rss["3"] == nil {
			return fmt.Errorf("replicasets by revision %v, want 2 and 3", keys(rss))
		}
		return nil
	})
}

// TestProportionalScaling scales a Deployment in the middle of a rollout
// (as kubectl scale does: a merge patch of the scale subresource): both
// ReplicaSets grow in proportion, as upstream.
func TestProportionalScaling(t *testing.T) {
	c := startCluster(t, "prop")
	c.create(t, rolling(newDeployment("p", 10, "p:1"), 3, 2))
	c.kubelet.run(t, 20*time.Second, rolledOut(c, "p", "p:1"))
	// No kubelet from here on: the new pods never become ready, and the
	// rollout stops at 8 old + 5 new (13 = 10 + maxSurge 3; 8 = 10 -
	// maxUnavailable 2 available).
	c.setImage(t, "p", "p:2")
	sizes := func(old, cur int32) func() error {
		return func() error {
			rss := c.replicaSets(t, c.get(t, "p"))
			if rss["1"] == nil || rss["2"] == nil {
				return fmt.Errorf("replicasets by revision %v", keys(rss))
			}
			if *rss["1"].Spec.Replicas != old || *rss["2"].Spec.Replicas != cur {
				return fmt.Errorf("old %d new %d, want %d and %d", *rss["1"].Spec.Replicas, *rss["2"].Spec.Replicas, old, cur)
			}
			return nil
		}
	}
	eventually(t, 10*time.Second, sizes(8, 5))
	err := c.client.AppsV1().RESTClient().Patch(types.MergePatchType).Namespace("prop").
		Resource("deployments").Name("p").SubResource("scale").Body([]byte(`{"spec":{"replicas":15}}`)).
		Do(context.Background()).Error()
	if err != nil {
		t.Fatal(err)
	}
	// 5 more (18 = 15 + 3 allowed) split 8:5 → +3 old, +2 new.
	eventually(t, 10*time.Second, sizes(11, 7))
}
