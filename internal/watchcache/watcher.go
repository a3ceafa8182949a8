package watchcache

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k1s/k1s/internal/storage"
)

// resultBuffer is the capacity of a watcher's result channel; the real
// buffer is its input queue (Config.WatcherBuffer).
const resultBuffer = 10

// Watch implements storage.Interface from the cache, whatever the number of
// watchers: they share the cache's one store watch.
//
//   - ResourceVersion N: the buffered events after N, then live ones. N
//     older than the event window fails with ErrCodeResourceVersionTooOld;
//     N newer than the cache is waited for (ReadTimeout, then the store
//     serves the watch).
//   - "0": synthetic ADDED events for the cache's state, then changes.
//   - "": the same from a state at least as new as the store's current
//     revision (a consistent read).
//   - SendInitialEvents overrides whether the state is sent, as in etcd3.
//
// Event objects are shallow copies of cached objects, one per watcher:
// nested fields are shared with the cache and other watchers and must not
// be mutated. A watcher whose queue stays full is terminated (its channel
// closed); it can resume from the last resourceVersion it saw.
func (c *Cacher) Watch(ctx context.Context, key string, opts storage.ListOptions) (watch.Interface, error) {
	if opts.Recursive && !strings.HasSuffix(key, "/") {
		key += "/"
	}
	if !strings.HasPrefix(key, c.cfg.Prefix) {
		return c.store.Watch(ctx, key, opts)
	}
	fromRV, err := parseRV(key, opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	stateFirst := opts.ResourceVersion == "" || opts.ResourceVersion == "0"
	if opts.SendInitialEvents != nil {
		stateFirst = *opts.SendInitialEvents
	}
	initialEnd := stateFirst && opts.SendInitialEvents != nil && *opts.SendInitialEvents

	want := fromRV
	if opts.ResourceVersion == "" {
		if want, err = c.store.CurrentRevision(ctx); err != nil {
			return nil, err
		}
	}
	if !c.waitRev(ctx, want) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if c.Ready() {
			// The cache is live but behind: a watch straight on the
			// store per client would only add load to a server that is
			// already behind. The client retries (upstream answers the
			// same "Too large resource version").
			return nil, storage.NewError(storage.ErrCodeTooLarge, key, "too large resource version: %d, the cache has not caught up yet", want)
		}
		return c.store.Watch(ctx, key, opts)
	}

	w := &cacheWatcher{
		c:         c,
		key:       key,
		recursive: opts.Recursive,
		pred:      opts.Predicate,
		bookmarks: opts.AllowBookmarks,
		input:     make(chan *event, c.cfg.WatcherBuffer),
		result:    make(chan watch.Event, resultBuffer),
		done:      make(chan struct{}),
		finished:  make(chan struct{}),
	}
	if c.cfg.IndexField != "" && opts.Predicate.Field != nil {
		w.indexValue, w.indexed = opts.Predicate.Field.RequiresExactMatch(c.cfg.IndexField)
	}
	var (
		initial []*entry
		replay  []*event
	)
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return c.store.Watch(ctx, key, opts)
	}
	start := c.rev
	switch {
	case stateFirst:
		initial = append([]*entry(nil), c.state.scope(key, opts.Recursive)...)
	case fromRV > 0:
		var ok bool
		if replay, ok = c.window.since(fromRV); !ok {
			oldest := c.window.start
			c.mu.Unlock()
			e := storage.NewError(storage.ErrCodeResourceVersionTooOld, key, "too old resource version: %d (%d)", fromRV, oldest)
			e.ResourceVersion = fromRV
			return nil, e
		}
		start = fromRV
	}
	c.addWatcherLocked(w)
	c.mu.Unlock()

	w.unregister = context.AfterFunc(ctx, func() { c.stopWatcher(w) })
	go w.run(initial, replay, initialEnd, start)
	return w, nil
}

// stopWatcher ends w and forgets it.
func (c *Cacher) stopWatcher(w *cacheWatcher) {
	w.close()
	c.mu.Lock()
	c.removeWatcherLocked(w)
	c.mu.Unlock()
}

