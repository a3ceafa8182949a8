package storagetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k1s/k1s/internal/storage"
)

func testCreate(e *env) {
	t := e.t
	in := pod{ns: "ns1", name: "a", labels: map[string]string{"app": "web"}}.object()
	out, err := e.s.Create(e.ctx, e.key("ns1", "a"), in)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	got := out.(*corev1.Pod)
	if got == in {
		t.Errorf("create returned the object it was given, want a fresh one")
	}
	if in.ResourceVersion != "" {
		t.Errorf("create set resourceVersion %q on its input", in.ResourceVersion)
	}
	if rv(t, got) <= 0 {
		t.Errorf("resourceVersion = %q, want > 0", got.ResourceVersion)
	}
	if got.Name != "a" || got.Namespace != "ns1" || got.Labels["app"] != "web" || got.Spec.Containers[0].Image != "busybox" {
		t.Errorf("create returned %+v, want the stored pod", got.ObjectMeta)
	}

	_, err = e.s.Create(e.ctx, e.key("ns1", "a"), pod{ns: "ns1", name: "a"}.object())
	if !storage.IsExists(err) {
		t.Errorf("second create: err = %v, want KeyExists", err)
	}

	withRV := pod{ns: "ns1", name: "b"}.object()
	withRV.ResourceVersion = "5"
	_, err = e.s.Create(e.ctx, e.key("ns1", "b"), withRV)
	if storage.Code(err) != storage.ErrCodeInvalidObj {
		t.Errorf("create with resourceVersion: err = %v, want InvalidObj", err)
	}
}

func testGet(e *env) {
	t := e.t
	created := e.create(pod{ns: "ns1", name: "a", labels: map[string]string{"app": "web"}})

	for _, version := range []string{"", created.ResourceVersion} {
		out, err := e.s.Get(e.ctx, e.key("ns1", "a"), storage.GetOptions{ResourceVersion: version})
		if err != nil {
			t.Fatalf("get rv %q: %v", version, err)
		}
		got := out.(*corev1.Pod)
		if got.ResourceVersion != created.ResourceVersion || got.Labels["app"] != "web" {
			t.Errorf("get rv %q = rv %s labels %v, want rv %s app=web", version, got.ResourceVersion, got.Labels, created.ResourceVersion)
		}
		// The caller owns what it gets.
		got.Labels["mutated"] = "yes"
		again, err := e.s.Get(e.ctx, e.key("ns1", "a"), storage.GetOptions{ResourceVersion: version})
		if err != nil {
			t.Fatalf("get again: %v", err)
		}
		if _, ok := again.(*corev1.Pod).Labels["mutated"]; ok {
			t.Errorf("get rv %q: mutating a returned object changed the store", version)
		}
	}

	for _, version := range []string{"", "0", created.ResourceVersion} {
		_, err := e.s.Get(e.ctx, e.key("ns1", "missing"), storage.GetOptions{ResourceVersion: version})
		if !storage.IsNotFound(err) {
			t.Errorf("get missing rv %q: err = %v, want NotFound", version, err)
		}
	}

	future := str(e.currentRevision() + 100)
	_, err := e.s.Get(e.ctx, e.key("ns1", "a"), storage.GetOptions{ResourceVersion: future})
	if storage.Code(err) != storage.ErrCodeTooLarge {
		t.Errorf("get at future rv: err = %v, want TooLarge", err)
	}
}

