package storagetest

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k1s/k1s/internal/storage"
)

// eventTimeout bounds every wait for an event that must come.
const eventTimeout = 10 * time.Second

// Next returns the next event of w, failing t if none comes in time or the
// channel closes.
func Next(t testing.TB, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("watch closed, want an event")
		}
		return ev
	case <-time.After(eventTimeout):
		t.Fatalf("no event in %v", eventTimeout)
	}
	return watch.Event{}
}

// nextChange is Next skipping Bookmarks.
func nextChange(t testing.TB, w watch.Interface) watch.Event {
	t.Helper()
	for {
		if ev := Next(t, w); ev.Type != watch.Bookmark {
			return ev
		}
	}
}

// expect reads the next non-bookmark event and checks its type and the
// name of its pod.
func expect(t testing.TB, w watch.Interface, typ watch.EventType, name string) *corev1.Pod {
	t.Helper()
	ev := nextChange(t, w)
	p, ok := ev.Object.(*corev1.Pod)
	if !ok {
		t.Fatalf("event %s %T (%v), want %s of pod %s", ev.Type, ev.Object, ev.Object, typ, name)
	}
	if ev.Type != typ || p.Name != name {
		t.Fatalf("event %s %s, want %s %s", ev.Type, p.Name, typ, name)
	}
	return p
}

func (e *env) watch(key string, opts storage.ListOptions) watch.Interface {
	e.t.Helper()
	w, err := e.s.Watch(e.ctx, key, opts)
	if err != nil {
		e.t.Fatalf("watch %s %+v: %v", key, opts, err)
	}
	e.t.Cleanup(w.Stop)
	return w
}

func testWatchFromRV(e *env) {
	t := e.t
	a := e.create(pod{ns: "ns1", name: "a"})
	w := e.watch(e.prefix, storage.ListOptions{ResourceVersion: a.ResourceVersion, Recursive: true})

	b := e.create(pod{ns: "ns1", name: "b"})
	a2 := e.update("ns1", "a", map[string]string{"v": "2"})
	e.delete("ns1", "b")
	deleteRev := e.currentRevision()

	if got := expect(t, w, watch.Added, "b"); got.ResourceVersion != b.ResourceVersion {
		t.Errorf("ADDED b rv %s, want %s", got.ResourceVersion, b.ResourceVersion)
	}
	if got := expect(t, w, watch.Modified, "a"); got.ResourceVersion != a2.ResourceVersion || got.Labels["v"] != "2" {
		t.Errorf("MODIFIED a rv %s labels %v, want rv %s v=2", got.ResourceVersion, got.Labels, a2.ResourceVersion)
	}
	if got := expect(t, w, watch.Deleted, "b"); rv(t, got) != deleteRev {
		t.Errorf("DELETED b rv %s, want the delete revision %d", got.ResourceVersion, deleteRev)
	}

	// From a later revision only the later changes come.
	w2 := e.watch(e.prefix, storage.ListOptions{ResourceVersion: b.ResourceVersion, Recursive: true})
	expect(t, w2, watch.Modified, "a")
	expect(t, w2, watch.Deleted, "b")
	e.create(pod{ns: "ns1", name: "c"})
	expect(t, w2, watch.Added, "c")
}

func testWatchFromState(e *env) {
	t := e.t
	e.create(pod{ns: "ns1", name: "a"})
	b := e.create(pod{ns: "ns1", name: "b", labels: map[string]string{"app": "web"}})
	want := []string{"a", "b"}
	for _, version := range []string{"", "0"} {
		w := e.watch(e.prefix, storage.ListOptions{ResourceVersion: version, Recursive: true})
		// With "0" the state may be older than the newest writes, which
		// then come as changes: either way every pod arrives as ADDED,
		// before anything newer.
		var got []string
		for range want {
			ev := nextChange(t, w)
			p := ev.Object.(*corev1.Pod)
			if ev.Type != watch.Added {
				t.Errorf("rv %q: event %s %s, want ADDED", version, ev.Type, p.Name)
			}
			if p.Name == "b" && p.ResourceVersion != b.ResourceVersion {
				t.Errorf("rv %q: b has rv %s, want %s", version, p.ResourceVersion, b.ResourceVersion)
			}
			got = append(got, p.Name)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("rv %q: initial events for %v, want %v", version, got, want)
		}
		name := "c" + version
		e.create(pod{ns: "ns1", name: name})
		expect(t, w, watch.Added, name)
		w.Stop()
		want = append(want, name)
		sort.Strings(want)
	}

	// The initial state goes through the predicate too.
	w := e.watch(e.prefix, storage.ListOptions{Recursive: true, Predicate: podPredicate(t, "app=web", "")})
	expect(t, w, watch.Added, "b")
	e.create(pod{ns: "ns1", name: "d", labels: map[string]string{"app": "web"}})
	expect(t, w, watch.Added, "d")
}

func testWatchSendInitialEvents(e *env) {
	t := e.t
	e.create(pod{ns: "ns1", name: "a"})
	b := e.create(pod{ns: "ns1", name: "b"})

	yes, no := true, false
	w := e.watch(e.prefix, storage.ListOptions{Recursive: true, AllowBookmarks: true, SendInitialEvents: &yes})
	expect(t, w, watch.Added, "a")
	expect(t, w, watch.Added, "b")
	ev := Next(t, w)
	if ev.Type != watch.Bookmark {
		t.Fatalf("after the initial events: %s, want BOOKMARK", ev.Type)
	}
	p := ev.Object.(*corev1.Pod)
	if p.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
		t.Errorf("initial-events-end bookmark annotations %v", p.Annotations)
	}
	if rv(t, p) < rv(t, b) {
		t.Errorf("initial-events-end bookmark rv %s < last write %s", p.ResourceVersion, b.ResourceVersion)
	}
	e.create(pod{ns: "ns1", name: "c"})
	expect(t, w, watch.Added, "c")

	// sendInitialEvents=false: changes from now on only.
	w2 := e.watch(e.prefix, storage.ListOptions{Recursive: true, SendInitialEvents: &no})
	e.create(pod{ns: "ns1", name: "d"})
	expect(t, w2, watch.Added, "d")
}

