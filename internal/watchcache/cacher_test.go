package watchcache_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k1s/k1s/internal/storage"
	"github.com/k1s/k1s/internal/storage/etcd3"
	"github.com/k1s/k1s/internal/storage/storagetest"
	"github.com/k1s/k1s/internal/watchcache"
)

// countingStore counts the calls that reach the store and can break its
// watches on demand.
type countingStore struct {
	storage.Interface
	watches, lists atomic.Int64

	mu   sync.Mutex
	open []*breakableWatch
}

func (s *countingStore) Watch(ctx context.Context, key string, opts storage.ListOptions) (watch.Interface, error) {
	s.watches.Add(1)
	w, err := s.Interface.Watch(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	bw := &breakableWatch{Interface: w, out: make(chan watch.Event), stop: make(chan struct{}), expire: make(chan struct{})}
	go bw.run()
	s.mu.Lock()
	s.open = append(s.open, bw)
	s.mu.Unlock()
	return bw, nil
}

func (s *countingStore) List(ctx context.Context, prefix string, opts storage.ListOptions) (runtime.Object, error) {
	s.lists.Add(1)
	return s.Interface.List(ctx, prefix, opts)
}

// expireWatches waits for a store watch to be open and makes every open
// one end with 410 Gone, as if etcd had compacted past it.
func (s *countingStore) expireWatches(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.open) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no store watch opened")
		}
		s.mu.Unlock()
		time.Sleep(10 * time.Millisecond) // polling with a deadline
		s.mu.Lock()
	}
	for _, w := range s.open {
		w.expireOnce.Do(func() { close(w.expire) })
	}
	s.open = nil
}

// breakableWatch forwards a store watch until told to expire.
type breakableWatch struct {
	watch.Interface
	out        chan watch.Event
	stop       chan struct{}
	stopOnce   sync.Once
	expire     chan struct{}
	expireOnce sync.Once
}

func (w *breakableWatch) ResultChan() <-chan watch.Event { return w.out }

func (w *breakableWatch) Stop() {
	w.stopOnce.Do(func() { close(w.stop) })
	w.Interface.Stop()
}

// RequestProgress keeps the store watch's progress requests reachable.
func (w *breakableWatch) RequestProgress(ctx context.Context) error {
	return w.Interface.(interface {
		RequestProgress(context.Context) error
	}).RequestProgress(ctx)
}

func (w *breakableWatch) run() {
	defer close(w.out)
	for {
		select {
		case <-w.stop:
			return
		case <-w.expire:
			select {
			case w.out <- watch.Event{Type: watch.Error, Object: &metav1.Status{Code: http.StatusGone, Reason: metav1.StatusReasonExpired}}:
			case <-w.stop:
			}
			return
		case ev, ok := <-w.Interface.ResultChan():
			if !ok {
				return
			}
			select {
			case w.out <- ev:
			case <-w.stop:
				return
			}
		}
	}
}

type fixture struct {
	cacher *watchcache.Cacher
	store  *etcd3.Store
	counts *countingStore
	prefix string
}

func newEtcd3(t *testing.T, client *clientv3.Client) *etcd3.Store {
	t.Helper()
	s, err := etcd3.New(etcd3.Config{Client: client, Codec: storagetest.Codec(), NewFunc: storagetest.NewPod, NewListFunc: storagetest.NewPodList})
	if err != nil {
		t.Fatalf("etcd3: %v", err)
	}
	return s
}

// start runs a Cacher of Pods under prefix until the test ends.
func start(t *testing.T, client *clientv3.Client, prefix string, tune func(*watchcache.Config)) *fixture {
	t.Helper()
	store := newEtcd3(t, client)
	counts := &countingStore{Interface: store}
	cfg := watchcache.Config{
		Store:            counts,
		Prefix:           prefix,
		NewFunc:          storagetest.NewPod,
		NewListFunc:      storagetest.NewPodList,
		GetAttrs:         storagetest.PodAttrs,
		BookmarkInterval: 100 * time.Millisecond,
		ReadTimeout:      500 * time.Millisecond,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := watchcache.New(cfg)
	if err != nil {
		t.Fatalf("new cacher: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	if err := c.WaitReady(t.Context()); err != nil {
		t.Fatalf("wait ready: %v", err)
	}
	return &fixture{cacher: c, store: store, counts: counts, prefix: prefix}
}

func TestCacher(t *testing.T) {
	client := storagetest.StartEtcd(t)
	storagetest.RunTests(t, func(t *testing.T, prefix string) storagetest.Fixture {
		return storagetest.Fixture{Store: start(t, client, prefix, nil).cacher, Client: client}
	})
}

func (f *fixture) key(name string) string { return f.prefix + "ns1/" + name }

func (f *fixture) create(t *testing.T, name string, labels map[string]string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: name, Labels: labels}}
	out, err := f.cacher.Create(t.Context(), f.key(name), p)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return out.(*corev1.Pod)
}

func (f *fixture) watch(t *testing.T, opts storage.ListOptions) watch.Interface {
	t.Helper()
	opts.Recursive = true
	w, err := f.cacher.Watch(t.Context(), f.prefix, opts)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	t.Cleanup(w.Stop)
	return w
}