func testList(e *env) {
	t := e.t
	e.create(pod{ns: "ns1", name: "a", labels: map[string]string{"app": "web"}, node: "n1"})
	e.create(pod{ns: "ns1", name: "b", labels: map[string]string{"app": "db"}, node: "n2"})
	e.create(pod{ns: "ns2", name: "c", labels: map[string]string{"app": "web"}, node: "n2"})
	last := e.create(pod{ns: "ns2", name: "d", labels: map[string]string{"app": "web", "tier": "1"}, node: "n1", phase: corev1.PodRunning})
	lastRV := rv(t, last)
	// A key that shares the prefix as a string but is another namespace.
	e.create(pod{ns: "ns10", name: "z", labels: map[string]string{"app": "web"}})

	tests := []struct {
		name   string
		prefix string
		label  string
		field  string
		want   string
	}{
		{"all", "", "", "", "ns1/a,ns1/b,ns10/z,ns2/c,ns2/d"},
		{"namespace", "ns1/", "", "", "ns1/a,ns1/b"},
		{"namespace without slash", "ns1", "", "", "ns1/a,ns1/b"},
		{"label", "", "app=web", "", "ns1/a,ns10/z,ns2/c,ns2/d"},
		{"label set", "", "app in (db),!tier", "", "ns1/b"},
		{"field", "", "", "spec.nodeName=n2", "ns1/b,ns2/c"},
		{"label and field", "", "app=web", "spec.nodeName=n1", "ns1/a,ns2/d"},
		{"phase", "", "", "status.phase=Running", "ns2/d"},
		{"namespace and label", "ns2/", "app=web", "", "ns2/c,ns2/d"},
		{"field namespace", "", "", "metadata.namespace=ns2,metadata.name!=c", "ns2/d"},
		{"nothing", "", "app=nope", "", ""},
	}
	for _, tt := range tests {
		for _, opts := range []storage.ListOptions{
			{ResourceVersion: ""},
			{ResourceVersion: str(lastRV)},
			{ResourceVersion: str(lastRV), ResourceVersionMatch: string(metav1.ResourceVersionMatchNotOlderThan)},
		} {
			opts.Predicate = podPredicate(t, tt.label, tt.field)
			list := e.list(e.prefix+tt.prefix, opts)
			if got := names(list); got != tt.want {
				t.Errorf("%s (rv %q %s): got %q, want %q", tt.name, opts.ResourceVersion, opts.ResourceVersionMatch, got, tt.want)
			}
			if listRV(t, list) < lastRV {
				t.Errorf("%s: list resourceVersion %s < last write %d", tt.name, list.ResourceVersion, lastRV)
			}
			if list.Continue != "" {
				t.Errorf("%s: unpaginated list has continue %q", tt.name, list.Continue)
			}
			for _, p := range list.Items {
				if p.ResourceVersion == "" {
					t.Errorf("%s: item %s has no resourceVersion", tt.name, p.Name)
				}
			}
		}
	}

	// resourceVersion "0" may serve any state, but never a wrong one.
	list := e.list(e.prefix, storage.ListOptions{ResourceVersion: "0", Predicate: podPredicate(t, "app=db", "")})
	if got := names(list); got != "" && got != "ns1/b" {
		t.Errorf("list rv 0 app=db: got %q", got)
	}
}

// pageThrough lists prefix with limit until the end and returns the pages.
func (e *env) pageThrough(opts storage.ListOptions, between func(page int)) []*corev1.PodList {
	e.t.Helper()
	var pages []*corev1.PodList
	for {
		list := e.list(e.prefix, opts)
		pages = append(pages, list)
		if list.Continue == "" {
			return pages
		}
		if len(pages) > 100 {
			e.t.Fatalf("more than 100 pages")
		}
		if between != nil {
			between(len(pages))
		}
		opts.Continue = list.Continue
		opts.ResourceVersion = ""
	}
}

