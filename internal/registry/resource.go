package registry

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource is the declarative entry for one served resource: everything
// the api-server needs to store, default, validate and print it. Adding a
// resource to k1s is adding one Resource value to All(). Every func field is
// optional; nil means "nothing special".
//
// Order of operations on create: name from generateName -> Default ->
// generic metadata (uid, creationTimestamp, generation=1) ->
// PrepareForCreate -> Validate (plus generic ObjectMeta validation, done by
// the api-server) -> Allocate -> store.
// On update: Default -> PrepareForUpdate(new, old) -> generation bump when
// anything outside metadata and status changed -> ValidateUpdate (plus
// ObjectMeta update validation) -> Allocate -> store.
type Resource struct {
	Group, Version, Kind string
	Plural, Singular     string
	ShortNames           []string
	Categories           []string // "all" puts it in `kubectl get all`
	Namespaced           bool

	New     func() runtime.Object
	NewList func() runtime.Object

	// Default fills unset fields the way the upstream API defaults them.
	Default func(obj runtime.Object)
	// PrepareForCreate clears what a client may not set on create
	// (typically status).
	PrepareForCreate func(obj runtime.Object)
	// PrepareForUpdate restores what a client may not change through the
	// main resource (typically status, copied from old).
	PrepareForUpdate func(obj, old runtime.Object)
	// Validate checks a new object (not its ObjectMeta, done generically).
	Validate func(obj runtime.Object) field.ErrorList
	// ValidateUpdate checks an update: immutable fields and the new state.
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList

	// Status, if set, enables the /status subresource.
	Status *StatusSubresource
	// Scale, if set, enables the /scale subresource.
	Scale *ScaleSubresource

	// Table prints rows for `kubectl get`. Without it the api-server prints
	// NAME and AGE (the generic default).
	Table *Table

	// Fields returns the field-selector fields of obj beyond
	// metadata.name and metadata.namespace (added generically), e.g.
	// spec.nodeName and status.phase for pods.
	Fields func(obj runtime.Object) fields.Set
	// WatchIndex, if set, is one of Fields by which the watch cache
	// indexes watchers that select a single value of it (pods by
	// spec.nodeName: one kubelet per node watches its own pods).
	WatchIndex string

	// Allocator, if set, is called to reserve cluster-wide resources (e.g. a
	// Service's ClusterIP and NodePorts) before the object is written.
	Allocator Allocator

	// Cluster-scoped singletons such as namespaces "default" may not be
	// deleted; DeleteProtected names them.
	DeleteProtected []string
}

// StatusSubresource configures /status.
type StatusSubresource struct {
	// PrepareForUpdate keeps everything but status from old (obj is the
	// incoming object). Nil means: copy everything but metadata and the
	// "status" field from old, generically.
	PrepareForUpdate func(obj, old runtime.Object)
	ValidateUpdate   func(obj, old runtime.Object) field.ErrorList
}

// ScaleSubresource maps the object to an autoscaling/v1 Scale.
type ScaleSubresource struct {
	// Get returns spec replicas, status replicas and the label selector
	// (string form) of obj.
	Get func(obj runtime.Object) (specReplicas, statusReplicas int32, selector string)
	// Set sets spec replicas.
	Set func(obj runtime.Object, replicas int32)
}

// Table describes the server-side printing of a resource.
type Table struct {
	// Columns after NAME; the api-server prepends NAME (and adds nothing
	// else: include AGE here where upstream prints it). Priority 1 columns
	// show only with -o wide.
	Columns []metav1.TableColumnDefinition
	// Row returns the cells for obj, in Columns order, without the name.
	// Cells are string, int64, int32, bool or float64.
	Row func(obj runtime.Object) []any
	// NameLast prints NAME as the last column, only with -o wide (events).
	NameLast bool
}

// Allocator reserves cluster-wide resources an object claims. On create
// old is nil; on delete obj is nil. Allocate returns a rollback that
// the api-server calls if the write then fails. Errors that are the
// user's fault are returned as field.ErrorList-bearing *errors.StatusError.
type Allocator interface {
	Allocate(ctx context.Context, obj, old runtime.Object) (rollback func(), err error)
	Release(ctx context.Context, obj runtime.Object)
}

// GroupVersion returns the resource's group/version.
func (r *Resource) GroupVersion() schema.GroupVersion {
	return schema.GroupVersion{Group: r.Group, Version: r.Version}
}

// GroupVersionKind returns the resource's kind.
func (r *Resource) GroupVersionKind() schema.GroupVersionKind {
	return r.GroupVersion().WithKind(r.Kind)
}

// GroupVersionResource returns the resource's name in the API.
func (r *Resource) GroupVersionResource() schema.GroupVersionResource {
	return r.GroupVersion().WithResource(r.Plural)
}
