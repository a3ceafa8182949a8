package etcd3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k1s/k1s/internal/storage"
)

// resultBuffer is the capacity of a watch's result channel.
const resultBuffer = 100

// streamKey is the gRPC metadata key that gives each bookmark-enabled watch
// its own etcd watch stream (clientv3 groups watches into streams by their
// context's metadata). etcd answers a progress request only when every
// watch on the stream is in sync, so a watch alone on its stream gets its
// progress notifications however far behind other watches are.
const streamKey = "k1s-watch-stream"

// Watch implements storage.Interface on one etcd watch with WithPrevKV.
//
// A start revision that is already compacted fails here with
// ErrCodeResourceVersionTooOld (checked with a count-only read at that
// revision). If etcd compacts past the watch while it is running, the
// watch ends with an Error event carrying a 410 Expired *metav1.Status.
// With AllowBookmarks, etcd progress notifications (periodic, or asked for
// with RequestProgress on the returned watch) become Bookmark events.
func (s *Store) Watch(ctx context.Context, key string, opts storage.ListOptions) (watch.Interface, error) {
	if opts.Recursive && !strings.HasSuffix(key, "/") {
		key += "/"
	}
	fromRV, err := parseRV(key, opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	stateFirst := opts.ResourceVersion == "" || opts.ResourceVersion == "0"
	if opts.SendInitialEvents != nil {
		stateFirst = *opts.SendInitialEvents
	}

	var (
		initial []*mvccpb.KeyValue
		rev     int64 // changes after rev are watched
	)
	switch {
	case stateFirst:
		var ops []clientv3.OpOption
		if opts.Recursive {
			ops = append(ops, clientv3.WithPrefix())
		}
		if opts.ResourceVersion == "0" {
			ops = append(ops, clientv3.WithSerializable())
		}
		resp, err := s.client.Get(ctx, key, ops...)
		if err != nil {
			return nil, s.etcdError(key, err)
		}
		if resp.Header.Revision < fromRV {
			return nil, tooLarge(key, fromRV, resp.Header.Revision)
		}
		initial, rev = resp.Kvs, resp.Header.Revision
	case fromRV == 0:
		if rev, err = s.CurrentRevision(ctx); err != nil {
			return nil, err
		}
	default:
		rev = fromRV
		// Fail now rather than with an event if the history is gone.
		_, err := s.client.Get(ctx, key, clientv3.WithRev(fromRV+1), clientv3.WithCountOnly())
		switch {
		case err == nil, errors.Is(err, rpctypes.ErrFutureRev):
		case errors.Is(err, rpctypes.ErrCompacted):
			e := storage.NewError(storage.ErrCodeResourceVersionTooOld, key, "too old resource version: %d", fromRV)
			e.ResourceVersion = fromRV
			return nil, e
		default:
			return nil, s.etcdError(key, err)
		}
	}

	md := metadata.Pairs(rpctypes.MetadataRequireLeaderKey, rpctypes.MetadataHasLeader)
	if opts.AllowBookmarks {
		md.Set(streamKey, strconv.FormatInt(s.streams.Add(1), 10))
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &watcher{
		s:         s,
		pred:      opts.Predicate,
		bookmarks: opts.AllowBookmarks,
		md:        md,
		startRev:  rev,
		cancel:    cancel,
		result:    make(chan watch.Event, resultBuffer),
		done:      make(chan struct{}),
	}
	ops := []clientv3.OpOption{clientv3.WithRev(rev + 1), clientv3.WithPrevKV()}
	if opts.Recursive {
		ops = append(ops, clientv3.WithPrefix())
	}
	if opts.AllowBookmarks {
		ops = append(ops, clientv3.WithProgressNotify())
	}
	wch := s.client.Watch(metadata.NewOutgoingContext(wctx, md), key, ops...)
	initialEnd := stateFirst && opts.SendInitialEvents != nil && *opts.SendInitialEvents
	go w.run(wctx, wch, initial, initialEnd)
	return w, nil
}

// watcher turns one etcd watch into watch.Events.
type watcher struct {
	s         *Store
	pred      storage.Predicate
	bookmarks bool
	md        metadata.MD
	startRev  int64
	cancel    context.CancelFunc
	result    chan watch.Event
	done      chan struct{} // closed when run has returned
}

// ResultChan implements watch.Interface.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

// Stop implements watch.Interface: it ends the etcd watch and returns once
// the result channel is closed.
func (w *watcher) Stop() {
	w.cancel()
	<-w.done
}

// RequestProgress asks etcd for a progress notification on this watch's
// stream; with AllowBookmarks it arrives as a Bookmark whose
// resourceVersion is etcd's revision at the time, once every event up to it
// has been delivered.
func (w *watcher) RequestProgress(ctx context.Context) error {
	select {
	case <-w.done:
		// Asking on a closed watch would make clientv3 open a new stream.
		return errors.New("etcd3: watch stopped")
	default:
	}
	return w.s.client.RequestProgress(metadata.NewOutgoingContext(ctx, w.md))
}

func (w *watcher) run(ctx context.Context, wch clientv3.WatchChan, initial []*mvccpb.KeyValue, initialEnd bool) {
	defer close(w.done)
	defer close(w.result)
	defer w.cancel()

	for _, kv := range initial {
		obj := w.s.newFunc()
		if err := w.s.decode(ctx, string(kv.Key), kv.Value, obj, kv.ModRevision); err != nil {
			w.send(ctx, internalError(err))
			return
		}
		ok, err := w.pred.Matches(obj)
		if err != nil {
			w.send(ctx, internalError(err))
			return
		}
		if ok && !w.send(ctx, watch.Event{Type: watch.Added, Object: obj}) {
			return
		}
	}
	if initialEnd && !w.send(ctx, watch.Event{Type: watch.Bookmark, Object: w.bookmark(w.startRev, true)}) {
		return
	}

	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case <-ctx.Done():
			return
		case resp, ok = <-wch:
		}
		switch {
		case !ok:
			if ctx.Err() == nil {
				w.send(ctx, internalError(errors.New("etcd watch channel closed")))
			}
			return
		case resp.CompactRevision != 0:
			w.send(ctx, watch.Event{Type: watch.Error, Object: &metav1.Status{
				Status:  metav1.StatusFailure,
				Code:    http.StatusGone,
				Reason:  metav1.StatusReasonExpired,
				Message: fmt.Sprintf("too old resource version: %d (%d)", w.startRev, resp.CompactRevision),
			}})
			return
		case resp.Err() != nil:
			w.send(ctx, internalError(resp.Err()))
			return
		case resp.IsProgressNotify():
			if w.bookmarks && !w.send(ctx, watch.Event{Type: watch.Bookmark, Object: w.bookmark(resp.Header.Revision, false)}) {
				return
			}
			continue
		}
		for _, e := range resp.Events {
			ev, ok, err := w.transform(ctx, e)
			if err != nil {
				w.send(ctx, internalError(err))
				return
			}
			if ok && !w.send(ctx, ev) {
				return
			}
		}
	}
}

