package openapi

import (
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k1s/k1s/internal/registry"
	"github.com/k1s/k1s/internal/scheme"
)

// Media types of the documents. Clients ask for the protobuf forms with an
// "@" in the name (client-go does), which is not valid in a Content-Type
// (client-go's mime.ParseMediaType of the response would fail), so the
// response names them with a "." as kube-apiserver does.
const (
	mediaJSON         = "application/json"
	mediaV2Proto      = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mediaV2ProtoAsked = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mediaV3Proto      = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
	mediaV3ProtoAsked = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
)

// Server serves /openapi/v2 and /openapi/v3/... for a fixed set of
// resources. The documents are built on the first request (or Build) and
// then served from memory; the v2 document, which kubectl only reads on
// fallback paths, is built on its first request.
type Server struct {
	resources []*registry.Resource
	kinds     func(reflect.Type) []schema.GroupVersionKind

	once sync.Once
	api  *api
	v3   *v3Documents
	err  error

	v2Once sync.Once
	v2     hashed
	v2Err  error

	// Protobuf forms, each converted from the JSON on first request.
	mu     sync.Mutex
	protos map[string]hashed
}

// New returns a server describing resources. s (which may be nil) supplies
// the group-version-kinds of the types that are not resources themselves,
// such as DeleteOptions and Scale.
func New(resources []*registry.Resource, s *scheme.Scheme) (*Server, error) {
	resourceKinds := map[reflect.Type][]schema.GroupVersionKind{}
	for _, r := range resources {
		if r.Kind == "" || r.Version == "" || r.Plural == "" || r.New == nil || r.NewList == nil {
			return nil, fmt.Errorf("resource %s/%s %q: Kind, Version, Plural, New and NewList are required",
				r.Group, r.Version, r.Plural)
		}
		gvk := r.GroupVersionKind()
		resourceKinds[objectType(r.New())] = append(resourceKinds[objectType(r.New())], gvk)
		list := gvk.GroupVersion().WithKind(r.Kind + "List")
		resourceKinds[objectType(r.NewList())] = append(resourceKinds[objectType(r.NewList())], list)
	}
	var rs *runtime.Scheme
	if s != nil {
		rs = s.Scheme
	}
	return &Server{
		resources: slices.Clone(resources),
		kinds:     kindsOf(rs, resourceKinds),
		protos:    map[string]hashed{},
	}, nil
}

// kindsOf returns the group-version-kinds of a Go type: those it is
// registered with in s, plus extra.
func kindsOf(s *runtime.Scheme, extra map[reflect.Type][]schema.GroupVersionKind) func(reflect.Type) []schema.GroupVersionKind {
	return func(t reflect.Type) []schema.GroupVersionKind {
		gvks := slices.Clone(extra[t])
		if obj, ok := reflect.New(t).Interface().(runtime.Object); ok && s != nil {
			if registered, _, err := s.ObjectKinds(obj); err == nil {
				for _, gvk := range registered {
					if gvk.Version != runtime.APIVersionInternal {
						gvks = append(gvks, gvk)
					}
				}
			}
		}
		slices.SortFunc(gvks, func(a, b schema.GroupVersionKind) int {
			return strings.Compare(a.Group+"/"+a.Version+"/"+a.Kind, b.Group+"/"+b.Version+"/"+b.Kind)
		})
		return slices.Compact(gvks)
	}
}

// Build generates the schemas and the v3 documents if that has not
// happened yet. The api-server may call it in the background after start so
// that the first kubectl request does not wait for it.
func (s *Server) Build() error {
	s.once.Do(func() {
		s.api, s.err = describe(s.resources, s.kinds)
		if s.err == nil {
			s.v3, s.err = s.api.v3Documents()
		}
		if s.err != nil {
			s.err = fmt.Errorf("build openapi documents: %w", s.err)
		}
	})
	return s.err
}

// v2Document returns the v2 document, building it on first use.
func (s *Server) v2Document() (hashed, error) {
	if err := s.Build(); err != nil {
		return hashed{}, err
	}
	s.v2Once.Do(func() { s.v2, s.v2Err = s.api.v2Document() })
	return s.v2, s.v2Err
}

// ServeHTTP serves GET and HEAD of /openapi/v2, /openapi/v3 and
// /openapi/v3/{api/v1,apis/GROUP/VERSION}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p != "/openapi/v2" && p != "/openapi/v3" && p != "/openapi/v3/" && !strings.HasPrefix(p, "/openapi/v3/") {
		http.NotFound(w, r)
		return
	}
	if err := s.Build(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	switch {
	case p == "/openapi/v2":
		s.serveV2(w, r)
	case p == "/openapi/v3" || p == "/openapi/v3/":
		w.Header().Set("Content-Type", mediaJSON)
		serve(w, r, s.v3.root)
	default:
		s.serveV3(w, r, strings.TrimPrefix(p, "/openapi/v3/"))
	}
}

