package openapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k1s/k1s/internal/registry"
)

const (
	v3RefPrefix = "#/components/schemas/"
	// infoTitle and infoVersion fill the required info object.
	infoTitle   = "Kubernetes"
	infoVersion = "k1s"
)

// api is the description of a set of resources: the schema definitions and
// the paths of each group-version.
type api struct {
	schemas map[string]object
	paths   map[schema.GroupVersion][]path
}

// v3Documents are the serialized OpenAPI 3.0 documents of an api.
type v3Documents struct {
	root hashed
	// byPath is keyed by the group-version's path below /openapi/v3:
	// "api/v1", "apis/apps/v1".
	byPath map[string]hashed
}

type hashed struct {
	data []byte
	hash string
}

// describe derives the api of resources. kinds returns the
// x-kubernetes-group-version-kind of a definition's Go type.
func describe(resources []*registry.Resource, kinds func(reflect.Type) []schema.GroupVersionKind) (*api, error) {
	defs := newDefinitions(kinds)
	for _, t := range []reflect.Type{
		reflect.TypeFor[metav1.DeleteOptions](), reflect.TypeFor[metav1.Status](),
		reflect.TypeFor[metav1.Patch](), reflect.TypeFor[metav1.APIResourceList](),
	} {
		if _, err := defs.define(t); err != nil {
			return nil, err
		}
	}

	paths := map[schema.GroupVersion][]path{}
	for _, r := range resources {
		gv := r.GroupVersion()
		kindDef, err := defs.define(objectType(r.New()))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.GroupVersionKind(), err)
		}
		listDef, err := defs.define(objectType(r.NewList()))
		if err != nil {
			return nil, fmt.Errorf("%s list: %w", r.GroupVersionKind(), err)
		}
		scaleDef := ""
		if r.Scale != nil {
			if scaleDef, err = defs.define(reflect.TypeFor[autoscalingv1.Scale]()); err != nil {
				return nil, err
			}
		}
		if _, ok := paths[gv]; !ok {
			paths[gv] = []path{discoveryPath(gv)}
		}
		paths[gv] = append(paths[gv], resourcePaths(r, kindDef, listDef, scaleDef)...)
	}
	return &api{schemas: defs.schemas, paths: paths}, nil
}

func info() []byte {
	return []byte(`{"title":"` + infoTitle + `","version":"` + infoVersion + `"}`)
}

// v2Document serializes the whole api as one Swagger 2.0 document.
func (a *api) v2Document() (hashed, error) {
	defs := make(map[string][]byte, len(a.schemas))
	for name, s := range a.schemas {
		var err error
		if defs[name], err = json.Marshal(s); err != nil {
			return hashed{}, fmt.Errorf("marshal definition %s: %w", name, err)
		}
	}
	var all []path
	for _, p := range a.paths {
		all = append(all, p...)
	}
	paths, err := json.Marshal(v2Paths(all))
	if err != nil {
		return hashed{}, fmt.Errorf("marshal openapi v2 paths: %w", err)
	}
	data := joinObject(map[string][]byte{
		"swagger":     []byte(`"2.0"`),
		"info":        info(),
		"paths":       paths,
		"definitions": joinObject(defs),
	})
	return hashed{data: data, hash: hash(data)}, nil
}

// v3Documents serializes one OpenAPI 3.0 document per group-version, each
// with the definitions it refers to, and the root that lists them.
func (a *api) v3Documents() (*v3Documents, error) {
	// Each definition is marshaled once and the documents are assembled
	// from those bytes: the group-versions share most definitions
	// (ObjectMeta, PodSpec, ...).
	defs := make(map[string][]byte, len(a.schemas))
	for name, s := range a.schemas {
		v3 := toV3(s).(object)
		if oneOf := v3OneOf(name); oneOf != nil {
			delete(v3, "type")
			v3["oneOf"] = oneOf
		}
		var err error
		if defs[name], err = json.Marshal(v3); err != nil {
			return nil, fmt.Errorf("marshal definition %s: %w", name, err)
		}
	}
	docs := &v3Documents{byPath: map[string]hashed{}}
	deps := dependencies(a.schemas)
	root := object{}
	for gv, ps := range a.paths {
		schemas := map[string][]byte{}
		for _, name := range closure(deps, pathDefinitions(ps)) {
			schemas[name] = defs[name]
		}
		paths, err := json.Marshal(v3Paths(ps))
		if err != nil {
			return nil, fmt.Errorf("marshal openapi v3 %s paths: %w", gv, err)
		}
		data := joinObject(map[string][]byte{
			"openapi":    []byte(`"3.0.0"`),
			"info":       info(),
			"paths":      paths,
			"components": joinObject(map[string][]byte{"schemas": joinObject(schemas)}),
		})
		key := strings.TrimPrefix(groupPrefix(gv), "/")
		docs.byPath[key] = hashed{data: data, hash: hash(data)}
		root[key] = object{"serverRelativeURL": "/openapi/v3/" + key + "?hash=" + docs.byPath[key].hash}
	}
	data, err := json.Marshal(object{"paths": root})
	if err != nil {
		return nil, fmt.Errorf("marshal openapi v3 root: %w", err)
	}
	docs.root = hashed{data: data, hash: hash(data)}
	return docs, nil
}

