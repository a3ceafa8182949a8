package watchcache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k1s/k1s/internal/storage"
)

// Defaults of Config.
const (
	DefaultEventWindow      = 1000
	DefaultWatcherBuffer    = 100
	DefaultBookmarkInterval = time.Second
	DefaultReadTimeout      = 3 * time.Second
)

// dispatchTimeout is how long one event may wait, in total, for watchers
// whose buffers are full before those watchers are terminated.
const dispatchTimeout = 100 * time.Millisecond

// progressInterval is how often a read waiting for the cache to catch up
// asks etcd again for a progress notification.
const progressInterval = 250 * time.Millisecond

// Config configures a Cacher.
type Config struct {
	// Store is the store the cache mirrors and delegates writes to (the
	// etcd3 store). Its watches should implement
	// RequestProgress(ctx) error, as etcd3's do, for fast consistent reads.
	Store storage.Interface
	// Prefix is the key prefix cached, ending in "/", e.g. "/registry/pods/".
	Prefix string
	// NewFunc and NewListFunc make the resource's object and list.
	NewFunc     func() runtime.Object
	NewListFunc func() runtime.Object
	// GetAttrs returns an object's labels and selectable fields. It must
	// agree with the GetAttrs of the Predicates callers pass: the cache
	// matches predicates against the attributes it computed once per object.
	GetAttrs func(obj runtime.Object) (labels.Set, fields.Set, error)
	// KeyFunc returns an object's key. Default: Prefix+namespace+"/"+name
	// for namespaced objects, Prefix+name for cluster-scoped ones.
	KeyFunc func(obj runtime.Object) (string, error)
	// EventWindow is how many recent events are kept for watches resuming
	// from a resourceVersion (DefaultEventWindow).
	EventWindow int
	// WatcherBuffer is how many events may queue for one watcher before it
	// is terminated (DefaultWatcherBuffer).
	WatcherBuffer int
	// BookmarkInterval is how often watchers that allow bookmarks get one,
	// if the cache's revision advanced since their last (DefaultBookmarkInterval).
	BookmarkInterval time.Duration
	// ReadTimeout bounds how long a read waits for the cache to become
	// ready or catch up with a revision before it is served by Store
	// instead (DefaultReadTimeout).
	ReadTimeout time.Duration
	// IndexField, if set, is a selectable field (spec.nodeName for pods)
	// by which watchers that require one exact value are indexed: an
	// event is handed only to the watchers of its object's old and new
	// values, plus the unindexed ones. With a kubelet per node watching
	// its own pods, a pod change then wakes one watcher, not thousands.
	IndexField string
	Logger     *slog.Logger
}

