package etcd3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k1s/k1s/internal/storage"
)

// Transformer turns the encoded object into the bytes stored in etcd and
// back, e.g. to encrypt Secrets at rest. key is the full etcd key, usable as
// authenticated data.
type Transformer interface {
	TransformToStorage(ctx context.Context, data []byte, key string) ([]byte, error)
	TransformFromStorage(ctx context.Context, data []byte, key string) ([]byte, error)
}

// Config configures a Store.
type Config struct {
	Client *clientv3.Client
	// Codec encodes objects for storage and decodes them back into the
	// types made by NewFunc and NewListFunc's items.
	Codec       runtime.Codec
	NewFunc     func() runtime.Object
	NewListFunc func() runtime.Object
	// Transformer is optional; nil stores the encoded bytes as they are.
	Transformer Transformer
}

// Store is a storage.Interface on etcd v3 for one resource.
type Store struct {
	client      *clientv3.Client
	codec       runtime.Codec
	newFunc     func() runtime.Object
	newListFunc func() runtime.Object
	transformer Transformer

	// itemType is the element type of the list's Items slice when it is a
	// struct whose pointer is a runtime.Object: List then decodes straight
	// into the slice. Nil means decode with newFunc and meta.SetList.
	itemType reflect.Type

	// streams numbers the gRPC watch streams of bookmark-enabled watches.
	streams atomic.Int64
}

var _ storage.Interface = (*Store)(nil)

// New validates cfg and returns a Store.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("etcd3: Config.Client is required")
	case cfg.Codec == nil:
		return nil, errors.New("etcd3: Config.Codec is required")
	case cfg.NewFunc == nil || cfg.NewListFunc == nil:
		return nil, errors.New("etcd3: Config.NewFunc and NewListFunc are required")
	}
	s := &Store{
		client:      cfg.Client,
		codec:       cfg.Codec,
		newFunc:     cfg.NewFunc,
		newListFunc: cfg.NewListFunc,
		transformer: cfg.Transformer,
	}
	if s.transformer == nil {
		s.transformer = identity{}
	}
	itemsPtr, err := meta.GetItemsPtr(cfg.NewListFunc())
	if err != nil {
		return nil, fmt.Errorf("etcd3: NewListFunc does not make a list: %w", err)
	}
	elem := reflect.TypeOf(itemsPtr).Elem().Elem()
	if elem.Kind() == reflect.Struct && reflect.PointerTo(elem).Implements(reflect.TypeFor[runtime.Object]()) {
		s.itemType = elem
	}
	return s, nil
}

type identity struct{}

func (identity) TransformToStorage(_ context.Context, data []byte, _ string) ([]byte, error) {
	return data, nil
}

func (identity) TransformFromStorage(_ context.Context, data []byte, _ string) ([]byte, error) {
	return data, nil
}

// Create implements storage.Interface.
func (s *Store) Create(ctx context.Context, key string, obj runtime.Object) (runtime.Object, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, storage.NewError(storage.ErrCodeInvalidObj, key, "%v", err)
	}
	if acc.GetResourceVersion() != "" {
		return nil, storage.NewError(storage.ErrCodeInvalidObj, key, "resourceVersion should not be set on objects to be created")
	}
	data, err := runtime.Encode(s.codec, obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	stored, err := s.transformer.TransformToStorage(ctx, data, key)
	if err != nil {
		return nil, fmt.Errorf("transform %s: %w", key, err)
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(stored))).
		Commit()
	if err != nil {
		return nil, s.etcdError(key, err)
	}
	if !resp.Succeeded {
		return nil, storage.NewError(storage.ErrCodeKeyExists, key, "key already exists")
	}
	out := s.newFunc()
	if err := s.decodePlain(data, out, resp.Header.Revision); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return out, nil
}

