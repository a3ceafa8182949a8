package openapi

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// object is one JSON object of a document under construction. Documents are
// plain maps so that encoding/json writes them with sorted keys, which keeps
// the bytes, and so the hashes, stable.
type object = map[string]any

// v2RefPrefix is how definitions refer to each other while being built; the
// v3 rendering rewrites it (see toV3).
const v2RefPrefix = "#/definitions/"

// definitions derives schemas from Go types. Every named struct type becomes
// one definition, referred to with $ref; everything else is inlined.
type definitions struct {
	kinds   func(t reflect.Type) []schema.GroupVersionKind
	schemas map[string]object
	names   map[reflect.Type]string
	types   map[string]reflect.Type // names reversed
}

func newDefinitions(kinds func(reflect.Type) []schema.GroupVersionKind) *definitions {
	return &definitions{kinds: kinds, schemas: map[string]object{},
		names: map[reflect.Type]string{}, types: map[string]reflect.Type{}}
}

// define builds the definition of struct type t (and of all it refers to)
// and returns its name.
func (d *definitions) define(t reflect.Type) (string, error) {
	if n, ok := d.names[t]; ok {
		return n, nil
	}
	name := modelName(t)
	if other, ok := d.types[name]; ok {
		return "", fmt.Errorf("types %v and %v both map to definition %s", other, t, name)
	}
	d.names[t], d.types[name] = name, t // before recursing, so cycles end in a $ref
	var s object
	if special, ok := specialSchema(t); ok {
		s = special
	} else {
		var err error
		if s, err = d.structSchema(t); err != nil {
			return "", err
		}
		if isAtomicStruct(name) {
			s["x-kubernetes-map-type"] = "atomic"
		}
	}
	if gvks := d.kinds(t); len(gvks) > 0 {
		list := make([]any, 0, len(gvks))
		for _, gvk := range gvks {
			list = append(list, gvkObject(gvk))
		}
		s["x-kubernetes-group-version-kind"] = list
	}
	d.schemas[name] = s
	return name, nil
}

func (d *definitions) structSchema(t reflect.Type) (object, error) {
	s := object{"type": "object"}
	if desc := swaggerDoc(t)[""]; desc != "" {
		s["description"] = desc
	}
	props := object{}
	var required []string
	if err := d.addFields(modelName(t), t, props, &required); err != nil {
		return nil, err
	}
	if len(props) > 0 {
		s["properties"] = props
	}
	if len(required) > 0 {
		slices.Sort(required)
		s["required"] = required
	}
	return s, nil
}

// addFields adds the json fields of struct t to props. Inlined structs add
// their fields to the same props, under the owner's definition name (list
// types are keyed by it).
func (d *definitions) addFields(owner string, t reflect.Type, props object, required *[]string) error {
	docs := swaggerDoc(t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		options := strings.Split(opts, ",")
		if slices.Contains(options, "inline") || (f.Anonymous && name == "") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() != reflect.Struct {
				return fmt.Errorf("%v.%s: inline field of kind %v", t, f.Name, ft.Kind())
			}
			if err := d.addFields(owner, ft, props, required); err != nil {
				return err
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := props[name]; dup {
			continue // shadowed by an outer field, as in encoding/json
		}
		ps, err := d.typeSchema(f.Type)
		if err != nil {
			return fmt.Errorf("%v.%s: %w", t, f.Name, err)
		}
		if desc := docs[name]; desc != "" {
			ps["description"] = desc
		}
		if v := f.Tag.Get("patchStrategy"); v != "" {
			ps["x-kubernetes-patch-strategy"] = v
		}
		if v := f.Tag.Get("patchMergeKey"); v != "" {
			ps["x-kubernetes-patch-merge-key"] = v
		}
		if ps["type"] == "array" {
			lt := listTypeOf(owner, name, f)
			ps["x-kubernetes-list-type"] = lt.kind
			if len(lt.keys) > 0 {
				keys := make([]any, len(lt.keys))
				for i, k := range lt.keys {
					keys[i] = k
				}
				ps["x-kubernetes-list-map-keys"] = keys
			}
		}
		if ps["type"] == "object" && isAtomicMap(owner+"."+name) {
			ps["x-kubernetes-map-type"] = "atomic"
		}
		if !slices.Contains(options, "omitempty") && !slices.Contains(options, "omitzero") {
			*required = append(*required, name)
		}
		props[name] = ps
	}
	return nil
}

// typeSchema returns the schema of a value of type t where it is used: a
// $ref for named structs, an inline schema otherwise. The result is a fresh
// map the caller may add to.
func (d *definitions) typeSchema(t reflect.Type) (object, error) {
	if _, ok := specialSchema(t); ok {
		name, err := d.define(t)
		return object{"$ref": v2RefPrefix + name}, err
	}
	switch t.Kind() {
	case reflect.Pointer:
		return d.typeSchema(t.Elem())
	case reflect.Struct:
		if t.Name() == "" {
			return d.structSchema(t)
		}
		name, err := d.define(t)
		return object{"$ref": v2RefPrefix + name}, err
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return object{"type": "string", "format": "byte"}, nil
		}
		items, err := d.typeSchema(t.Elem())
		return object{"type": "array", "items": items}, err
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key %v is not a string", t.Key())
		}
		values, err := d.typeSchema(t.Elem())
		return object{"type": "object", "additionalProperties": values}, err
	case reflect.String:
		return object{"type": "string"}, nil
	case reflect.Bool:
		return object{"type": "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return object{"type": "integer", "format": "int32"}, nil
	case reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return object{"type": "integer", "format": "int64"}, nil
	case reflect.Float32:
		return object{"type": "number", "format": "float"}, nil
	case reflect.Float64:
		return object{"type": "number", "format": "double"}, nil
	case reflect.Interface:
		return object{"type": "object"}, nil
	}
	return nil, fmt.Errorf("no schema for Go type %v", t)
}

