package watchcache_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k1s/k1s/internal/storage"
	"github.com/k1s/k1s/internal/storage/storagetest"
	"github.com/k1s/k1s/internal/watchcache"
)

// Watchers selecting one spec.nodeName (kubelets) are indexed: each sees
// exactly its node's pods, including a pod bound to it (ADDED) and moved
// off it (DELETED), and an unindexed watcher still sees everything.
func TestIndexedWatchers(t *testing.T) {
	client := storagetest.StartEtcd(t)
	f := start(t, client, "/registry/pods/", func(cfg *watchcache.Config) { cfg.IndexField = "spec.nodeName" })
	rv := currentRevision(t, f.store)
	onNode := func(node string) storage.ListOptions {
		return storage.ListOptions{ResourceVersion: rv, Predicate: storage.Predicate{
			Field: fields.OneTermEqualSelector("spec.nodeName", node), GetAttrs: storagetest.PodAttrs}}
	}
	wa, wb := f.watch(t, onNode("a")), f.watch(t, onNode("b"))
	all := f.watch(t, storage.ListOptions{ResourceVersion: rv})

	f.create(t, "p", nil)
	setNode := func(node string) {
		t.Helper()
		_, err := f.cacher.GuaranteedUpdate(t.Context(), f.key("p"), false, nil, func(cur runtime.Object) (runtime.Object, error) {
			p := cur.(*corev1.Pod).DeepCopy()
			p.Spec.NodeName = node
			return p, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setNode("a")
	setNode("b")
	if _, err := f.cacher.Delete(t.Context(), f.key("p"), nil, nil, nil); err != nil {
		t.Fatal(err)
	}

	want := func(w watch.Interface, name string, types ...watch.EventType) {
		t.Helper()
		for _, typ := range types {
			ev := storagetest.Next(t, w)
			if ev.Type != typ {
				t.Errorf("%s: got %s, want %s", name, ev.Type, typ)
			}
		}
	}
	want(all, "unindexed", watch.Added, watch.Modified, watch.Modified, watch.Deleted)
	want(wa, "node a", watch.Added, watch.Deleted)
	want(wb, "node b", watch.Added, watch.Deleted)
	// Events of other nodes never reach node a: after a pod bound to b,
	// node a's next event is that of a pod bound to a.
	for _, p := range []struct{ name, node string }{{"q", "b"}, {"r", "a"}} {
		f.create(t, p.name, nil)
		if _, err := f.cacher.GuaranteedUpdate(t.Context(), f.key(p.name), false, nil, func(cur runtime.Object) (runtime.Object, error) {
			pod := cur.(*corev1.Pod).DeepCopy()
			pod.Spec.NodeName = p.node
			return pod, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if ev := storagetest.Next(t, wa); ev.Type != watch.Added || ev.Object.(metav1.Object).GetName() != "r" {
		t.Errorf("node a: got %s %s, want ADDED r", ev.Type, ev.Object.(metav1.Object).GetName())
	}
}