func (cfg *Config) validate() error {
	switch {
	case cfg.Store == nil:
		return errors.New("watchcache: Config.Store is required")
	case !strings.HasPrefix(cfg.Prefix, "/") || !strings.HasSuffix(cfg.Prefix, "/"):
		return fmt.Errorf("watchcache: Config.Prefix %q must start and end with /", cfg.Prefix)
	case cfg.NewFunc == nil || cfg.NewListFunc == nil:
		return errors.New("watchcache: Config.NewFunc and NewListFunc are required")
	case cfg.GetAttrs == nil:
		return errors.New("watchcache: Config.GetAttrs is required")
	}
	if cfg.KeyFunc == nil {
		prefix := cfg.Prefix
		cfg.KeyFunc = func(obj runtime.Object) (string, error) {
			acc, err := meta.Accessor(obj)
			if err != nil {
				return "", err
			}
			if ns := acc.GetNamespace(); ns != "" {
				return prefix + ns + "/" + acc.GetName(), nil
			}
			return prefix + acc.GetName(), nil
		}
	}
	if cfg.EventWindow <= 0 {
		cfg.EventWindow = DefaultEventWindow
	}
	if cfg.WatcherBuffer <= 0 {
		cfg.WatcherBuffer = DefaultWatcherBuffer
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = DefaultBookmarkInterval
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return nil
}

// progressRequester is implemented by the store's watches (etcd3's) that
// can ask for a progress notification, delivered as a Bookmark.
type progressRequester interface {
	RequestProgress(ctx context.Context) error
}

// Cacher is a storage.Interface that serves reads and watches of one
// resource from memory, kept current by a single watch on Store.
type Cacher struct {
	cfg   Config
	store storage.Interface
	log   *slog.Logger

	mu       sync.RWMutex
	state    state
	window   window
	rev      int64 // every change up to rev is applied
	ready    bool
	stopped  bool                       // Run has returned
	changed  chan struct{}              // closed (and replaced) when rev, ready or stopped change
	watchers map[*cacheWatcher]struct{} // without an index value
	// indexed holds the watchers requiring IndexField = value, by value.
	indexed  map[string]map[*cacheWatcher]struct{}
	progress progressRequester // the current store watch, if it can
}

var _ storage.Interface = (*Cacher)(nil)

// New validates cfg and returns a Cacher; it serves from memory once Run
// has listed the store.
func New(cfg Config) (*Cacher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Cacher{
		cfg:      cfg,
		store:    cfg.Store,
		log:      cfg.Logger.With("prefix", cfg.Prefix),
		window:   newWindow(cfg.EventWindow, 0),
		changed:  make(chan struct{}),
		watchers: map[*cacheWatcher]struct{}{},
		indexed:  map[string]map[*cacheWatcher]struct{}{},
	}, nil
}

// addWatcherLocked registers w, under its index value if it has one.
func (c *Cacher) addWatcherLocked(w *cacheWatcher) {
	if !w.indexed {
		c.watchers[w] = struct{}{}
		return
	}
	set := c.indexed[w.indexValue]
	if set == nil {
		set = map[*cacheWatcher]struct{}{}
		c.indexed[w.indexValue] = set
	}
	set[w] = struct{}{}
}

// removeWatcherLocked forgets w.
func (c *Cacher) removeWatcherLocked(w *cacheWatcher) {
	if !w.indexed {
		delete(c.watchers, w)
		return
	}
	if set := c.indexed[w.indexValue]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(c.indexed, w.indexValue)
		}
	}
}

// closeAllLocked ends and forgets every watcher.
func (c *Cacher) closeAllLocked() {
	for w := range c.watchers {
		w.close()
	}
	clear(c.watchers)
	for _, set := range c.indexed {
		for w := range set {
			w.close()
		}
	}
	clear(c.indexed)
}

// interested calls f for every watcher an event on e (old) -> cur (new)
// may concern: the unindexed ones and those indexed by either object's
// value of IndexField.
func (c *Cacher) interested(prev, cur *entry, f func(*cacheWatcher)) {
	for w := range c.watchers {
		f(w)
	}
	if len(c.indexed) == 0 {
		return
	}
	var pv, cv string
	var hasPrev, hasCur bool
	if prev != nil {
		pv, hasPrev = prev.fields[c.cfg.IndexField]
	}
	if cur != nil {
		cv, hasCur = cur.fields[c.cfg.IndexField]
	}
	if hasCur {
		for w := range c.indexed[cv] {
			f(w)
		}
	}
	if hasPrev && (!hasCur || pv != cv) {
		for w := range c.indexed[pv] {
			f(w)
		}
	}
}

