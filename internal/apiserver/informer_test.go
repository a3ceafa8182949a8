package apiserver_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// recorder counts informer notifications per object name.
type recorder struct {
	mu     sync.Mutex
	events map[string][]string // name -> add/update/delete
}

func (r *recorder) handler() cache.ResourceEventHandlerFuncs {
	rec := func(kind string, obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		m, err := metaName(obj)
		if err != nil {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events[m] = append(r.events[m], kind)
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { rec("add", obj) },
		UpdateFunc: func(_, obj any) { rec("update", obj) },
		DeleteFunc: func(obj any) { rec("delete", obj) },
	}
}

func metaName(obj any) (string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return "", fmt.Errorf("%T has no metadata", obj)
	}
	return m.GetName(), nil
}

func (r *recorder) has(name string, kinds ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.events[name]
	i := 0
	for _, k := range got {
		if i < len(kinds) && k == kinds[i] {
			i++
		}
	}
	if i < len(kinds) {
		return fmt.Errorf("%s: events %v, want %v in order", name, got, kinds)
	}
	return nil
}

func TestInformersAcrossRestart(t *testing.T) {
	ts := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := kubernetes.NewForConfig(ts.config())
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(c, 0)
	cmRec := &recorder{events: map[string][]string{}}
	depRec := &recorder{events: map[string][]string{}}
	nsRec := &recorder{events: map[string][]string{}}
	factory.Core().V1().ConfigMaps().Informer().AddEventHandler(cmRec.handler())
	factory.Apps().V1().Deployments().Informer().AddEventHandler(depRec.handler())
	factory.Core().V1().Namespaces().Informer().AddEventHandler(nsRec.handler())
	factory.Start(ctx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, 30*time.Second)
	defer syncCancel()
	for typ, ok := range factory.WaitForCacheSync(syncCtx.Done()) {
		if !ok {
			t.Fatalf("%v did not sync", typ)
		}
	}
	// Handlers hear of the initial list after the store has synced.
	eventually(t, 10*time.Second, func() error { return nsRec.has("default", "add") })

	cms := c.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{"a": "b"}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "before", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "dep"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	if _, err := c.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error { return cmRec.has("before", "add", "update", "delete") })
	eventually(t, 10*time.Second, func() error { return depRec.has("dep", "add") })

	listsBefore := ts.lists.Load()
	ts.restart()

	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.AppsV1().Deployments("default").Delete(ctx, "dep", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error { return cmRec.has("after", "add") })
	eventually(t, 30*time.Second, func() error { return depRec.has("dep", "add", "delete") })
	if n := ts.lists.Load() - listsBefore; n != 0 {
		t.Errorf("informers relisted %d times across the restart; want watches resumed from their resourceVersion", n)
	}
}
