package etcd3

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k1s/k1s/internal/storage"
)

// maxPage bounds how many keys one range read fetches while List looks for
// Limit matching items.
const maxPage = 10000

// List implements storage.Interface.
//
// Without Limit the whole prefix is read in one range. With Limit, pages are
// read at one fixed revision until Limit items match the predicate or the
// prefix ends; the page size doubles (up to maxPage) while the predicate
// keeps filtering. The continue token records that revision and the next
// key, so every page of a list shows the same snapshot.
func (s *Store) List(ctx context.Context, prefix string, opts storage.ListOptions) (runtime.Object, error) {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	fromRV, err := parseRV(prefix, opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	var (
		withRev      int64 // read at this revision; 0 = newest
		minRev       int64 // newest must be at least this
		serializable bool
		start        = prefix
	)
	if opts.Continue != "" {
		if fromRV != 0 {
			return nil, storage.NewError(storage.ErrCodeInvalidObj, prefix, "specifying resource version is not allowed when using continue")
		}
		withRev, start, err = decodeContinue(opts.Continue, prefix)
		if err != nil {
			return nil, err
		}
	} else {
		switch opts.ResourceVersionMatch {
		case "":
			switch {
			case opts.ResourceVersion == "0":
				serializable = true
			case fromRV > 0 && opts.Limit > 0:
				withRev = fromRV // legacy: a paginated list at N reads exactly N
			default:
				minRev = fromRV
			}
		case string(metav1.ResourceVersionMatchNotOlderThan):
			if opts.ResourceVersion == "" {
				return nil, storage.NewError(storage.ErrCodeInvalidObj, prefix, "resourceVersionMatch NotOlderThan requires a resourceVersion")
			}
			serializable = fromRV == 0
			minRev = fromRV
		case string(metav1.ResourceVersionMatchExact):
			if fromRV == 0 {
				return nil, storage.NewError(storage.ErrCodeInvalidObj, prefix, "resourceVersionMatch Exact requires a non-zero resourceVersion")
			}
			withRev = fromRV
		default:
			return nil, storage.NewError(storage.ErrCodeInvalidObj, prefix, "unknown resourceVersionMatch %q", opts.ResourceVersionMatch)
		}
	}

	list := s.newListFunc()
	items := newItemAppender(s, list)
	end := clientv3.GetPrefixRangeEnd(prefix)
	limit := opts.Limit
	pageSize := limit
	var (
		lastKey   []byte
		more      bool
		remaining int64
		first     = true
	)
	for {
		ops := []clientv3.OpOption{clientv3.WithRange(end)}
		if withRev > 0 {
			ops = append(ops, clientv3.WithRev(withRev))
		}
		if serializable && first {
			ops = append(ops, clientv3.WithSerializable())
		}
		if limit > 0 {
			ops = append(ops, clientv3.WithLimit(pageSize))
		}
		resp, err := s.client.Get(ctx, start, ops...)
		if err != nil {
			return nil, s.etcdError(prefix, err)
		}
		if withRev == 0 {
			withRev = resp.Header.Revision
			if withRev < minRev {
				return nil, tooLarge(prefix, minRev, withRev)
			}
		}
		if first && limit > 0 {
			remaining = resp.Count
		}
		first = false
		if opts.Predicate.Empty() {
			items.grow(len(resp.Kvs)) // all of them are kept
		}
		for _, kv := range resp.Kvs {
			if limit > 0 && int64(items.len()) == limit {
				more = true // a key is left after a full page
				break
			}
			key := string(kv.Key)
			obj := items.next()
			if err := s.decode(ctx, key, kv.Value, obj, kv.ModRevision); err != nil {
				return nil, err
			}
			ok, err := opts.Predicate.Matches(obj)
			if err != nil {
				return nil, fmt.Errorf("match %s: %w", key, err)
			}
			items.keep(ok)
			lastKey = kv.Key
		}
		if more || !resp.More {
			break
		}
		if limit > 0 && int64(items.len()) == limit {
			more = true // the page ended exactly at the limit, keys remain
			break
		}
		start = string(lastKey) + "\x00"
		pageSize = min(pageSize*2, maxPage)
	}
	if err := items.finish(); err != nil {
		return nil, err
	}

	listAcc, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	listAcc.SetResourceVersion(strconv.FormatInt(withRev, 10))
	if more {
		token, err := encodeContinue(withRev, string(lastKey)+"\x00", prefix)
		if err != nil {
			return nil, err
		}
		listAcc.SetContinue(token)
		if opts.Predicate.Empty() {
			// Only exact when nothing is filtered: the keys after this page.
			n := remaining - int64(items.len())
			if n > 0 {
				listAcc.SetRemainingItemCount(&n)
			}
		}
	}
	return list, nil
}

// itemAppender decodes list items in place: straight into the list's Items
// slice when its elements are structs, reusing the slot of an item the
// predicate rejected.
type itemAppender struct {
	s     *Store
	list  runtime.Object
	slice reflect.Value // the Items slice (typed path)
	objs  []runtime.Object
	last  runtime.Object // generic path: the object handed out by next
}

func newItemAppender(s *Store, list runtime.Object) *itemAppender {
	a := &itemAppender{s: s, list: list}
	if s.itemType != nil {
		ptr, _ := meta.GetItemsPtr(list) // checked in New
		a.slice = reflect.ValueOf(ptr).Elem()
	}
	return a
}

func (a *itemAppender) len() int {
	if a.slice.IsValid() {
		return a.slice.Len()
	}
	return len(a.objs)
}

func (a *itemAppender) grow(n int) {
	if a.slice.IsValid() {
		a.slice.Grow(n)
	}
}

// next returns a zero object to decode the next item into.
func (a *itemAppender) next() runtime.Object {
	if !a.slice.IsValid() {
		a.last = a.s.newFunc()
		return a.last
	}
	n := a.slice.Len()
	if n == a.slice.Cap() {
		a.slice.Grow(1)
	}
	a.slice.SetLen(n + 1)
	return a.slice.Index(n).Addr().Interface().(runtime.Object)
}

// keep keeps or drops the object handed out by the last next.
func (a *itemAppender) keep(ok bool) {
	if !a.slice.IsValid() {
		if ok {
			a.objs = append(a.objs, a.last)
		}
		a.last = nil
		return
	}
	if !ok {
		// Zero the slot: the next item is decoded into it, and decoding
		// merges into whatever is there.
		n := a.slice.Len() - 1
		a.slice.Index(n).SetZero()
		a.slice.SetLen(n)
	}
}

func (a *itemAppender) finish() error {
	if a.slice.IsValid() {
		return nil
	}
	return meta.SetList(a.list, a.objs)
}

type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

// encodeContinue makes an opaque token; the start key is stored relative
// to the prefix so a token can never reach outside it.
func encodeContinue(rev int64, next, prefix string) (string, error) {
	b, err := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", ResourceVersion: rev, StartKey: strings.TrimPrefix(next, prefix)})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func decodeContinue(token, prefix string) (rev int64, start string, err error) {
	bad := func(format string, args ...any) error {
		return storage.NewError(storage.ErrCodeInvalidObj, prefix, "invalid continue token: "+format, args...)
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, "", bad("%v", err)
	}
	var t continueToken
	if err := json.Unmarshal(b, &t); err != nil {
		return 0, "", bad("%v", err)
	}
	if t.APIVersion != "meta.k8s.io/v1" {
		return 0, "", bad("unknown version %q", t.APIVersion)
	}
	if t.ResourceVersion <= 0 {
		return 0, "", bad("no resource version")
	}
	return t.ResourceVersion, prefix + t.StartKey, nil
}