// cacheWatcher is one client's watch on the cache. The dispatcher queues
// shared events on input without blocking; run filters them through the
// predicate and sends watch.Events.
type cacheWatcher struct {
	c         *Cacher
	key       string
	recursive bool
	pred      storage.Predicate
	bookmarks bool

	input    chan *event
	result   chan watch.Event
	done     chan struct{} // closed to stop
	once     sync.Once
	finished chan struct{} // closed when run has returned

	// indexed: the predicate requires IndexField = indexValue, so the
	// cache hands this watcher only events of objects with that value.
	indexed    bool
	indexValue string

	unregister func() bool // stops the context.AfterFunc
	// lastBookmark is the revision of the last bookmark sent (run only).
	lastBookmark int64
}

// ResultChan implements watch.Interface.
func (w *cacheWatcher) ResultChan() <-chan watch.Event { return w.result }

// Stop implements watch.Interface; it returns once the result channel is
// closed. It may be called more than once.
func (w *cacheWatcher) Stop() {
	w.unregister()
	w.c.stopWatcher(w)
	<-w.finished
}

func (w *cacheWatcher) close() { w.once.Do(func() { close(w.done) }) }

func (w *cacheWatcher) inScope(key string) bool {
	if w.recursive {
		return strings.HasPrefix(key, w.key)
	}
	return key == w.key
}

func (w *cacheWatcher) run(initial []*entry, replay []*event, initialEnd bool, start int64) {
	defer close(w.finished)
	defer close(w.result)
	w.lastBookmark = start
	for _, e := range initial {
		if matches(w.pred, e) && !w.send(watch.Event{Type: watch.Added, Object: shallowCopy(e.obj)}) {
			return
		}
	}
	if initialEnd && !w.send(watch.Event{Type: watch.Bookmark, Object: w.bookmark(start, true)}) {
		return
	}
	for _, ev := range replay {
		if !w.process(ev) {
			return
		}
	}
	for {
		select {
		case <-w.done:
			return
		case ev := <-w.input:
			if !w.process(ev) {
				return
			}
		}
	}
}

// process sends what ev means to this watcher: an update that makes an
// object start matching is ADDED, one that makes it stop matching is
// DELETED (the old object at the new revision).
func (w *cacheWatcher) process(ev *event) bool {
	if ev.typ == watch.Bookmark {
		if !w.bookmarks || ev.rev <= w.lastBookmark {
			return true
		}
		w.lastBookmark = ev.rev
		return w.send(watch.Event{Type: watch.Bookmark, Object: w.bookmark(ev.rev, false)})
	}
	if !w.inScope(ev.key) {
		return true
	}
	curOK, prevOK := matches(w.pred, ev.cur), matches(w.pred, ev.prev)
	switch {
	case curOK && prevOK:
		return w.send(watch.Event{Type: watch.Modified, Object: shallowCopy(ev.cur.obj)})
	case curOK:
		return w.send(watch.Event{Type: watch.Added, Object: shallowCopy(ev.cur.obj)})
	case prevOK:
		obj := shallowCopy(ev.prev.obj)
		if ev.typ != watch.Deleted {
			// Only the copy's own ObjectMeta changes.
			if acc, err := meta.Accessor(obj); err == nil {
				acc.SetResourceVersion(strconv.FormatInt(ev.rev, 10))
			}
		}
		return w.send(watch.Event{Type: watch.Deleted, Object: obj})
	}
	return true
}

func (w *cacheWatcher) send(ev watch.Event) bool {
	select {
	case w.result <- ev:
		return true
	case <-w.done:
		return false
	}
}

func (w *cacheWatcher) bookmark(rev int64, initialEnd bool) runtime.Object {
	obj := w.c.cfg.NewFunc()
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetResourceVersion(strconv.FormatInt(rev, 10))
		if initialEnd {
			acc.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		}
	}
	return obj
}