func testListPagination(e *env) {
	t := e.t
	for i := range 25 {
		e.create(pod{ns: "ns1", name: fmt.Sprintf("p%02d", i)})
	}
	pages := e.pageThrough(storage.ListOptions{Limit: 7}, func(page int) {
		if page == 1 {
			// Changes after the first page are not in the snapshot.
			e.create(pod{ns: "ns1", name: "p10x"})
			e.delete("ns1", "p20")
		}
	})
	var sizes []int
	var all []string
	for _, p := range pages {
		sizes = append(sizes, len(p.Items))
		for _, item := range p.Items {
			all = append(all, item.Name)
		}
		if p.ResourceVersion != pages[0].ResourceVersion {
			t.Errorf("page resourceVersion %s, first page %s: want one snapshot", p.ResourceVersion, pages[0].ResourceVersion)
		}
	}
	if got, want := fmt.Sprint(sizes), "[7 7 7 4]"; got != want {
		t.Errorf("page sizes %s, want %s", got, want)
	}
	var want []string
	for i := range 25 {
		want = append(want, fmt.Sprintf("p%02d", i))
	}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Errorf("paged items %v, want %v", all, want)
	}
	if rc := pages[0].RemainingItemCount; rc == nil || *rc != 18 {
		t.Errorf("first page remainingItemCount = %v, want 18", rc)
	}

	// A paginated list at an exact revision: the snapshot before the changes.
	first := listRV(t, pages[0])
	list := e.list(e.prefix, storage.ListOptions{ResourceVersion: str(first), ResourceVersionMatch: string(metav1.ResourceVersionMatchExact), Limit: 100})
	if len(list.Items) != 25 {
		t.Errorf("exact list at %d has %d items, want 25", first, len(list.Items))
	}

	_, err := e.s.List(e.ctx, e.prefix, storage.ListOptions{Limit: 5, Continue: "not-a-token"})
	if storage.Code(err) != storage.ErrCodeInvalidObj {
		t.Errorf("bad continue token: err = %v, want InvalidObj", err)
	}
}

func testListPaginationFiltered(e *env) {
	t := e.t
	var want []string
	for i := range 60 {
		labels := map[string]string{}
		if i%10 == 3 {
			labels["sel"] = "yes"
			want = append(want, fmt.Sprintf("f%02d", i))
		}
		e.create(pod{ns: "ns1", name: fmt.Sprintf("f%02d", i), labels: labels})
	}
	const limit = 2
	pages := e.pageThrough(storage.ListOptions{Limit: limit, Predicate: podPredicate(t, "sel=yes", "")}, nil)
	var got []string
	for i, p := range pages {
		if i < len(pages)-1 && len(p.Items) != limit {
			t.Errorf("page %d has %d items, want %d: pages must be filled while items remain", i, len(p.Items), limit)
		}
		for _, item := range p.Items {
			got = append(got, item.Name)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("filtered pages %v, want %v", got, want)
	}
	if len(pages) > len(want)/limit+1 {
		t.Errorf("%d pages for %d items with limit %d", len(pages), len(want), limit)
	}
}

func testListExactRV(e *env) {
	t := e.t
	a := e.create(pod{ns: "ns1", name: "a", labels: map[string]string{"v": "1"}})
	b := e.create(pod{ns: "ns1", name: "b"})
	e.update("ns1", "a", map[string]string{"v": "2"})

	tests := []struct {
		name string
		opts storage.ListOptions
		want string
		v    string
	}{
		{"exact at a", storage.ListOptions{ResourceVersion: a.ResourceVersion, ResourceVersionMatch: string(metav1.ResourceVersionMatchExact)}, "ns1/a", "1"},
		{"exact at b", storage.ListOptions{ResourceVersion: b.ResourceVersion, ResourceVersionMatch: string(metav1.ResourceVersionMatchExact)}, "ns1/a,ns1/b", "1"},
		{"legacy limit at a", storage.ListOptions{ResourceVersion: a.ResourceVersion, Limit: 10}, "ns1/a", "1"},
		{"newest", storage.ListOptions{}, "ns1/a,ns1/b", "2"},
	}
	for _, tt := range tests {
		list := e.list(e.prefix, tt.opts)
		if got := names(list); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
			continue
		}
		if v := list.Items[0].Labels["v"]; v != tt.v {
			t.Errorf("%s: a has v=%s, want %s", tt.name, v, tt.v)
		}
		if tt.opts.ResourceVersion != "" && list.ResourceVersion != tt.opts.ResourceVersion {
			t.Errorf("%s: list resourceVersion %s, want %s", tt.name, list.ResourceVersion, tt.opts.ResourceVersion)
		}
	}

	future := str(e.currentRevision() + 100)
	for _, match := range []string{"", string(metav1.ResourceVersionMatchNotOlderThan), string(metav1.ResourceVersionMatchExact)} {
		_, err := e.s.List(e.ctx, e.prefix, storage.ListOptions{ResourceVersion: future, ResourceVersionMatch: match})
		if storage.Code(err) != storage.ErrCodeTooLarge {
			t.Errorf("list at future rv, match %q: err = %v, want TooLarge", match, err)
		}
	}
}