// Run lists the store and keeps the cache current with one watch until ctx
// ends. If the watch breaks it watches again from the cache's revision; if
// that revision is compacted it lists again and terminates every watcher
// (they resume from their last resourceVersion and get 410 Gone). Run
// returns nil when ctx ends, after closing every watcher; call it once.
func (c *Cacher) Run(ctx context.Context) error {
	defer c.shutdown()
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	retry := func(what string, err error) {
		c.log.Error("watch cache "+what+" failed, retrying", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
	needList := true
	for ctx.Err() == nil {
		if needList {
			if err := c.relist(ctx); err != nil {
				if ctx.Err() == nil {
					retry("list", err)
				}
				continue
			}
			needList = false
		}
		c.mu.RLock()
		rev := c.rev
		c.mu.RUnlock()
		w, err := c.store.Watch(ctx, c.cfg.Prefix, storage.ListOptions{
			ResourceVersion: strconv.FormatInt(rev, 10),
			Recursive:       true,
			AllowBookmarks:  true,
		})
		switch {
		case ctx.Err() != nil:
		case storage.IsTooOld(err):
			c.log.Info("watch cache revision compacted, listing again", "rev", rev)
			needList = true
		case err != nil:
			retry("watch", err)
		default:
			var received bool
			needList, received = c.consume(ctx, w)
			w.Stop()
			if received {
				backoff = 100 * time.Millisecond
			} else if !needList && ctx.Err() == nil {
				retry("watch", errors.New("store watch ended before any event"))
			}
		}
	}
	return nil
}

// relist replaces the cache's state with a fresh list of the store.
func (c *Cacher) relist(ctx context.Context) error {
	obj, err := c.store.List(ctx, c.cfg.Prefix, storage.ListOptions{Recursive: true})
	if err != nil {
		return err
	}
	listAcc, err := meta.ListAccessor(obj)
	if err != nil {
		return err
	}
	rev, err := strconv.ParseInt(listAcc.GetResourceVersion(), 10, 64)
	if err != nil {
		return fmt.Errorf("list resourceVersion %q: %w", listAcc.GetResourceVersion(), err)
	}
	items, err := meta.ExtractList(obj) // pointers into the list: no copies
	if err != nil {
		return err
	}
	entries := make([]*entry, 0, len(items))
	for _, item := range items {
		e, err := c.newEntry(item)
		if err != nil {
			c.log.Error("watch cache skips an object", "err", err)
			continue
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *entry) int { return cmp.Compare(a.key, b.key) })

	c.mu.Lock()
	defer c.mu.Unlock()
	// The old watchers may have missed changes between the old state and
	// this one: end them; they resume from their last resourceVersion,
	// which is now before the window, and relist.
	c.closeAllLocked()
	c.state.entries = entries
	c.window.reset(rev)
	c.rev = rev
	c.ready = true
	c.broadcastLocked()
	return nil
}

// consume applies the events of w until it ends; it reports whether the
// cache must list again (the revision was compacted) and whether w
// delivered anything at all.
func (c *Cacher) consume(ctx context.Context, w watch.Interface) (relist, received bool) {
	if p, ok := w.(progressRequester); ok {
		c.mu.Lock()
		c.progress = p
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.progress = nil
			c.mu.Unlock()
		}()
	}
	tick := time.NewTicker(c.cfg.BookmarkInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, received
		case <-tick.C:
			c.sendBookmarks()
		case ev, ok := <-w.ResultChan():
			if !ok {
				c.log.Info("watch cache store watch closed, watching again")
				return false, received
			}
			switch ev.Type {
			case watch.Error:
				if status, ok := ev.Object.(*metav1.Status); ok && status.Code == http.StatusGone {
					c.log.Info("watch cache watch expired, listing again", "message", status.Message)
					return true, received
				}
				c.log.Warn("watch cache store watch failed, watching again", "event", ev.Object)
				return false, received
			case watch.Bookmark:
				if rev, err := resourceVersion(ev.Object); err == nil {
					c.advance(rev)
				}
			case watch.Added, watch.Modified, watch.Deleted:
				if err := c.apply(ev); err != nil {
					c.log.Error("watch cache skips an event", "type", ev.Type, "err", err)
				}
			}
			received = true
		}
	}
}