// Get implements storage.Interface. ResourceVersion "0" is a serializable
// (local) read; "" and N are linearizable.
func (s *Store) Get(ctx context.Context, key string, opts storage.GetOptions) (runtime.Object, error) {
	minRev, err := parseRV(key, opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	var ops []clientv3.OpOption
	if opts.ResourceVersion == "0" {
		ops = append(ops, clientv3.WithSerializable())
	}
	resp, err := s.client.Get(ctx, key, ops...)
	if err != nil {
		return nil, s.etcdError(key, err)
	}
	if resp.Header.Revision < minRev {
		return nil, tooLarge(key, minRev, resp.Header.Revision)
	}
	if len(resp.Kvs) == 0 {
		return nil, storage.NewError(storage.ErrCodeKeyNotFound, key, "not found")
	}
	kv := resp.Kvs[0]
	out := s.newFunc()
	if err := s.decode(ctx, key, kv.Value, out, kv.ModRevision); err != nil {
		return nil, err
	}
	return out, nil
}

// GuaranteedUpdate implements storage.Interface. Each attempt is one
// compare-and-swap transaction whose else branch reads the current value, so
// a conflict costs no extra round trip.
func (s *Store) GuaranteedUpdate(ctx context.Context, key string, ignoreNotFound bool, pre *storage.Preconditions, tryUpdate storage.UpdateFunc) (runtime.Object, error) {
	return s.GuaranteedUpdateFrom(ctx, key, ignoreNotFound, pre, tryUpdate, nil)
}

// GuaranteedUpdateFrom is GuaranteedUpdate starting from cached, a recent
// read of the object (from a watch cache), instead of reading etcd first.
// The write's compare-and-swap on the cached resourceVersion catches any
// change since; then, or if tryUpdate or the preconditions fail on the
// cached state (which may just be stale), it reads etcd and tries again.
// cached is not modified.
func (s *Store) GuaranteedUpdateFrom(ctx context.Context, key string, ignoreNotFound bool, pre *storage.Preconditions, tryUpdate storage.UpdateFunc, cached runtime.Object) (runtime.Object, error) {
	var cachedRev int64
	if cached != nil {
		if acc, err := meta.Accessor(cached); err == nil {
			cachedRev, _ = strconv.ParseInt(acc.GetResourceVersion(), 10, 64)
		}
	}
	var kv *mvccpb.KeyValue
	read := func() error {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return s.etcdError(key, err)
		}
		kv = firstKV(resp.Kvs)
		return nil
	}
	if cachedRev == 0 {
		if err := read(); err != nil {
			return nil, err
		}
	}
	for {
		var cur runtime.Object
		var curData []byte
		var modRev int64
		var err error
		fromCache := cachedRev != 0
		switch {
		case fromCache:
			cur, modRev, cachedRev = cached.DeepCopyObject(), cachedRev, 0
			if curData, err = s.encodeForStorage(cur); err != nil {
				return nil, fmt.Errorf("encode %s: %w", key, err)
			}
		case kv == nil:
			if !ignoreNotFound {
				return nil, storage.NewError(storage.ErrCodeKeyNotFound, key, "not found")
			}
		default:
			modRev = kv.ModRevision
			curData, err = s.transformer.TransformFromStorage(ctx, kv.Value, key)
			if err != nil {
				return nil, fmt.Errorf("transform %s: %w", key, err)
			}
			cur = s.newFunc()
			if err := s.decodePlain(curData, cur, modRev); err != nil {
				return nil, fmt.Errorf("decode %s: %w", key, err)
			}
		}
		if err := checkPreconditions(key, pre, cur); err != nil {
			if fromCache {
				if err := read(); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		updated, err := tryUpdate(cur)
		if err != nil {
			if fromCache {
				// The cached state may be stale (a client's newer
				// resourceVersion looks like a conflict): decide on etcd's.
				if err := read(); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		if updated == nil {
			return nil, storage.NewError(storage.ErrCodeInvalidObj, key, "update function returned no object")
		}
		data, err := s.encodeForStorage(updated)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", key, err)
		}
		if curData != nil && bytes.Equal(data, curData) {
			if fromCache {
				// Unchanged against the cache: confirm against etcd, which
				// may hold a newer state that this update does change.
				if err := read(); err != nil {
					return nil, err
				}
				if kv != nil && kv.ModRevision == modRev {
					out := s.newFunc()
					if err := s.decodePlain(curData, out, modRev); err != nil {
						return nil, fmt.Errorf("decode %s: %w", key, err)
					}
					return out, nil
				}
				continue
			}
			// Unchanged: nothing to write. Return the stored state, fresh.
			out := s.newFunc()
			if err := s.decodePlain(curData, out, modRev); err != nil {
				return nil, fmt.Errorf("decode %s: %w", key, err)
			}
			return out, nil
		}
		stored, err := s.transformer.TransformToStorage(ctx, data, key)
		if err != nil {
			return nil, fmt.Errorf("transform %s: %w", key, err)
		}
		cmp := clientv3.Compare(clientv3.ModRevision(key), "=", modRev)
		txn, err := s.client.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, string(stored))).Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return nil, s.etcdError(key, err)
		}
		if !txn.Succeeded {
			kv = firstKV(txn.Responses[0].GetResponseRange().GetKvs())
			continue
		}
		out := s.newFunc()
		if err := s.decodePlain(data, out, txn.Header.Revision); err != nil {
			return nil, fmt.Errorf("decode %s: %w", key, err)
		}
		return out, nil
	}
}