// joinObject writes a JSON object of already marshaled values, keys sorted
// as encoding/json sorts them.
func joinObject(fields map[string][]byte) []byte {
	keys := make([]string, 0, len(fields))
	size := 2
	for k, v := range fields {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	slices.Sort(keys)
	buf := bytes.NewBuffer(make([]byte, 0, size))
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, _ := json.Marshal(k) // a string always marshals
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(fields[k])
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// objectType is the struct type behind a runtime.Object (a pointer).
func objectType(obj any) reflect.Type {
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func hash(data []byte) string {
	return fmt.Sprintf("%X", sha256.Sum256(data))
}

// v2Paths renders paths as Swagger 2.0 path items.
func v2Paths(paths []path) object {
	out := object{}
	for _, p := range paths {
		item := object{}
		if len(p.params) > 0 {
			item["parameters"] = v2Params(p.params)
		}
		for _, op := range p.ops {
			o := operationCommon(op, p.path)
			params := v2Params(op.params)
			if op.body != "" {
				body := object{"name": "body", "in": "body", "required": true,
					"schema": object{"$ref": v2RefPrefix + op.body}}
				params = append([]any{body}, params...)
			}
			if len(params) > 0 {
				o["parameters"] = params
			}
			o["schemes"] = []any{"https"}
			if op.patch {
				o["consumes"] = toAny(patchMediaTypes())
			} else {
				o["consumes"] = []any{"*/*"}
			}
			o["produces"] = toAny(producedMediaTypes(op.watch))
			responses := object{"401": object{"description": "Unauthorized"}}
			for _, r := range op.responses {
				responses[r.code] = object{"description": r.description, "schema": object{"$ref": v2RefPrefix + r.def}}
			}
			o["responses"] = responses
			item[op.method] = o
		}
		out[p.path] = item
	}
	return out
}

func v2Params(params []param) []any {
	out := make([]any, 0, len(params))
	for _, p := range params {
		o := object{"name": p.name, "in": p.in, "type": p.typ, "description": p.description, "uniqueItems": true}
		if p.required {
			o["required"] = true
		}
		out = append(out, o)
	}
	return out
}

// v3Paths renders paths as OpenAPI 3.0 path items.
func v3Paths(paths []path) object {
	out := object{}
	for _, p := range paths {
		item := object{}
		if len(p.params) > 0 {
			item["parameters"] = v3Params(p.params)
		}
		for _, op := range p.ops {
			o := operationCommon(op, p.path)
			if len(op.params) > 0 {
				o["parameters"] = v3Params(op.params)
			}
			if op.body != "" {
				consumed := []string{"*/*"}
				if op.patch {
					consumed = patchMediaTypes()
				}
				content := object{}
				for _, mt := range consumed {
					content[mt] = object{"schema": object{"$ref": v3RefPrefix + op.body}}
				}
				o["requestBody"] = object{"content": content, "required": true}
			}
			responses := object{"401": object{"description": "Unauthorized"}}
			for _, r := range op.responses {
				content := object{}
				for _, mt := range producedMediaTypes(op.watch) {
					content[mt] = object{"schema": object{"$ref": v3RefPrefix + r.def}}
				}
				responses[r.code] = object{"description": r.description, "content": content}
			}
			o["responses"] = responses
			item[op.method] = o
		}
		out[p.path] = item
	}
	return out
}

func v3Params(params []param) []any {
	out := make([]any, 0, len(params))
	for _, p := range params {
		o := object{"name": p.name, "in": p.in, "description": p.description,
			"schema": object{"type": p.typ, "uniqueItems": true}}
		if p.required {
			o["required"] = true
		}
		out = append(out, o)
	}
	return out
}

// operationCommon is what v2 and v3 operations share.
func operationCommon(op operation, p string) object {
	o := object{"operationId": op.id, "description": op.description, "tags": []any{tagOf(p)}}
	if op.action != "" {
		o["x-kubernetes-action"] = op.action
	}
	if op.gvk != nil {
		o["x-kubernetes-group-version-kind"] = gvkObject(*op.gvk)
	}
	return o
}

// tagOf is upstream's operation tag, from the path: core_v1, apps_v1,
// networking_v1, rbacAuthorization_v1.
func tagOf(p string) string {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if parts[0] == "api" {
		return "core_" + parts[1]
	}
	group := strings.TrimSuffix(parts[1], ".k8s.io")
	words := strings.Split(group, ".")
	for i := 1; i < len(words); i++ {
		words[i] = title(words[i])
	}
	return strings.Join(words, "") + "_" + parts[2]
}

func producedMediaTypes(watch bool) []string {
	if watch {
		return []string{"application/json", "application/json;stream=watch"}
	}
	return []string{"application/json"}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// toV3 rewrites a Swagger 2.0 schema as OpenAPI 3.0: references move to
// #/components/schemas/, and a reference with siblings (a field's
// description) is wrapped in allOf, since 3.0 ignores the siblings of $ref
// (kubectl explain reads the description next to the allOf).
func toV3(v any) any {
	switch v := v.(type) {
	case object:
		out := make(object, len(v)+1)
		for k, child := range v {
			if k != "$ref" {
				out[k] = toV3(child)
			}
		}
		ref, ok := v["$ref"].(string)
		if !ok {
			return out
		}
		r := object{"$ref": v3RefPrefix + strings.TrimPrefix(ref, v2RefPrefix)}
		if len(out) == 0 {
			return r
		}
		out["allOf"] = []any{r}
		return out
	case []any:
		out := make([]any, len(v))
		for i, child := range v {
			out[i] = toV3(child)
		}
		return out
	}
	return v
}

// v3OneOf returns the types a value of the special definition name can
// have, which OpenAPI 3.0 can say (Swagger 2.0 says "string"). kubectl
// explain then names the type (<IntOrString>) rather than print <string>.
func v3OneOf(name string) []any {
	switch name {
	case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
		return []any{object{"type": "integer"}, object{"type": "string"}}
	case "io.k8s.apimachinery.pkg.api.resource.Quantity":
		return []any{object{"type": "string"}, object{"type": "number"}}
	}
	return nil
}

// dependencies returns, for every definition, the definitions it refers to.
func dependencies(schemas map[string]object) map[string][]string {
	deps := make(map[string][]string, len(schemas))
	for name, s := range schemas {
		var refs []string
		collectRefs(s, &refs)
		deps[name] = refs
	}
	return deps
}

func collectRefs(v any, refs *[]string) {
	switch v := v.(type) {
	case object:
		for k, child := range v {
			if k == "$ref" {
				if ref, ok := child.(string); ok {
					*refs = append(*refs, strings.TrimPrefix(ref, v2RefPrefix))
				}
				continue
			}
			collectRefs(child, refs)
		}
	case []any:
		for _, child := range v {
			collectRefs(child, refs)
		}
	}
}

// pathDefinitions returns the definitions the operations of paths refer to.
func pathDefinitions(paths []path) []string {
	var names []string
	for _, p := range paths {
		for _, op := range p.ops {
			if op.body != "" {
				names = append(names, op.body)
			}
			for _, r := range op.responses {
				names = append(names, r.def)
			}
		}
	}
	return names
}

// closure returns roots and every definition they refer to, transitively,
// sorted.
func closure(deps map[string][]string, roots []string) []string {
	seen := map[string]bool{}
	stack := slices.Clone(roots)
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[name] {
			continue
		}
		seen[name] = true
		stack = append(stack, deps[name]...)
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
