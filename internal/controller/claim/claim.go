package claim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Action is what a controller does with one object it looked at.
type Action int

const (
	// Ignore: not ours, and not ours to take.
	Ignore Action = iota
	// Keep: controlled by the owner and still matching.
	Keep
	// Adopt: an orphan matching the owner's selector.
	Adopt
	// Release: controlled by the owner but no longer matching.
	Release
)

func (a Action) String() string {
	switch a {
	case Keep:
		return "keep"
	case Adopt:
		return "adopt"
	case Release:
		return "release"
	default:
		return "ignore"
	}
}

// Decide returns what owner, selecting with sel, should do with obj.
func Decide(owner metav1.Object, sel labels.Selector, obj metav1.Object) Action {
	ownerDeleting := owner.GetDeletionTimestamp() != nil
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		switch {
		case ref.UID != owner.GetUID():
			return Ignore
		case sel.Matches(labels.Set(obj.GetLabels())):
			// Keeping takes no action, so it is fine while being deleted.
			return Keep
		case ownerDeleting:
			return Ignore
		default:
			return Release
		}
	}
	switch {
	case ownerDeleting, obj.GetDeletionTimestamp() != nil:
		return Ignore
	case owner.GetNamespace() != "" && owner.GetNamespace() != obj.GetNamespace():
		return Ignore
	case !sel.Matches(labels.Set(obj.GetLabels())):
		return Ignore
	default:
		return Adopt
	}
}

type patchMeta struct {
	UID             types.UID `json:"uid"`
	OwnerReferences []any     `json:"ownerReferences"`
}

type patchBody struct {
	Metadata patchMeta `json:"metadata"`
}

// AdoptPatch is a strategic merge patch making owner, of kind, the
// controller of the object with UID uid.
func AdoptPatch(owner metav1.Object, kind schema.GroupVersionKind, uid types.UID) []byte {
	ref := metav1.NewControllerRef(owner, kind)
	b, _ := json.Marshal(patchBody{Metadata: patchMeta{UID: uid, OwnerReferences: []any{ref}}})
	return b
}

// ReleasePatch is a strategic merge patch removing the reference to the
// owner with UID ownerUID from the object with UID uid.
func ReleasePatch(ownerUID, uid types.UID) []byte {
	del := map[string]string{"$patch": "delete", "uid": string(ownerUID)}
	b, _ := json.Marshal(patchBody{Metadata: patchMeta{UID: uid, OwnerReferences: []any{del}}})
	return b
}

// Claimer claims objects for one owner in one reconcile; use a new one for
// every reconcile, since it remembers whether the owner was rechecked.
type Claimer struct {
	Owner    metav1.Object // as read from the cache; not mutated
	Kind     schema.GroupVersionKind
	Selector labels.Selector
	// Recheck reads the owner fresh from the api-server and returns an
	// error if it is gone, was replaced (another UID) or is being deleted.
	// It is called once, before the first adoption.
	Recheck func(ctx context.Context) error
	// Patch applies a strategic merge patch to the named object in the
	// owner's namespace.
	Patch func(ctx context.Context, name string, patch []byte) error

	rechecked bool
	recheck   error
}

// Claim returns the objects owner controls after adopting and releasing,
// in the order given. Adopted objects are returned as given (the cached
// copy, without the new reference). Failures to adopt or release one
// object do not stop the others; they are returned joined.
func Claim[T metav1.Object](ctx context.Context, c *Claimer, objs []T) ([]T, error) {
	var claimed []T
	var errs []error
	for _, obj := range objs {
		switch Decide(c.Owner, c.Selector, obj) {
		case Keep:
			claimed = append(claimed, obj)
		case Adopt:
			err := c.adopt(ctx, obj)
			switch {
			case err == nil:
				claimed = append(claimed, obj)
			case apierrors.IsNotFound(err):
				// Gone meanwhile: nothing to claim.
			default:
				errs = append(errs, err)
			}
		case Release:
			err := c.Patch(ctx, obj.GetName(), ReleasePatch(c.Owner.GetUID(), obj.GetUID()))
			// Not found: gone. Invalid: no reference left or another UID,
			// that is, released or recreated meanwhile.
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
				errs = append(errs, fmt.Errorf("releasing %s: %w", obj.GetName(), err))
			}
		}
	}
	return claimed, errors.Join(errs...)
}

func (c *Claimer) adopt(ctx context.Context, obj metav1.Object) error {
	if !c.rechecked {
		c.rechecked = true
		if c.Recheck != nil {
			c.recheck = c.Recheck(ctx)
		}
	}
	if c.recheck != nil {
		return fmt.Errorf("adopting %s: %w", obj.GetName(), c.recheck)
	}
	if err := c.Patch(ctx, obj.GetName(), AdoptPatch(c.Owner, c.Kind, obj.GetUID())); err != nil {
		return fmt.Errorf("adopting %s: %w", obj.GetName(), err)
	}
	return nil
}

// RecheckOwner is a helper for Claimer.Recheck: get reads the owner fresh;
// the result must have uid and no deletion timestamp.
func RecheckOwner(get func(ctx context.Context) (metav1.Object, error), uid types.UID) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := get(ctx)
		if err != nil {
			return fmt.Errorf("rechecking owner: %w", err)
		}
		if fresh.GetUID() != uid {
			return fmt.Errorf("owner %s/%s is gone: got uid %s, wanted %s", fresh.GetNamespace(), fresh.GetName(), fresh.GetUID(), uid)
		}
		if ts := fresh.GetDeletionTimestamp(); ts != nil {
			return fmt.Errorf("owner %s/%s is being deleted (since %v)", fresh.GetNamespace(), fresh.GetName(), ts)
		}
		return nil
	}
}
