package admission

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Operation is the kind of write.
type Operation string

const (
	Create  Operation = "CREATE"
	Update  Operation = "UPDATE"
	Delete  Operation = "DELETE"
	Connect Operation = "CONNECT"
)

// Attributes describe one write under admission.
type Attributes struct {
	Operation   Operation
	Resource    schema.GroupVersionResource
	Kind        schema.GroupVersionKind
	Subresource string
	Namespace   string
	Name        string
	// Object is the object to be stored (nil on Delete); mutators may
	// change it. OldObject is the stored object on Update and Delete.
	Object    runtime.Object
	OldObject runtime.Object
	DryRun    bool

	User   string
	Groups []string
	UID    string
	Extra  map[string][]string
}

// Mutator may change a.Object before it is validated and stored.
type Mutator interface {
	Admit(ctx context.Context, a *Attributes) error
}

// Validator accepts or refuses a write; it must not change a.Object.
type Validator interface {
	Validate(ctx context.Context, a *Attributes) error
}