func currentRevision(t *testing.T, s storage.Interface) string {
	t.Helper()
	rev, err := s.CurrentRevision(t.Context())
	if err != nil {
		t.Fatalf("current revision: %v", err)
	}
	return strconv.FormatInt(rev, 10)
}

// catchUp makes the cache reach the store's current revision.
func (f *fixture) catchUp(t *testing.T) {
	t.Helper()
	if _, err := f.cacher.List(t.Context(), f.prefix, storage.ListOptions{}); err != nil {
		t.Fatalf("list: %v", err)
	}
}

func TestOneStoreWatchForManyWatchers(t *testing.T) {
	client := storagetest.StartEtcd(t)
	f := start(t, client, "/registry/pods/", nil)
	rv := currentRevision(t, f.store)

	var ws []watch.Interface
	for i := range 50 {
		opts := storage.ListOptions{ResourceVersion: rv}
		switch i % 3 {
		case 1:
			opts.ResourceVersion = "0"
		case 2:
			opts.Predicate = storage.Predicate{Label: labels.SelectorFromSet(labels.Set{"app": "web"}), GetAttrs: storagetest.PodAttrs}
		}
		ws = append(ws, f.watch(t, opts))
	}
	f.create(t, "a", map[string]string{"app": "web"})
	for i, w := range ws {
		ev := storagetest.Next(t, w)
		if ev.Type != watch.Added || ev.Object.(*corev1.Pod).Name != "a" {
			t.Errorf("watcher %d: %s %v, want ADDED a", i, ev.Type, ev.Object)
		}
	}
	if n := f.counts.watches.Load(); n != 1 {
		t.Errorf("%d store watches for 50 watchers, want 1", n)
	}
	if n := f.counts.lists.Load(); n != 1 {
		t.Errorf("%d store lists, want 1 (the initial one)", n)
	}
}

func TestSlowWatcherIsTerminated(t *testing.T) {
	client := storagetest.StartEtcd(t)
	f := start(t, client, "/registry/pods/", func(cfg *watchcache.Config) { cfg.WatcherBuffer = 5 })
	rv := currentRevision(t, f.store)
	slow := f.watch(t, storage.ListOptions{ResourceVersion: rv})
	fast := f.watch(t, storage.ListOptions{ResourceVersion: rv})

	const n = 50
	for i := range n {
		f.create(t, fmt.Sprintf("p%02d", i), nil)
	}
	for i := range n {
		ev := storagetest.Next(t, fast)
		if name := ev.Object.(*corev1.Pod).Name; ev.Type != watch.Added || name != fmt.Sprintf("p%02d", i) {
			t.Fatalf("fast watcher event %d: %s %s", i, ev.Type, name)
		}
	}

	// The slow watcher got what fitted in its buffers, then its channel closed.
	got, lastRV := 0, ""
	timeout := time.After(10 * time.Second)
	for closed := false; !closed; {
		select {
		case ev, ok := <-slow.ResultChan():
			if !ok {
				closed = true
				break
			}
			got++
			lastRV = ev.Object.(*corev1.Pod).ResourceVersion
		case <-timeout:
			t.Fatalf("slow watcher not terminated")
		}
	}
	if got == 0 || got >= n {
		t.Fatalf("slow watcher got %d of %d events before termination", got, n)
	}
	// It resumes from the last event it saw and gets the rest.
	resumed := f.watch(t, storage.ListOptions{ResourceVersion: lastRV})
	for i := got; i < n; i++ {
		ev := storagetest.Next(t, resumed)
		if name := ev.Object.(*corev1.Pod).Name; name != fmt.Sprintf("p%02d", i) {
			t.Fatalf("resumed event %d: %s", i, name)
		}
	}
}

func TestWindowOverflowIsTooOld(t *testing.T) {
	client := storagetest.StartEtcd(t)
	f := start(t, client, "/registry/pods/", func(cfg *watchcache.Config) { cfg.EventWindow = 10 })
	rv := currentRevision(t, f.store)
	var pods []*corev1.Pod
	for i := range 30 {
		pods = append(pods, f.create(t, fmt.Sprintf("p%02d", i), nil))
	}
	f.catchUp(t)

	_, err := f.cacher.Watch(t.Context(), f.prefix, storage.ListOptions{ResourceVersion: rv, Recursive: true})
	if !storage.IsTooOld(err) {
		t.Fatalf("watch from before the window: err = %v, want TooOld", err)
	}
	// The last 10 events are still there.
	w := f.watch(t, storage.ListOptions{ResourceVersion: pods[19].ResourceVersion})
	for i := 20; i < 30; i++ {
		ev := storagetest.Next(t, w)
		if name := ev.Object.(*corev1.Pod).Name; name != pods[i].Name {
			t.Fatalf("event %d: %s, want %s", i, name, pods[i].Name)
		}
	}
	_, err = f.cacher.Watch(t.Context(), f.prefix, storage.ListOptions{ResourceVersion: pods[18].ResourceVersion, Recursive: true})
	if !storage.IsTooOld(err) {
		t.Errorf("watch from just before the window: err = %v, want TooOld", err)
	}
}

