package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	appsclient "k8s.io/client-go/kubernetes/typed/apps/v1"
)

// HashLabel is the label a revision carries its hash in.
const HashLabel = "controller.kubernetes.io/hash"

// ErrCollision means a revision with the wanted name exists with other
// data: the caller should increase its collision count and try again.
var ErrCollision = errors.New("controller revision name collision")

// Patch is the revision data of template: a strategic merge patch that
// replaces spec.template, encoded exactly as kubectl encodes it.
func Patch(template *corev1.PodTemplateSpec) ([]byte, error) {
	b, err := json.Marshal(template)
	if err != nil {
		return nil, fmt.Errorf("encoding template: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decoding template: %w", err)
	}
	// kubectl (v1.32, as installed) encodes the template's zero
	// creationTimestamp as null; newer apimachinery omits it. Written the
	// kubectl way, `rollout undo` recognises a revision equal to the
	// current template.
	meta, _ := raw["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		raw["metadata"] = meta
	}
	if _, ok := meta["creationTimestamp"]; !ok {
		meta["creationTimestamp"] = nil
	}
	raw["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": raw}})
}

// Hash names revision data: an FNV-32 hash of data and the collision
// count, encoded to be safe in names and labels.
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32()
	h.Write(data)
	if collisionCount != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisionCount), 10)))
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// Template decodes the pod template a revision restores.
func Template(cr *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var p struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(cr.Data.Raw, &p); err != nil {
		return nil, fmt.Errorf("decoding revision %s: %w", cr.Name, err)
	}
	return &p.Spec.Template, nil
}

// New is the revision number revision of template for owner (of kind).
func New(owner metav1.Object, kind schema.GroupVersionKind, template *corev1.PodTemplateSpec, revision int64, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	data, err := Patch(template)
	if err != nil {
		return nil, err
	}
	hash := Hash(data, collisionCount)
	lbls := maps.Clone(template.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[HashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            owner.GetName() + "-" + hash,
			Namespace:       owner.GetNamespace(),
			Labels:          lbls,
			Annotations:     maps.Clone(owner.GetAnnotations()),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, kind)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}, nil
}

// Equal reports whether two revisions restore the same template.
func Equal(a, b *appsv1.ControllerRevision) bool {
	if bytes.Equal(a.Data.Raw, b.Data.Raw) {
		return true
	}
	ta, err := Template(a)
	if err != nil {
		return false
	}
	tb, err := Template(b)
	return err == nil && apiequality.Semantic.DeepEqual(ta, tb)
}

// Owned returns the revisions controlled by the owner with uid, oldest
// revision first.
func Owned(all []*appsv1.ControllerRevision, owner metav1.Object) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, cr := range all {
		if ref := metav1.GetControllerOfNoCopy(cr); ref != nil && ref.UID == owner.GetUID() {
			out = append(out, cr)
		}
	}
	Sort(out)
	return out
}

// Sort orders revisions by number, then name.
func Sort(revs []*appsv1.ControllerRevision) {
	slices.SortFunc(revs, func(a, b *appsv1.ControllerRevision) int {
		if a.Revision != b.Revision {
			if a.Revision < b.Revision {
				return -1
			}
			return 1
		}
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
}

// Next is the number the next new revision gets.
func Next(revs []*appsv1.ControllerRevision) int64 {
	var last int64
	for _, cr := range revs {
		last = max(last, cr.Revision)
	}
	return last + 1
}

// Store writes revisions through the api-server.
type Store struct {
	Client appsclient.ControllerRevisionsGetter
}

// Ensure returns the revision of want among owned (the owner's revisions,
// as Owned returns them): an existing equal one, renumbered to be the
// newest if it is not, or else want, created. It returns ErrCollision
// (wrapped) if want's name is taken by other data.
func (s Store) Ensure(ctx context.Context, owned []*appsv1.ControllerRevision, want *appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	var equal []*appsv1.ControllerRevision
	for _, cr := range owned {
		if Equal(cr, want) {
			equal = append(equal, cr)
		}
	}
	if n := len(equal); n > 0 {
		newest := equal[n-1]
		if newest.Revision == Next(owned)-1 {
			return newest, nil
		}
		next := newest.DeepCopy()
		next.Revision = Next(owned)
		updated, err := s.Client.ControllerRevisions(next.Namespace).Update(ctx, next, metav1.UpdateOptions{})
		if err != nil {
			return nil, fmt.Errorf("renumbering revision %s: %w", next.Name, err)
		}
		return updated, nil
	}
	created, err := s.Client.ControllerRevisions(want.Namespace).Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		return created, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating revision %s: %w", want.Name, err)
	}
	existing, gerr := s.Client.ControllerRevisions(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
	if gerr != nil {
		return nil, fmt.Errorf("reading revision %s: %w", want.Name, gerr)
	}
	ref, wantRef := metav1.GetControllerOfNoCopy(existing), metav1.GetControllerOfNoCopy(want)
	if ref != nil && wantRef != nil && ref.UID == wantRef.UID && Equal(existing, want) {
		// Ours, not in the cache yet.
		return existing, nil
	}
	return nil, fmt.Errorf("revision %s: %w", want.Name, ErrCollision)
}

// Trim deletes the oldest of owned beyond limit, sparing those named in
// live (the current and update revisions, those pods still run).
func (s Store) Trim(ctx context.Context, owned []*appsv1.ControllerRevision, live map[string]bool, limit int) error {
	var unused []*appsv1.ControllerRevision
	for _, cr := range owned {
		if !live[cr.Name] {
			unused = append(unused, cr)
		}
	}
	var errs []error
	for _, cr := range ToTrim(unused, limit) {
		uid := cr.UID
		err := s.Client.ControllerRevisions(cr.Namespace).Delete(ctx, cr.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("deleting revision %s: %w", cr.Name, err))
		}
	}
	return errors.Join(errs...)
}

// ToTrim returns the oldest of unused beyond limit (a negative limit
// counts as zero).
func ToTrim(unused []*appsv1.ControllerRevision, limit int) []*appsv1.ControllerRevision {
	limit = max(limit, 0)
	if len(unused) <= limit {
		return nil
	}
	sorted := slices.Clone(unused)
	Sort(sorted)
	return sorted[:len(sorted)-limit]
}
