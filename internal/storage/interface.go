package storage

import (
	"context"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// Interface is what the api-server needs from a store of one resource.
// Keys are full paths such as /registry/pods/default/web-0; a prefix ends
// with "/" and names every key under it.
//
// Objects returned by Create, Get, GuaranteedUpdate and Delete are freshly
// allocated (callers may mutate them). Objects from List and Watch may share
// nested data with a cache: treat them as read-only (top-level fields such
// as TypeMeta may be set). Every object has
// metadata.resourceVersion set to the etcd ModRevision it was read or
// written at. Lists have the list resourceVersion (the store revision the
// list was read at) and, when truncated by Limit, a continue token.
type Interface interface {
	// Create stores obj under key; fails with ErrCodeKeyExists if present.
	// obj must have an empty resourceVersion.
	Create(ctx context.Context, key string, obj runtime.Object) (runtime.Object, error)
	// Get returns the object at key, or ErrCodeKeyNotFound.
	Get(ctx context.Context, key string, opts GetOptions) (runtime.Object, error)
	// List returns the objects under prefix that match opts.Predicate, as a
	// list object made by the store's NewListFunc.
	List(ctx context.Context, prefix string, opts ListOptions) (runtime.Object, error)
	// GuaranteedUpdate reads the current object, calls tryUpdate with a copy
	// and writes the result with a compare-and-swap on the ModRevision,
	// retrying tryUpdate on conflict. Preconditions are checked against
	// every current object read. When the key does not exist tryUpdate is
	// called with nil only if ignoreNotFound; otherwise ErrCodeKeyNotFound.
	// If tryUpdate returns an object equal (byte-for-byte encoded) to the
	// current one, nothing is written and the current object is returned.
	GuaranteedUpdate(ctx context.Context, key string, ignoreNotFound bool, pre *Preconditions, tryUpdate UpdateFunc) (runtime.Object, error)
	// Delete removes key after checking preconditions and validate (called
	// with the current object; a non-nil error aborts and is returned as is).
	// Returns the last state of the object. cached, if not nil, is the
	// caller's recent read of the object: the store tries the delete at
	// its resourceVersion first and reads only if the object changed since.
	Delete(ctx context.Context, key string, pre *Preconditions, validate func(current runtime.Object) error, cached runtime.Object) (runtime.Object, error)
	// Watch streams changes to key (or to every key under it if
	// opts.Recursive) that happen after opts.ResourceVersion ("" or "0":
	// start with synthetic ADDED events for the current state, then
	// changes). A compacted version gives ErrCodeResourceVersionTooOld.
	// Objects are filtered with opts.Predicate: an object that stops
	// matching is sent as DELETED, one that starts matching as ADDED.
	// With opts.AllowBookmarks, Bookmark events carry only a resourceVersion.
	Watch(ctx context.Context, key string, opts ListOptions) (watch.Interface, error)
	// CurrentRevision returns the store's newest revision (for consistent reads).
	CurrentRevision(ctx context.Context) (int64, error)
}

// UpdateFunc computes the new state from the current one. current is nil
// when the key does not exist and ignoreNotFound was set.
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// Preconditions must hold on the current object for a write to go ahead.
type Preconditions struct {
	UID             *types.UID
	ResourceVersion *string
}

// GetOptions tune Get.
type GetOptions struct {
	// ResourceVersion "" means the newest (quorum read); "0" any cached
	// state is fine; otherwise at least that version.
	ResourceVersion string
}

// ListOptions tune List and Watch.
type ListOptions struct {
	// ResourceVersion: for List, "" = consistent read, "0" = any (cache),
	// N = exact revision N when ResourceVersionMatch is "Exact", at least
	// N otherwise. For Watch: changes after N; "" / "0" start with state.
	ResourceVersion      string
	ResourceVersionMatch string
	Limit                int64
	Continue             string
	Predicate            Predicate
	Recursive            bool
	AllowBookmarks       bool
	// SendInitialEvents (watch only, with a "" or "0" resourceVersion):
	// after the synthetic ADDED events send a Bookmark annotated with
	// "k8s.io/initial-events-end": "true".
	SendInitialEvents *bool
}

// Predicate selects objects by labels and fields.
type Predicate struct {
	Label labels.Selector
	Field fields.Selector
	// GetAttrs returns an object's labels and selectable fields.
	GetAttrs func(obj runtime.Object) (labels.Set, fields.Set, error)
}

// Empty reports whether p matches everything.
func (p Predicate) Empty() bool {
	return (p.Label == nil || p.Label.Empty()) && (p.Field == nil || p.Field.Empty())
}

// Matches reports whether obj satisfies p.
func (p Predicate) Matches(obj runtime.Object) (bool, error) {
	if p.Empty() {
		return true, nil
	}
	if p.GetAttrs == nil {
		return false, nil
	}
	ls, fs, err := p.GetAttrs(obj)
	if err != nil {
		return false, err
	}
	if p.Label != nil && !p.Label.Matches(ls) {
		return false, nil
	}
	if p.Field != nil && !p.Field.Matches(fs) {
		return false, nil
	}
	return true, nil
}