func testGuaranteedUpdate(e *env) {
	t := e.t
	created := e.create(pod{ns: "ns1", name: "a", labels: map[string]string{"v": "1"}})
	key := e.key("ns1", "a")

	// A change is written at a new revision.
	updated := e.update("ns1", "a", map[string]string{"v": "2"})
	if rv(t, updated) <= rv(t, created) || updated.Labels["v"] != "2" {
		t.Errorf("update: rv %s labels %v, want rv > %s and v=2", updated.ResourceVersion, updated.Labels, created.ResourceVersion)
	}

	// No change: nothing is written, the current object comes back.
	before := e.currentRevision()
	out, err := e.s.GuaranteedUpdate(e.ctx, key, false, nil, func(cur runtime.Object) (runtime.Object, error) {
		return cur, nil
	})
	if err != nil {
		t.Fatalf("no-op update: %v", err)
	}
	if out.(*corev1.Pod).ResourceVersion != updated.ResourceVersion || e.currentRevision() != before {
		t.Errorf("no-op update wrote: rv %s (was %s), revision %d (was %d)", out.(*corev1.Pod).ResourceVersion, updated.ResourceVersion, e.currentRevision(), before)
	}

	// The resourceVersion tryUpdate returns does not matter to the store.
	out, err = e.s.GuaranteedUpdate(e.ctx, key, false, nil, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*corev1.Pod)
		p.ResourceVersion = "1"
		p.Labels["v"] = "3"
		return p, nil
	})
	if err != nil || out.(*corev1.Pod).Labels["v"] != "3" || rv(t, out) <= rv(t, updated) {
		t.Errorf("update with stale rv: %v, %v", out, err)
	}
	current := out.(*corev1.Pod)

	// tryUpdate's error comes back as is and nothing is written.
	errStop := errors.New("stop")
	_, err = e.s.GuaranteedUpdate(e.ctx, key, false, nil, func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Labels["v"] = "garbage"
		return nil, errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("tryUpdate error: got %v, want %v", err, errStop)
	}
	got, err := e.s.Get(e.ctx, key, storage.GetOptions{})
	if err != nil || got.(*corev1.Pod).Labels["v"] != "3" {
		t.Errorf("after failed tryUpdate: %v, %v", got, err)
	}

	// A missing key.
	called := false
	_, err = e.s.GuaranteedUpdate(e.ctx, e.key("ns1", "missing"), false, nil, func(cur runtime.Object) (runtime.Object, error) {
		called = true
		return cur, nil
	})
	if !storage.IsNotFound(err) || called {
		t.Errorf("update of missing key: err = %v, tryUpdate called = %v; want NotFound, not called", err, called)
	}
	out, err = e.s.GuaranteedUpdate(e.ctx, e.key("ns1", "new"), true, nil, func(cur runtime.Object) (runtime.Object, error) {
		if cur != nil {
			return nil, fmt.Errorf("current = %v, want nil", cur)
		}
		return pod{ns: "ns1", name: "new"}.object(), nil
	})
	if err != nil || out.(*corev1.Pod).Name != "new" || rv(t, out) <= 0 {
		t.Fatalf("create through update: %v, %v", out, err)
	}
	if _, err := e.s.Get(e.ctx, e.key("ns1", "new"), storage.GetOptions{}); err != nil {
		t.Errorf("get after create through update: %v", err)
	}

	// Preconditions.
	uid, otherUID := uidOf("ns1", "a"), types.UID("other")
	staleRV, curRV := created.ResourceVersion, current.ResourceVersion
	tests := []struct {
		name string
		pre  storage.Preconditions
		code int
	}{
		{"uid matches", storage.Preconditions{UID: &uid}, 0},
		{"uid differs", storage.Preconditions{UID: &otherUID}, storage.ErrCodeInvalidObj},
		{"rv differs", storage.Preconditions{ResourceVersion: &staleRV}, storage.ErrCodeResourceVersionConflicts},
		{"both match", storage.Preconditions{UID: &uid, ResourceVersion: &curRV}, 0},
	}
	for i, tt := range tests {
		out, err := e.s.GuaranteedUpdate(e.ctx, key, false, &tt.pre, func(cur runtime.Object) (runtime.Object, error) {
			p := cur.(*corev1.Pod)
			p.Labels["step"] = strconv.Itoa(i)
			return p, nil
		})
		if storage.Code(err) != tt.code {
			t.Errorf("%s: err = %v, want code %d", tt.name, err, tt.code)
		}
		if err == nil {
			curRV = out.(*corev1.Pod).ResourceVersion
		}
	}
}