func TestConsistentListFromCache(t *testing.T) {
	client := storagetest.StartEtcd(t)
	f := start(t, client, "/registry/pods/", func(cfg *watchcache.Config) {
		// Long enough that a fallback to the store would be noticed.
		cfg.ReadTimeout = 10 * time.Second
	})
	other := newEtcd3(t, client)
	ctx := t.Context()

	for i := range 5 {
		// A write straight to etcd, then a write elsewhere, so the cache
		// has to learn the newest revision from a progress notification.
		if _, err := f.store.Create(ctx, f.key(fmt.Sprintf("p%d", i)), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: fmt.Sprintf("p%d", i)}}); err != nil {
			t.Fatalf("create: %v", err)
		}
		if _, err := other.Create(ctx, fmt.Sprintf("/registry/other/ns1/o%d", i), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "o"}}); err != nil {
			t.Fatalf("create: %v", err)
		}
		rev, _ := strconv.ParseInt(currentRevision(t, f.store), 10, 64)
		began := time.Now()
		out, err := f.cacher.List(ctx, f.prefix, storage.ListOptions{})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		list := out.(*corev1.PodList)
		if len(list.Items) != i+1 {
			t.Errorf("list %d: %d items, want %d", i, len(list.Items), i+1)
		}
		if got, _ := strconv.ParseInt(list.ResourceVersion, 10, 64); got < rev {
			t.Errorf("list %d: resourceVersion %d < current revision %d", i, got, rev)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("consistent list took %v", d)
		}
	}
	if n := f.counts.lists.Load(); n != 1 {
		t.Errorf("%d store lists, want 1: consistent lists must come from the cache", n)
	}
}

func TestGetFromCacheIsACopy(t *testing.T) {
	client := storagetest.StartEtcd(t)
	f := start(t, client, "/registry/pods/", nil)
	created := f.create(t, "a", map[string]string{"app": "web"})
	for range 2 {
		out, err := f.cacher.Get(t.Context(), f.key("a"), storage.GetOptions{ResourceVersion: created.ResourceVersion})
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		p := out.(*corev1.Pod)
		if p.Labels["app"] != "web" || p.Labels["mutated"] != "" {
			t.Fatalf("get: labels %v", p.Labels)
		}
		p.Labels["mutated"] = "yes"
	}
	if n := f.counts.lists.Load(); n != 1 {
		t.Errorf("%d store lists, want 1", n)
	}
}

func TestRelistAfterExpiredWatch(t *testing.T) {
	client := storagetest.StartEtcd(t)
	f := start(t, client, "/registry/pods/", nil)
	before := currentRevision(t, f.store)
	f.create(t, "a", nil)
	w := f.watch(t, storage.ListOptions{ResourceVersion: before})

	f.counts.expireWatches(t)
	// The watcher of the old cache generation is closed.
	timeout := time.After(10 * time.Second)
	for closed := false; !closed; {
		select {
		case _, ok := <-w.ResultChan():
			closed = !ok
		case <-timeout:
			t.Fatalf("watcher not closed after the relist")
		}
	}
	if n := f.counts.lists.Load(); n != 2 {
		t.Errorf("%d store lists, want 2 (a relist)", n)
	}
	// Resuming from before the relist is too old; the new cache works.
	if _, err := f.cacher.Watch(t.Context(), f.prefix, storage.ListOptions{ResourceVersion: before, Recursive: true}); !storage.IsTooOld(err) {
		t.Errorf("watch from before the relist: err = %v, want TooOld", err)
	}
	w2 := f.watch(t, storage.ListOptions{ResourceVersion: "0"})
	ev := storagetest.Next(t, w2)
	if ev.Type != watch.Added || ev.Object.(*corev1.Pod).Name != "a" {
		t.Errorf("after relist: %s %v, want ADDED a", ev.Type, ev.Object)
	}
	f.create(t, "b", nil)
	ev = storagetest.Next(t, w2)
	if ev.Type != watch.Added || ev.Object.(*corev1.Pod).Name != "b" {
		t.Errorf("after relist: %s %v, want ADDED b", ev.Type, ev.Object)
	}
	if n := f.counts.watches.Load(); n != 2 {
		t.Errorf("%d store watches, want 2", n)
	}
}

func TestRunEndClosesWatchers(t *testing.T) {
	client := storagetest.StartEtcd(t)
	store := newEtcd3(t, client)
	c, err := watchcache.New(watchcache.Config{
		Store: store, Prefix: "/registry/pods/", NewFunc: storagetest.NewPod, NewListFunc: storagetest.NewPodList,
		GetAttrs: storagetest.PodAttrs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("wait ready: %v", err)
	}
	w, err := c.Watch(t.Context(), "/registry/pods/", storage.ListOptions{ResourceVersion: "0", Recursive: true})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	select {
	case _, ok := <-w.ResultChan():
		if ok {
			t.Errorf("event after Run ended")
		}
	case <-time.After(10 * time.Second):
		t.Errorf("watcher not closed when Run ended")
	}
	w.Stop()
	if c.Ready() {
		t.Errorf("ready after Run ended")
	}
}