// Delete implements storage.Interface. The returned object carries the
// resourceVersion it had before the delete; the DELETED watch event carries
// the delete revision.
func (s *Store) Delete(ctx context.Context, key string, pre *storage.Preconditions, validate func(current runtime.Object) error, cached runtime.Object) (runtime.Object, error) {
	var kv *mvccpb.KeyValue
	var cachedRev int64
	if cached != nil {
		if acc, err := meta.Accessor(cached); err == nil {
			cachedRev, _ = strconv.ParseInt(acc.GetResourceVersion(), 10, 64)
		}
	}
	if cachedRev == 0 {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return nil, s.etcdError(key, err)
		}
		kv = firstKV(resp.Kvs)
	}
	for {
		var cur runtime.Object
		var modRev int64
		if cachedRev != 0 {
			// Try the caller's read first; the compare-and-swap below
			// catches any change since, and the loop then reads.
			cur, modRev, cachedRev = cached.DeepCopyObject(), cachedRev, 0
		} else {
			if kv == nil {
				return nil, storage.NewError(storage.ErrCodeKeyNotFound, key, "not found")
			}
			cur, modRev = s.newFunc(), kv.ModRevision
			if err := s.decode(ctx, key, kv.Value, cur, kv.ModRevision); err != nil {
				return nil, err
			}
		}
		if err := checkPreconditions(key, pre, cur); err != nil {
			return nil, err
		}
		if validate != nil {
			if err := validate(cur); err != nil {
				return nil, err
			}
		}
		txn, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
			Then(clientv3.OpDelete(key)).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return nil, s.etcdError(key, err)
		}
		if !txn.Succeeded {
			kv = firstKV(txn.Responses[0].GetResponseRange().GetKvs())
			continue
		}
		return cur, nil
	}
}

// CurrentRevision implements storage.Interface with a linearizable
// count-only read of a key that never exists.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, "\x00", clientv3.WithCountOnly())
	if err != nil {
		return 0, s.etcdError("", err)
	}
	return resp.Header.Revision, nil
}

// encodeForStorage encodes obj without its resourceVersion (the revision
// is etcd's, not part of the value). obj is left as it was.
func (s *Store) encodeForStorage(obj runtime.Object) ([]byte, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := acc.GetResourceVersion()
	if rv != "" {
		acc.SetResourceVersion("")
		defer acc.SetResourceVersion(rv)
	}
	return runtime.Encode(s.codec, obj)
}

// decode decodes a stored value into into and sets its resourceVersion.
func (s *Store) decode(ctx context.Context, key string, value []byte, into runtime.Object, rev int64) error {
	data, err := s.transformer.TransformFromStorage(ctx, value, key)
	if err != nil {
		return fmt.Errorf("transform %s: %w", key, err)
	}
	if err := s.decodePlain(data, into, rev); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

func (s *Store) decodePlain(data []byte, into runtime.Object, rev int64) error {
	out, _, err := s.codec.Decode(data, nil, into)
	if err != nil {
		return err
	}
	if out != into {
		// The codec returned a different object (a conversion): copy it in.
		dst, src := reflect.ValueOf(into), reflect.ValueOf(out)
		if dst.Type() != src.Type() {
			return fmt.Errorf("decoded %T, want %T", out, into)
		}
		dst.Elem().Set(src.Elem())
	}
	return setRV(into, rev)
}

func setRV(obj runtime.Object, rev int64) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	acc.SetResourceVersion(strconv.FormatInt(rev, 10))
	return nil
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

func checkPreconditions(key string, pre *storage.Preconditions, cur runtime.Object) error {
	if pre == nil || (pre.UID == nil && pre.ResourceVersion == nil) {
		return nil
	}
	var uid, rv string
	if cur != nil {
		acc, err := meta.Accessor(cur)
		if err != nil {
			return storage.NewError(storage.ErrCodeInvalidObj, key, "%v", err)
		}
		uid, rv = string(acc.GetUID()), acc.GetResourceVersion()
	}
	if pre.UID != nil && string(*pre.UID) != uid {
		return storage.NewError(storage.ErrCodeInvalidObj, key,
			"Precondition failed: UID in precondition: %v, UID in object meta: %v", *pre.UID, uid)
	}
	if pre.ResourceVersion != nil && *pre.ResourceVersion != rv {
		return storage.NewError(storage.ErrCodeResourceVersionConflicts, key,
			"Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *pre.ResourceVersion, rv)
	}
	return nil
}

func firstKV(kvs []*mvccpb.KeyValue) *mvccpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	return kvs[0]
}

func tooLarge(key string, want, have int64) error {
	err := storage.NewError(storage.ErrCodeTooLarge, key,
		"Too large resource version: %d, current: %d", want, have)
	err.ResourceVersion = want
	return err
}

// etcdError maps etcd's errors on revisions to storage codes and wraps the rest.
func (s *Store) etcdError(key string, err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		return storage.NewError(storage.ErrCodeResourceVersionTooOld, key, "resource version too old: %v", err)
	case errors.Is(err, rpctypes.ErrFutureRev):
		return storage.NewError(storage.ErrCodeTooLarge, key, "resource version too large: %v", err)
	}
	if key == "" {
		return fmt.Errorf("etcd: %w", err)
	}
	return fmt.Errorf("etcd %s: %w", key, err)
}