func (s *Server) serveV2(w http.ResponseWriter, r *http.Request) {
	doc, err := s.v2Document()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Vary", "Accept")
	switch negotiate(r.Header.Get("Accept"), mediaJSON, mediaV2ProtoAsked, mediaV2Proto) {
	case mediaJSON:
		w.Header().Set("Content-Type", mediaJSON)
		serve(w, r, doc)
	case mediaV2ProtoAsked, mediaV2Proto:
		pb, err := s.proto("v2", doc.data, v2Proto)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", mediaV2Proto)
		serve(w, r, pb)
	default:
		http.Error(w, "openapi v2 is served as "+mediaJSON+" or "+mediaV2ProtoAsked, http.StatusNotAcceptable)
	}
}

func (s *Server) serveV3(w http.ResponseWriter, r *http.Request, key string) {
	doc, ok := s.v3.byPath[key]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Vary", "Accept")
	if h := r.URL.Query().Get("hash"); h != "" {
		if h != doc.hash {
			// The client has a stale URL from an older root document.
			u := url.URL{Path: r.URL.Path, RawQuery: url.Values{"hash": {doc.hash}}.Encode()}
			http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
			return
		}
		// A URL with the content's hash never changes its content.
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	}
	switch negotiate(r.Header.Get("Accept"), mediaJSON, mediaV3ProtoAsked, mediaV3Proto) {
	case mediaJSON:
		w.Header().Set("Content-Type", mediaJSON)
		serve(w, r, doc)
	case mediaV3ProtoAsked, mediaV3Proto:
		pb, err := s.proto("v3/"+key, doc.data, v3Proto)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", mediaV3Proto)
		serve(w, r, pb)
	default:
		http.Error(w, "openapi v3 is served as "+mediaJSON+" or "+mediaV3ProtoAsked, http.StatusNotAcceptable)
	}
}

// serve writes doc with its ETag; http.ServeContent answers If-None-Match
// with 304 and HEAD without a body.
func serve(w http.ResponseWriter, r *http.Request, doc hashed) {
	w.Header().Set("Etag", `"`+doc.hash+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc.data))
}

// proto returns the protobuf form of the JSON document data, converting it
// on first use: the conversion (gnostic parses the JSON as YAML) is the
// slowest part of serving and only some clients ask for it.
func (s *Server) proto(key string, data []byte, convert func([]byte) ([]byte, error)) (hashed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pb, ok := s.protos[key]; ok {
		return pb, nil
	}
	pb, err := convert(data)
	if err != nil {
		return hashed{}, fmt.Errorf("openapi %s as protobuf: %w", key, err)
	}
	s.protos[key] = hashed{data: pb, hash: hash(pb)}
	return s.protos[key], nil
}

func v2Proto(data []byte) ([]byte, error) {
	doc, err := openapi_v2.ParseDocument(data)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(doc)
}

func v3Proto(data []byte) ([]byte, error) {
	doc, err := openapi_v3.ParseDocument(data)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(doc)
}

// negotiate returns the offer the Accept header prefers: media ranges are
// tried by decreasing quality, in header order among equals; an offer a
// range refuses (q=0) is not taken by a wildcard. An absent header admits
// the first offer; "" means none is acceptable.
func negotiate(accept string, offers ...string) string {
	if strings.TrimSpace(accept) == "" {
		return offers[0]
	}
	type clause struct {
		mediaRange string
		q          float64
	}
	var clauses []clause
	refused := map[string]bool{}
	for _, c := range strings.Split(accept, ",") {
		parts := strings.Split(c, ";")
		cl := clause{mediaRange: strings.ToLower(strings.TrimSpace(parts[0])), q: 1}
		for _, p := range parts[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					cl.q = q
				}
			}
		}
		if cl.q <= 0 {
			refused[cl.mediaRange] = true
			continue
		}
		clauses = append(clauses, cl)
	}
	slices.SortStableFunc(clauses, func(a, b clause) int { return cmp.Compare(b.q, a.q) })
	for _, cl := range clauses {
		for _, offer := range offers {
			if refused[offer] {
				continue
			}
			if cl.mediaRange == offer || cl.mediaRange == "*/*" ||
				(strings.HasSuffix(cl.mediaRange, "/*") && strings.HasPrefix(offer, strings.TrimSuffix(cl.mediaRange, "*"))) {
				return offer
			}
		}
	}
	return ""
}