func (c *Cacher) newEntry(obj runtime.Object) (*entry, error) {
	key, err := c.cfg.KeyFunc(obj)
	if err != nil {
		return nil, fmt.Errorf("key of %T: %w", obj, err)
	}
	ls, fs, err := c.cfg.GetAttrs(obj)
	if err != nil {
		return nil, fmt.Errorf("attributes of %s: %w", key, err)
	}
	return &entry{key: key, obj: obj, labels: ls, fields: fs}, nil
}

// apply records one change and hands it to the watchers.
func (c *Cacher) apply(ev watch.Event) error {
	rev, err := resourceVersion(ev.Object)
	if err != nil {
		return err
	}
	e, err := c.newEntry(ev.Object)
	if err != nil {
		return err
	}
	c.mu.Lock()
	var ce *event
	if ev.Type == watch.Deleted {
		c.state.remove(e.key)
		ce = &event{typ: watch.Deleted, key: e.key, rev: rev, prev: e}
	} else {
		prev := c.state.put(e)
		typ := watch.Modified
		if prev == nil {
			typ = watch.Added
		}
		ce = &event{typ: typ, key: e.key, rev: rev, cur: e, prev: prev}
	}
	c.window.add(ce)
	c.rev = max(c.rev, rev)
	c.broadcastLocked()
	var blocked []*cacheWatcher
	c.interested(ce.prev, ce.cur, func(w *cacheWatcher) {
		if !w.inScope(ce.key) {
			return
		}
		select {
		case w.input <- ce:
		default:
			blocked = append(blocked, w)
		}
	})
	c.mu.Unlock()

	if len(blocked) > 0 {
		c.dispatchBlocked(ce, blocked)
	}
	return nil
}

// dispatchBlocked gives watchers with full buffers dispatchTimeout, in
// total, to make room, and terminates those that do not: a watcher that
// does not keep up must not hold up the others.
func (c *Cacher) dispatchBlocked(ev *event, blocked []*cacheWatcher) {
	timer := time.NewTimer(dispatchTimeout)
	defer timer.Stop()
	expired := false
	for _, w := range blocked {
		if !expired {
			select {
			case w.input <- ev:
				continue
			case <-w.done:
				continue
			case <-timer.C:
				expired = true
			}
		}
		select {
		case w.input <- ev:
		default:
			c.log.Info("watch cache terminates a watcher that does not keep up", "key", w.key)
			c.stopWatcher(w)
		}
	}
}

// advance moves the cache's revision to rev (from a bookmark: every change
// up to rev has been applied).
func (c *Cacher) advance(rev int64) {
	c.mu.Lock()
	if rev > c.rev {
		c.rev = rev
		c.broadcastLocked()
	}
	c.mu.Unlock()
}

// sendBookmarks offers the current revision to every watcher that allows
// bookmarks; a watcher with a full buffer skips this one.
func (c *Cacher) sendBookmarks() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ev := &event{typ: watch.Bookmark, rev: c.rev}
	offer := func(w *cacheWatcher) {
		if w.bookmarks {
			select {
			case w.input <- ev:
			default:
			}
		}
	}
	for w := range c.watchers {
		offer(w)
	}
	for _, set := range c.indexed {
		for w := range set {
			offer(w)
		}
	}
}

func (c *Cacher) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Cacher) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeAllLocked()
	c.ready = false
	c.stopped = true
	c.broadcastLocked()
}

// Ready reports whether the cache has listed the store and serves reads.
func (c *Cacher) Ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ready
}

