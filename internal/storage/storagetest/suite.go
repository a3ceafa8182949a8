package storagetest

import (
	"context"
	"strconv"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k1s/k1s/internal/storage"
)

// Fixture is one store under test.
type Fixture struct {
	// Store keeps core/v1 Pods (NewPod, NewPodList, Codec) under the
	// prefix given to NewFixture, at keys prefix+namespace+"/"+name.
	Store storage.Interface
	// Client is the etcd under Store; the suite uses it to compact.
	Client *clientv3.Client
}

// NewFixture makes a fresh store whose keys all live under prefix (unique
// per call). It registers its own cleanup with t.
type NewFixture func(t *testing.T, prefix string) Fixture

// RunTests runs the conformance suite of storage.Interface: every test gets
// its own fixture. Tests run one after another (they share the etcd of the
// caller's fixtures); the compaction test runs last.
func RunTests(t *testing.T, newFixture NewFixture) {
	tests := []struct {
		name string
		fn   func(*env)
	}{
		{"Create", testCreate},
		{"Get", testGet},
		{"List", testList},
		{"ListPagination", testListPagination},
		{"ListPaginationFiltered", testListPaginationFiltered},
		{"ListExactRV", testListExactRV},
		{"GuaranteedUpdate", testGuaranteedUpdate},
		{"GuaranteedUpdateConcurrent", testGuaranteedUpdateConcurrent},
		{"Delete", testDelete},
		{"CurrentRevision", testCurrentRevision},
		{"WatchFromRV", testWatchFromRV},
		{"WatchFromState", testWatchFromState},
		{"WatchSendInitialEvents", testWatchSendInitialEvents},
		{"WatchSingleKey", testWatchSingleKey},
		{"WatchPredicate", testWatchPredicate},
		{"WatchBookmarks", testWatchBookmarks},
		{"WatchStop", testWatchStop},
		{"Compaction", testCompaction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "/registry/storagetest/" + strings.ToLower(tt.name) + "/"
			f := newFixture(t, prefix)
			tt.fn(&env{t: t, ctx: t.Context(), s: f.Store, client: f.Client, prefix: prefix})
		})
	}
}

// env is what a test of the suite works with.
type env struct {
	t      *testing.T
	ctx    context.Context
	s      storage.Interface
	client *clientv3.Client
	prefix string
}

func (e *env) key(ns, name string) string { return e.prefix + ns + "/" + name }

func (e *env) create(p pod) *corev1.Pod {
	e.t.Helper()
	out, err := e.s.Create(e.ctx, e.key(p.ns, p.name), p.object())
	if err != nil {
		e.t.Fatalf("create %s/%s: %v", p.ns, p.name, err)
	}
	return out.(*corev1.Pod)
}

// update sets the labels of ns/name and returns the stored pod.
func (e *env) update(ns, name string, labels map[string]string) *corev1.Pod {
	e.t.Helper()
	out, err := e.s.GuaranteedUpdate(e.ctx, e.key(ns, name), false, nil, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*corev1.Pod)
		p.Labels = labels
		return p, nil
	})
	if err != nil {
		e.t.Fatalf("update %s/%s: %v", ns, name, err)
	}
	return out.(*corev1.Pod)
}

func (e *env) delete(ns, name string) *corev1.Pod {
	e.t.Helper()
	out, err := e.s.Delete(e.ctx, e.key(ns, name), nil, nil, nil)
	if err != nil {
		e.t.Fatalf("delete %s/%s: %v", ns, name, err)
	}
	return out.(*corev1.Pod)
}

func (e *env) list(prefix string, opts storage.ListOptions) *corev1.PodList {
	e.t.Helper()
	out, err := e.s.List(e.ctx, prefix, opts)
	if err != nil {
		e.t.Fatalf("list %s %+v: %v", prefix, opts, err)
	}
	return out.(*corev1.PodList)
}

func (e *env) currentRevision() int64 {
	e.t.Helper()
	rev, err := e.s.CurrentRevision(e.ctx)
	if err != nil {
		e.t.Fatalf("current revision: %v", err)
	}
	return rev
}

// rv parses an object's resourceVersion.
func rv(t *testing.T, obj runtime.Object) int64 {
	t.Helper()
	acc, err := meta.Accessor(obj)
	if err != nil {
		t.Fatalf("accessor: %v", err)
	}
	n, err := strconv.ParseInt(acc.GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion of %T %q: %v", obj, acc.GetName(), err)
	}
	return n
}

func listRV(t *testing.T, list *corev1.PodList) int64 {
	t.Helper()
	n, err := strconv.ParseInt(list.ResourceVersion, 10, 64)
	if err != nil {
		t.Fatalf("list resourceVersion %q: %v", list.ResourceVersion, err)
	}
	return n
}

func names(list *corev1.PodList) string {
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return strings.Join(out, ",")
}

func str(n int64) string { return strconv.FormatInt(n, 10) }