func testGuaranteedUpdateConcurrent(e *env) {
	t := e.t
	e.create(pod{ns: "ns1", name: "counter", labels: map[string]string{"count": "0"}})
	const workers, increments = 10, 20
	var calls atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers*increments)
	for range workers {
		wg.Go(func() {
			for range increments {
				_, err := e.s.GuaranteedUpdate(e.ctx, e.key("ns1", "counter"), false, nil, func(cur runtime.Object) (runtime.Object, error) {
					calls.Add(1)
					p := cur.(*corev1.Pod)
					n, err := strconv.Atoi(p.Labels["count"])
					if err != nil {
						return nil, err
					}
					p.Labels["count"] = strconv.Itoa(n + 1)
					return p, nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent update: %v", err)
	}
	out, err := e.s.Get(e.ctx, e.key("ns1", "counter"), storage.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got, want := out.(*corev1.Pod).Labels["count"], strconv.Itoa(workers*increments); got != want {
		t.Errorf("count = %s, want %s", got, want)
	}
	if calls.Load() < workers*increments {
		t.Errorf("tryUpdate called %d times, want at least %d", calls.Load(), workers*increments)
	}
}

func testDelete(e *env) {
	t := e.t
	created := e.create(pod{ns: "ns1", name: "a", labels: map[string]string{"app": "web"}})
	key := e.key("ns1", "a")
	uid, otherUID := uidOf("ns1", "a"), types.UID("other")
	staleRV := "1"
	errNo := errors.New("no")

	failures := []struct {
		name     string
		pre      *storage.Preconditions
		validate func(runtime.Object) error
		code     int
		err      error
	}{
		{"uid differs", &storage.Preconditions{UID: &otherUID}, nil, storage.ErrCodeInvalidObj, nil},
		{"rv differs", &storage.Preconditions{ResourceVersion: &staleRV}, nil, storage.ErrCodeResourceVersionConflicts, nil},
		{"validate refuses", nil, func(runtime.Object) error { return errNo }, 0, errNo},
	}
	for _, tt := range failures {
		_, err := e.s.Delete(e.ctx, key, tt.pre, tt.validate, nil)
		if tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
		if tt.err == nil && storage.Code(err) != tt.code {
			t.Errorf("%s: err = %v, want code %d", tt.name, err, tt.code)
		}
		if _, err := e.s.Get(e.ctx, key, storage.GetOptions{}); err != nil {
			t.Errorf("%s: object gone after a failed delete: %v", tt.name, err)
		}
	}

	var validated runtime.Object
	out, err := e.s.Delete(e.ctx, key, &storage.Preconditions{UID: &uid, ResourceVersion: &created.ResourceVersion}, func(cur runtime.Object) error {
		validated = cur
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if p, ok := validated.(*corev1.Pod); !ok || p.Name != "a" || p.ResourceVersion != created.ResourceVersion {
		t.Errorf("validate got %v, want the current pod", validated)
	}
	got := out.(*corev1.Pod)
	if got.Name != "a" || got.Labels["app"] != "web" || got.ResourceVersion != created.ResourceVersion {
		t.Errorf("delete returned %+v, want the last state", got.ObjectMeta)
	}
	if _, err := e.s.Get(e.ctx, key, storage.GetOptions{}); !storage.IsNotFound(err) {
		t.Errorf("get after delete: err = %v, want NotFound", err)
	}
	// A stale cached read is only a first guess: the store deletes the
	// current object and returns its last state.
	staleKey := e.key("ns", "stale")
	stale := e.create(pod{ns: "ns", name: "stale"})
	e.update("ns", "stale", map[string]string{"v": "2"})
	gone, err := e.s.Delete(e.ctx, staleKey, nil, nil, stale)
	if err != nil {
		t.Fatalf("delete with a stale cached object: %v", err)
	}
	if p := gone.(*corev1.Pod); p.Labels["v"] != "2" {
		t.Errorf("delete with a stale cached object returned %v, want the current state", p.Labels)
	}
	if _, err := e.s.Delete(e.ctx, key, nil, nil, nil); !storage.IsNotFound(err) {
		t.Errorf("delete of missing key: err = %v, want NotFound", err)
	}
}

func testCurrentRevision(e *env) {
	t := e.t
	a := e.create(pod{ns: "ns1", name: "a"})
	if got := e.currentRevision(); got < rv(t, a) {
		t.Errorf("current revision %d < resourceVersion %s of a write before", got, a.ResourceVersion)
	}
	b := e.update("ns1", "a", map[string]string{"x": "y"})
	if got := e.currentRevision(); got < rv(t, b) {
		t.Errorf("current revision %d < resourceVersion %s of a write before", got, b.ResourceVersion)
	}
}

func testCompaction(e *env) {
	t := e.t
	a := e.create(pod{ns: "ns1", name: "a"})
	e.create(pod{ns: "ns1", name: "b"})
	e.create(pod{ns: "ns1", name: "c"})
	page := e.list(e.prefix, storage.ListOptions{Limit: 1})
	if page.Continue == "" {
		t.Fatalf("no continue token")
	}
	e.update("ns1", "a", map[string]string{"v": "2"})
	rev := e.currentRevision()
	if _, err := e.client.Compact(e.ctx, rev); err != nil {
		t.Fatalf("compact: %v", err)
	}

	if _, err := e.s.Watch(e.ctx, e.prefix, storage.ListOptions{ResourceVersion: "1", Recursive: true}); !storage.IsTooOld(err) {
		t.Errorf("watch from compacted rv 1: err = %v, want TooOld", err)
	}
	_, err := e.s.List(e.ctx, e.prefix, storage.ListOptions{ResourceVersion: a.ResourceVersion, ResourceVersionMatch: string(metav1.ResourceVersionMatchExact)})
	if !storage.IsTooOld(err) {
		t.Errorf("exact list at compacted rv: err = %v, want TooOld", err)
	}
	_, err = e.s.List(e.ctx, e.prefix, storage.ListOptions{Limit: 1, Continue: page.Continue})
	if !storage.IsTooOld(err) {
		t.Errorf("continue at compacted rv: err = %v, want TooOld", err)
	}

	// Watching from the compaction revision still works.
	w, err := e.s.Watch(e.ctx, e.prefix, storage.ListOptions{ResourceVersion: str(rev), Recursive: true})
	if err != nil {
		t.Fatalf("watch from compaction revision: %v", err)
	}
	defer w.Stop()
	e.create(pod{ns: "ns1", name: "d"})
	expect(t, w, "ADDED", "d")
}