func testWatchSingleKey(e *env) {
	t := e.t
	a := e.create(pod{ns: "ns1", name: "a"})
	e.create(pod{ns: "ns1", name: "b"})
	w := e.watch(e.key("ns1", "a"), storage.ListOptions{ResourceVersion: a.ResourceVersion})
	e.update("ns1", "b", map[string]string{"v": "2"})
	e.create(pod{ns: "ns1", name: "ab"}) // a key a is a prefix of
	e.update("ns1", "a", map[string]string{"v": "2"})
	expect(t, w, watch.Modified, "a")
	e.delete("ns1", "a")
	expect(t, w, watch.Deleted, "a")

	// From the state: only that key.
	w2 := e.watch(e.key("ns1", "b"), storage.ListOptions{})
	expect(t, w2, watch.Added, "b")
	e.update("ns1", "ab", map[string]string{"v": "2"})
	e.update("ns1", "b", map[string]string{"v": "3"})
	expect(t, w2, watch.Modified, "b")
}

func testWatchPredicate(e *env) {
	t := e.t
	start := e.currentRevision()
	web := map[string]string{"app": "web"}
	w := e.watch(e.prefix, storage.ListOptions{ResourceVersion: str(start), Recursive: true, Predicate: podPredicate(t, "app=web", "")})
	wf := e.watch(e.prefix, storage.ListOptions{ResourceVersion: str(start), Recursive: true, Predicate: podPredicate(t, "", "spec.nodeName=n1")})

	e.create(pod{ns: "ns1", name: "x", labels: web, node: "n1"})
	left := e.update("ns1", "x", map[string]string{"app": "db"})
	e.update("ns1", "x", web)
	e.update("ns1", "x", map[string]string{"app": "web", "other": "1"})
	e.create(pod{ns: "ns1", name: "y", labels: map[string]string{"app": "db"}})
	e.delete("ns1", "y")
	e.delete("ns1", "x")
	e.create(pod{ns: "ns1", name: "z", labels: web, node: "n1"})

	expect(t, w, watch.Added, "x")
	gone := expect(t, w, watch.Deleted, "x")
	if gone.Labels["app"] != "web" || gone.ResourceVersion != left.ResourceVersion {
		t.Errorf("DELETED on leaving the selection: labels %v rv %s, want the old object at rv %s", gone.Labels, gone.ResourceVersion, left.ResourceVersion)
	}
	expect(t, w, watch.Added, "x")
	expect(t, w, watch.Modified, "x")
	expect(t, w, watch.Deleted, "x")
	expect(t, w, watch.Added, "z")

	expect(t, wf, watch.Added, "x")
	expect(t, wf, watch.Modified, "x")
	expect(t, wf, watch.Modified, "x")
	expect(t, wf, watch.Modified, "x")
	expect(t, wf, watch.Deleted, "x")
	expect(t, wf, watch.Added, "z")
}

// progressRequester is implemented by watches that can ask their store
// for a progress notification (etcd3's). Others send bookmarks on their own.
type progressRequester interface {
	RequestProgress(ctx context.Context) error
}

func testWatchBookmarks(e *env) {
	t := e.t
	start := e.currentRevision()
	w := e.watch(e.prefix, storage.ListOptions{ResourceVersion: str(start), Recursive: true, AllowBookmarks: true})
	a := e.create(pod{ns: "ns1", name: "a"})
	expect(t, w, watch.Added, "a")
	ask := func() {
		if p, ok := w.(progressRequester); ok {
			if err := p.RequestProgress(e.ctx); err != nil {
				t.Errorf("request progress: %v", err)
			}
		}
	}
	ask()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(eventTimeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed")
			}
			if ev.Type != watch.Bookmark {
				t.Fatalf("unexpected %s", ev.Type)
			}
			p := ev.Object.(*corev1.Pod)
			if p.Name != "" || len(p.Labels) != 0 {
				t.Errorf("bookmark object has more than a resourceVersion: %+v", p.ObjectMeta)
			}
			if rv(t, p) >= rv(t, a) {
				return
			}
		case <-tick.C:
			ask()
		case <-timeout:
			t.Fatalf("no bookmark at or after rv %s in %v", a.ResourceVersion, eventTimeout)
		}
	}
}

func testWatchStop(e *env) {
	t := e.t
	closed := func(w watch.Interface) {
		t.Helper()
		timeout := time.After(eventTimeout)
		for {
			select {
			case _, ok := <-w.ResultChan():
				if !ok {
					return
				}
			case <-timeout:
				t.Fatalf("result channel not closed")
			}
		}
	}
	w, err := e.s.Watch(e.ctx, e.prefix, storage.ListOptions{Recursive: true})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	w.Stop()
	closed(w)
	w.Stop() // a second Stop is harmless

	ctx, cancel := context.WithCancel(e.ctx)
	w, err = e.s.Watch(ctx, e.prefix, storage.ListOptions{Recursive: true, AllowBookmarks: true})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	e.create(pod{ns: "ns1", name: "a"})
	cancel()
	closed(w)
	w.Stop()
}