// specialSchema returns the hand-written schema of the types whose JSON form
// is not their Go structure.
func specialSchema(t reflect.Type) (object, bool) {
	switch t {
	case reflect.TypeFor[resource.Quantity]():
		return object{
			"type": "string", "format": "quantity", "x-kubernetes-int-or-string": true,
			"description": "Quantity is a fixed-point representation of a number, " +
				"written as a string (\"500m\", \"1Gi\", \"2.5\") or a number. " +
				"Suffixes: the binary SI Ki, Mi, Gi, Ti, Pi, Ei; the decimal SI m, \"\", k, M, G, T, P, E; " +
				"or a decimal exponent (e, E).",
		}, true
	case reflect.TypeFor[intstr.IntOrString]():
		return object{
			"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": true,
			"description": "IntOrString is a type that can hold an int32 or a string. " +
				"When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.",
		}, true
	case reflect.TypeFor[metav1.Time]():
		return object{
			"type": "string", "format": "date-time",
			"description": "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON. " +
				"Written in RFC 3339 form.",
		}, true
	case reflect.TypeFor[metav1.MicroTime]():
		return object{
			"type": "string", "format": "date-time",
			"description": "MicroTime is version of Time with microsecond level precision.",
		}, true
	case reflect.TypeFor[metav1.Duration]():
		return object{
			"type":        "string",
			"description": "Duration is a wrapper around time.Duration, written as a Go duration string (\"1m30s\").",
		}, true
	case reflect.TypeFor[metav1.FieldsV1]():
		return object{"type": "object", "description": swaggerDoc(t)[""]}, true
	case reflect.TypeFor[runtime.RawExtension]():
		return object{
			"type":        "object",
			"description": "RawExtension is an embedded object, usually a complete API object with apiVersion and kind.",
		}, true
	}
	return nil, false
}

// swaggerDoc returns the field descriptions that k8s.io/api types carry
// ("" is the type's own description).
func swaggerDoc(t reflect.Type) map[string]string {
	if v, ok := reflect.Zero(t).Interface().(interface{ SwaggerDoc() map[string]string }); ok {
		return v.SwaggerDoc()
	}
	return nil
}

// modelName is the upstream definition name of t: what its generated
// OpenAPIModelName method says, or else the reversed domain of its package
// path followed by the rest of the path and the type name
// (k8s.io/api/apps/v1.Deployment -> io.k8s.api.apps.v1.Deployment).
func modelName(t reflect.Type) string {
	if v, ok := reflect.Zero(t).Interface().(interface{ OpenAPIModelName() string }); ok {
		return v.OpenAPIModelName()
	}
	pkg := t.PkgPath()
	domain, rest, _ := strings.Cut(pkg, "/")
	parts := strings.Split(domain, ".")
	slices.Reverse(parts)
	name := strings.Join(parts, ".")
	if rest != "" {
		name += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return name + "." + t.Name()
}

func gvkObject(gvk schema.GroupVersionKind) object {
	return object{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
}
