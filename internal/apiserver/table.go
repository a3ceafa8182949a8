package apiserver

import (
	"encoding/json"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

var nameColumn = metav1.TableColumnDefinition{
	Name: "Name", Type: "string", Format: "name",
	Description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
}

var defaultAgeColumn = metav1.TableColumnDefinition{
	Name: "Age", Type: "string",
	Description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
}

// toTable renders obj (an item or a list) as a metav1.Table.
// includeObject is "", "None", "Metadata" (default) or "Object".
func (s *Server) toTable(res *resource, obj runtime.Object, includeObject string) (*metav1.Table, error) {
	switch includeObject {
	case "", "Metadata", "None", "Object":
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("includeObject: unsupported value %q", includeObject))
	}
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}}
	nameLast := res.Table != nil && res.Table.NameLast
	if !nameLast {
		t.ColumnDefinitions = append(t.ColumnDefinitions, nameColumn)
	}
	if res.Table != nil {
		t.ColumnDefinitions = append(t.ColumnDefinitions, res.Table.Columns...)
		if nameLast {
			c := nameColumn
			c.Priority = 1
			t.ColumnDefinitions = append(t.ColumnDefinitions, c)
		}
	} else {
		t.ColumnDefinitions = append(t.ColumnDefinitions, defaultAgeColumn)
	}
	var items []runtime.Object
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, err
		}
		if lm, err := meta.ListAccessor(obj); err == nil {
			t.ResourceVersion = lm.GetResourceVersion()
			t.Continue = lm.GetContinue()
			t.RemainingItemCount = lm.GetRemainingItemCount()
		}
	} else {
		items = []runtime.Object{obj}
		if m, err := meta.Accessor(obj); err == nil {
			t.ResourceVersion = m.GetResourceVersion()
		}
	}
	t.Rows = make([]metav1.TableRow, 0, len(items))
	for _, item := range items {
		row, err := s.tableRow(res, item, includeObject)
		if err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

func (s *Server) tableRow(res *resource, item runtime.Object, includeObject string) (metav1.TableRow, error) {
	m, err := metaOf(item)
	if err != nil {
		return metav1.TableRow{}, err
	}
	row := metav1.TableRow{Cells: []any{m.GetName()}}
	if res.Table != nil && res.Table.NameLast {
		row.Cells = append(res.Table.Row(item), m.GetName())
	} else if res.Table != nil {
		row.Cells = append(row.Cells, res.Table.Row(item)...)
	} else {
		row.Cells = append(row.Cells, humanAge(m.GetCreationTimestamp()))
	}
	switch includeObject {
	case "None":
	case "Object":
		item.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
		raw, err := encode(s.codecs.json, item)
		if err != nil {
			return row, err
		}
		row.Object.Raw = raw
	default:
		p := &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
			ObjectMeta: objectMetaOf(m),
		}
		raw, err := json.Marshal(p)
		if err != nil {
			return row, err
		}
		row.Object.Raw = raw
	}
	return row, nil
}

func humanAge(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

// objectMetaOf copies an accessor's fields into an ObjectMeta.
func objectMetaOf(m metav1.Object) metav1.ObjectMeta {
	if om, ok := m.(*metav1.ObjectMeta); ok {
		return *om
	}
	return metav1.ObjectMeta{
		Name: m.GetName(), GenerateName: m.GetGenerateName(), Namespace: m.GetNamespace(),
		UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(), Generation: m.GetGeneration(),
		CreationTimestamp: m.GetCreationTimestamp(), DeletionTimestamp: m.GetDeletionTimestamp(),
		DeletionGracePeriodSeconds: m.GetDeletionGracePeriodSeconds(), Labels: m.GetLabels(),
		Annotations: m.GetAnnotations(), OwnerReferences: m.GetOwnerReferences(),
		Finalizers: m.GetFinalizers(), ManagedFields: m.GetManagedFields(),
	}
}

// partialMetadata converts an item or list to PartialObjectMetadata(List).
func partialMetadata(obj runtime.Object, gv schema.GroupVersion) (runtime.Object, error) {
	if meta.IsListType(obj) {
		items, err := meta.ExtractList(obj)
		if err != nil {
			return nil, err
		}
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gv.WithKind("PartialObjectMetadataList"))
		if lm, err := meta.ListAccessor(obj); err == nil {
			list.ResourceVersion = lm.GetResourceVersion()
			list.Continue = lm.GetContinue()
			list.RemainingItemCount = lm.GetRemainingItemCount()
		}
		for _, item := range items {
			m, err := metaOf(item)
			if err != nil {
				return nil, err
			}
			p := metav1.PartialObjectMetadata{ObjectMeta: objectMetaOf(m)}
			p.SetGroupVersionKind(gv.WithKind("PartialObjectMetadata"))
			list.Items = append(list.Items, p)
		}
		return list, nil
	}
	m, err := metaOf(obj)
	if err != nil {
		return nil, err
	}
	p := &metav1.PartialObjectMetadata{ObjectMeta: objectMetaOf(m)}
	p.SetGroupVersionKind(gv.WithKind("PartialObjectMetadata"))
	return p, nil
}