// WaitReady blocks until the cache is ready or ctx ends.
func (c *Cacher) WaitReady(ctx context.Context) error {
	for {
		c.mu.RLock()
		ready, stopped, changed := c.ready, c.stopped, c.changed
		c.mu.RUnlock()
		switch {
		case ready:
			return nil
		case stopped:
			return errors.New("watchcache: stopped")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// waitRev waits, at most ReadTimeout, until the cache is ready and has
// applied every change up to rev (0: just ready), asking the store's watch
// for progress notifications meanwhile. False means: serve from the store.
func (c *Cacher) waitRev(ctx context.Context, rev int64) bool {
	var timeout, ask <-chan time.Time
	asked := false
	for {
		c.mu.RLock()
		ready, stopped, cur, changed, progress := c.ready, c.stopped, c.rev, c.changed, c.progress
		c.mu.RUnlock()
		switch {
		case stopped:
			return false
		case ready && cur >= rev:
			return true
		}
		if timeout == nil {
			t := time.NewTimer(c.cfg.ReadTimeout)
			defer t.Stop()
			timeout = t.C
			k := time.NewTicker(progressInterval)
			defer k.Stop()
			ask = k.C
		}
		if ready && !asked && progress != nil {
			asked = true
			if err := progress.RequestProgress(ctx); err != nil {
				c.log.Debug("watch cache progress request failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-timeout:
			c.log.Debug("watch cache did not catch up in time, reading from the store", "want", rev, "have", cur)
			return false
		case <-ask:
			asked = false
		case <-changed:
		}
	}
}

// Create implements storage.Interface by delegating to the store.
func (c *Cacher) Create(ctx context.Context, key string, obj runtime.Object) (runtime.Object, error) {
	return c.store.Create(ctx, key, obj)
}

// GuaranteedUpdate implements storage.Interface by delegating to the store.
func (c *Cacher) GuaranteedUpdate(ctx context.Context, key string, ignoreNotFound bool, pre *storage.Preconditions, tryUpdate storage.UpdateFunc) (runtime.Object, error) {
	if hs, ok := c.store.(hintedUpdater); ok && c.Ready() && strings.HasPrefix(key, c.cfg.Prefix) {
		// Start from the cached state: one etcd round trip instead of two
		// when it is current; the store checks and falls back when not.
		c.mu.RLock()
		e := c.state.get(key)
		c.mu.RUnlock()
		if e != nil {
			return hs.GuaranteedUpdateFrom(ctx, key, ignoreNotFound, pre, tryUpdate, e.obj)
		}
	}
	return c.store.GuaranteedUpdate(ctx, key, ignoreNotFound, pre, tryUpdate)
}

// hintedUpdater is a store that can start an update from a cached read.
type hintedUpdater interface {
	GuaranteedUpdateFrom(ctx context.Context, key string, ignoreNotFound bool, pre *storage.Preconditions, tryUpdate storage.UpdateFunc, cached runtime.Object) (runtime.Object, error)
}

// Delete implements storage.Interface by delegating to the store.
func (c *Cacher) Delete(ctx context.Context, key string, pre *storage.Preconditions, validate func(current runtime.Object) error, cached runtime.Object) (runtime.Object, error) {
	return c.store.Delete(ctx, key, pre, validate, cached)
}

// CurrentRevision implements storage.Interface by delegating to the store.
func (c *Cacher) CurrentRevision(ctx context.Context) (int64, error) {
	return c.store.CurrentRevision(ctx)
}

// Get implements storage.Interface. ResourceVersion "" reads the store;
// "0" and N (once the cache has reached N) read the cache. The object is a
// deep copy: the caller owns it.
func (c *Cacher) Get(ctx context.Context, key string, opts storage.GetOptions) (runtime.Object, error) {
	if opts.ResourceVersion == "" || !strings.HasPrefix(key, c.cfg.Prefix) {
		return c.store.Get(ctx, key, opts)
	}
	rev, err := parseRV(key, opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	if !c.waitRev(ctx, rev) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return c.store.Get(ctx, key, opts)
	}
	c.mu.RLock()
	e := c.state.get(key)
	c.mu.RUnlock()
	if e == nil {
		return nil, storage.NewError(storage.ErrCodeKeyNotFound, key, "not found")
	}
	return e.obj.DeepCopyObject(), nil
}

// List implements storage.Interface. The store serves lists with Continue,
// with Limit (unless ResourceVersion is "0": the cache ignores Limit then)
// and with ResourceVersionMatch Exact. The cache serves the rest:
// ResourceVersion "0" at once, N once it has reached N, and "" once it has
// reached the store's current revision (a consistent read), falling back
// to the store after ReadTimeout.
//
// List items are shallow copies of the cached objects: their maps, slices
// and pointers are shared with the cache and must not be mutated.
func (c *Cacher) List(ctx context.Context, prefix string, opts storage.ListOptions) (runtime.Object, error) {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	match := metav1.ResourceVersionMatch(opts.ResourceVersionMatch)
	if opts.Continue != "" ||
		(opts.Limit > 0 && opts.ResourceVersion != "0") ||
		(match != "" && (match != metav1.ResourceVersionMatchNotOlderThan || opts.ResourceVersion == "")) ||
		!strings.HasPrefix(prefix, c.cfg.Prefix) {
		return c.store.List(ctx, prefix, opts)
	}
	rev, err := parseRV(prefix, opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	if opts.ResourceVersion == "" {
		if rev, err = c.store.CurrentRevision(ctx); err != nil {
			return nil, err
		}
	}
	if !c.waitRev(ctx, rev) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return c.store.List(ctx, prefix, opts)
	}

	c.mu.RLock()
	var matched []runtime.Object
	for _, e := range c.state.scope(prefix, true) {
		if matches(opts.Predicate, e) {
			matched = append(matched, e.obj)
		}
	}
	listRev := c.rev
	c.mu.RUnlock()

	list := c.cfg.NewListFunc()
	if err := fillList(list, matched); err != nil {
		return nil, err
	}
	listAcc, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	listAcc.SetResourceVersion(strconv.FormatInt(listRev, 10))
	return list, nil
}

// fillList sets the list's items to shallow copies of objs.
func fillList(list runtime.Object, objs []runtime.Object) error {
	itemsPtr, err := meta.GetItemsPtr(list)
	if err != nil {
		return err
	}
	items := reflect.ValueOf(itemsPtr).Elem()
	if items.Type().Elem().Kind() != reflect.Struct {
		copies := make([]runtime.Object, len(objs))
		for i, obj := range objs {
			copies[i] = shallowCopy(obj)
		}
		return meta.SetList(list, copies)
	}
	slice := reflect.MakeSlice(items.Type(), len(objs), len(objs))
	for i, obj := range objs {
		v := reflect.ValueOf(obj)
		if v.Kind() != reflect.Pointer || v.Elem().Type() != slice.Type().Elem() {
			return fmt.Errorf("watchcache: cached %T does not fit %s", obj, items.Type())
		}
		slice.Index(i).Set(v.Elem())
	}
	items.Set(slice)
	return nil
}

// shallowCopy copies the top-level struct of obj, sharing everything it
// points to. A watcher gets its own top level so that encoders, which set
// apiVersion and kind on the object while encoding it, do not race.
func shallowCopy(obj runtime.Object) runtime.Object {
	if _, ok := obj.(runtime.Unstructured); ok {
		return obj.DeepCopyObject() // its top level is a shared map
	}
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return obj.DeepCopyObject()
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	return cp.Interface().(runtime.Object)
}

// matches applies p to an entry's precomputed attributes.
func matches(p storage.Predicate, e *entry) bool {
	if e == nil {
		return false
	}
	if p.Empty() {
		return true
	}
	if p.Label != nil && !p.Label.Matches(e.labels) {
		return false
	}
	return p.Field == nil || p.Field.Matches(e.fields)
}

func resourceVersion(obj runtime.Object) (int64, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(acc.GetResourceVersion(), 10, 64)
}

// parseRV parses a resourceVersion; "" and "0" are 0.
func parseRV(key, rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, storage.NewError(storage.ErrCodeInvalidObj, key, "invalid resource version %q", rv)
	}
	return n, nil
}