// transform turns an etcd event into the watch.Event the predicate sees:
// an update that makes an object start matching is ADDED, one that makes it
// stop matching is DELETED (with the old object at the new revision).
func (w *watcher) transform(ctx context.Context, e *clientv3.Event) (watch.Event, bool, error) {
	key, rev := string(e.Kv.Key), e.Kv.ModRevision
	decodePrev := func() (runtime.Object, bool, error) {
		if e.PrevKv == nil {
			return nil, false, nil
		}
		old := w.s.newFunc()
		// The old object carries the revision at which it went away.
		if err := w.s.decode(ctx, key, e.PrevKv.Value, old, rev); err != nil {
			return nil, false, err
		}
		ok, err := w.pred.Matches(old)
		return old, ok, err
	}

	if e.Type == clientv3.EventTypeDelete {
		old, ok, err := decodePrev()
		if err != nil || !ok {
			return watch.Event{}, false, err
		}
		return watch.Event{Type: watch.Deleted, Object: old}, true, nil
	}

	cur := w.s.newFunc()
	if err := w.s.decode(ctx, key, e.Kv.Value, cur, rev); err != nil {
		return watch.Event{}, false, err
	}
	curOK, err := w.pred.Matches(cur)
	if err != nil {
		return watch.Event{}, false, err
	}
	if e.IsCreate() {
		return watch.Event{Type: watch.Added, Object: cur}, curOK, nil
	}
	if w.pred.Empty() {
		return watch.Event{Type: watch.Modified, Object: cur}, true, nil
	}
	old, oldOK, err := decodePrev()
	if err != nil {
		return watch.Event{}, false, err
	}
	switch {
	case curOK && (oldOK || old == nil):
		return watch.Event{Type: watch.Modified, Object: cur}, true, nil
	case curOK:
		return watch.Event{Type: watch.Added, Object: cur}, true, nil
	case oldOK:
		return watch.Event{Type: watch.Deleted, Object: old}, true, nil
	}
	return watch.Event{}, false, nil
}

func (w *watcher) send(ctx context.Context, ev watch.Event) bool {
	select {
	case w.result <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// bookmark makes the object of a Bookmark event: NewFunc's zero object with
// only a resourceVersion (and the initial-events-end annotation).
func (w *watcher) bookmark(rev int64, initialEnd bool) runtime.Object {
	obj := w.s.newFunc()
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetResourceVersion(strconv.FormatInt(rev, 10))
		if initialEnd {
			acc.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		}
	}
	return obj
}

func internalError(err error) watch.Event {
	return watch.Event{Type: watch.Error, Object: &metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusInternalServerError,
		Reason:  metav1.StatusReasonInternalError,
		Message: err.Error(),
	}}
}
