package apiserver

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k1s/k1s/internal/registry"
)

// groupVersions is one API group and its resources, in discovery order.
type groupVersions struct {
	name     string
	version  string
	resource []*registry.Resource
	// reviews are create-only resources that store nothing.
	reviews []review
}

// review is a create-only resource served outside the registry: the
// authentication and authorization reviews.
type review struct {
	plural, kind string
	namespaced   bool
}

// reviewGroups are the groups of the reviews (accessreview.go,
// selfsubjectreview.go, tokenreview.go).
var reviewGroups = []groupVersions{
	{name: "authentication.k8s.io", version: "v1", reviews: []review{
		{"selfsubjectreviews", "SelfSubjectReview", false}, {"tokenreviews", "TokenReview", false}}},
	{name: "authorization.k8s.io", version: "v1", reviews: []review{
		{"localsubjectaccessreviews", "LocalSubjectAccessReview", true}, {"selfsubjectaccessreviews", "SelfSubjectAccessReview", false},
		{"selfsubjectrulesreviews", "SelfSubjectRulesReview", false}, {"subjectaccessreviews", "SubjectAccessReview", false}}},
}

var createOnly = metav1.Verbs{"create"}

// groupOrder puts well-known groups first, like upstream's priorities.
var groupOrder = []string{"", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
	"autoscaling", "batch", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
	"storage.k8s.io", "admissionregistration.k8s.io", "coordination.k8s.io", "discovery.k8s.io"}

func buildGroups(rs []*registry.Resource) []groupVersions {
	idx := map[string]int{}
	var gs []groupVersions
	for _, r := range rs {
		i, ok := idx[r.Group]
		if !ok {
			i = len(gs)
			idx[r.Group] = i
			gs = append(gs, groupVersions{name: r.Group, version: r.Version})
		}
		gs[i].resource = append(gs[i].resource, r)
	}
	for _, rg := range reviewGroups {
		if _, ok := idx[rg.name]; !ok {
			idx[rg.name] = len(gs)
			gs = append(gs, rg)
		}
	}
	rank := func(g string) int {
		for i, n := range groupOrder {
			if n == g {
				return i
			}
		}
		return len(groupOrder)
	}
	sort.SliceStable(gs, func(a, b int) bool { return rank(gs[a].name) < rank(gs[b].name) })
	return gs
}

var mainVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// subresource is one subresource's discovery entry.
type subresource struct {
	name  string
	kind  schema.GroupVersionKind
	verbs metav1.Verbs
}

// subresourcesOf lists the subresources served for r.
func subresourcesOf(r *registry.Resource) []subresource {
	var subs []subresource
	gvk := r.GroupVersionKind()
	if r.Status != nil {
		subs = append(subs, subresource{"status", gvk, metav1.Verbs{"get", "patch", "update"}})
	}
	if r.Scale != nil {
		subs = append(subs, subresource{"scale", schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, metav1.Verbs{"get", "patch", "update"}})
	}
	if r.Group == "" {
		switch r.Plural {
		case "pods":
			subs = append(subs,
				subresource{"binding", schema.GroupVersionKind{Version: "v1", Kind: "Binding"}, metav1.Verbs{"create"}},
				subresource{"eviction", schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, metav1.Verbs{"create"}},
				subresource{"attach", schema.GroupVersionKind{Version: "v1", Kind: "PodAttachOptions"}, metav1.Verbs{"create", "get"}},
				subresource{"exec", schema.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}, metav1.Verbs{"create", "get"}},
				subresource{"log", schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, metav1.Verbs{"get"}},
				subresource{"portforward", schema.GroupVersionKind{Version: "v1", Kind: "PodPortForwardOptions"}, metav1.Verbs{"create", "get"}})
		case "namespaces":
			subs = append(subs, subresource{"finalize", gvk, metav1.Verbs{"update"}})
		case "serviceaccounts":
			subs = append(subs, subresource{"token", schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}, metav1.Verbs{"create"}})
		}
	}
	return subs
}

func (s *Server) serveAPIVersions(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		s.writeAggregated(w, s.groups[:1])
		return
	}
	s.writeJSON(w, http.StatusOK, &metav1.APIVersions{
		TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
		Versions:                   []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}},
	})
}

func (s *Server) serveAPIGroupList(w http.ResponseWriter, r *http.Request) {
	var named []groupVersions
	for _, g := range s.groups {
		if g.name != "" {
			named = append(named, g)
		}
	}
	if wantsAggregated(r) {
		s.writeAggregated(w, named)
		return
	}
	list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, g := range named {
		list.Groups = append(list.Groups, apiGroup(g))
	}
	list.Groups = append(list.Groups, apiGroup(groupVersions{name: crdGroup, version: crdVersion}))
	s.writeJSON(w, http.StatusOK, list)
}

func apiGroup(g groupVersions) metav1.APIGroup {
	gv := metav1.GroupVersionForDiscovery{GroupVersion: g.name + "/" + g.version, Version: g.version}
	return metav1.APIGroup{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:     g.name, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv,
	}
}

func (s *Server) serveAPIGroup(w http.ResponseWriter, r *http.Request, name string) {
	if name == crdGroup {
		s.writeJSON(w, http.StatusOK, apiGroup(groupVersions{name: crdGroup, version: crdVersion}))
		return
	}
	for _, g := range s.groups {
		if g.name == name && name != "" {
			s.writeJSON(w, http.StatusOK, apiGroup(g))
			return
		}
	}
	s.writeError(w, r, notFoundPath(r.URL.Path))
}

func (s *Server) serveResourceList(w http.ResponseWriter, r *http.Request, gv schema.GroupVersion) {
	if gv.Group == crdGroup && gv.Version == crdVersion {
		s.writeJSON(w, http.StatusOK, &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: gv.String(), APIResources: []metav1.APIResource{crdAPIResource()},
		})
		return
	}
	for _, g := range s.groups {
		if g.name != gv.Group || g.version != gv.Version {
			continue
		}
		list := &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: gv.String(),
		}
		for _, res := range g.resource {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: res.Plural, SingularName: res.Singular, Namespaced: res.Namespaced,
				Kind: res.Kind, Verbs: mainVerbs, ShortNames: res.ShortNames, Categories: res.Categories,
			})
			for _, sub := range subresourcesOf(res) {
				ar := metav1.APIResource{
					Name: res.Plural + "/" + sub.name, Namespaced: res.Namespaced,
					Kind: sub.kind.Kind, Verbs: sub.verbs,
				}
				if sub.kind.GroupVersion() != gv {
					ar.Group, ar.Version = sub.kind.Group, sub.kind.Version
				}
				list.APIResources = append(list.APIResources, ar)
			}
		}
		for _, rv := range g.reviews {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: rv.plural, Namespaced: rv.namespaced, Kind: rv.kind, Verbs: createOnly,
			})
		}
		s.writeJSON(w, http.StatusOK, list)
		return
	}
	s.writeError(w, r, notFoundPath(r.URL.Path))
}

const aggregatedMediaType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// wantsAggregated reports whether the client asked for aggregated discovery v2.
func wantsAggregated(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		p := strings.ReplaceAll(strings.TrimSpace(part), " ", "")
		if strings.HasPrefix(p, "application/json") && strings.Contains(p, "g=apidiscovery.k8s.io") &&
			strings.Contains(p, "v=v2") && !strings.Contains(p, "v=v2beta1") && strings.Contains(p, "as=APIGroupDiscoveryList") {
			return true
		}
		if p == "application/json" || p == "*/*" {
			return false // a plain type preferred first
		}
	}
	return false
}

func (s *Server) writeAggregated(w http.ResponseWriter, groups []groupVersions) {
	list := apidiscoveryv2.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"},
	}
	for _, g := range groups {
		v := apidiscoveryv2.APIVersionDiscovery{Version: g.version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, res := range g.resource {
			scope := apidiscoveryv2.ScopeCluster
			if res.Namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			d := apidiscoveryv2.APIResourceDiscovery{
				Resource:         res.Plural,
				ResponseKind:     &metav1.GroupVersionKind{Group: res.Group, Version: res.Version, Kind: res.Kind},
				Scope:            scope,
				SingularResource: res.Singular,
				Verbs:            mainVerbs,
				ShortNames:       res.ShortNames,
				Categories:       res.Categories,
			}
			for _, sub := range subresourcesOf(res) {
				d.Subresources = append(d.Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource:  sub.name,
					ResponseKind: &metav1.GroupVersionKind{Group: sub.kind.Group, Version: sub.kind.Version, Kind: sub.kind.Kind},
					Verbs:        sub.verbs,
				})
			}
			v.Resources = append(v.Resources, d)
		}
		for _, rv := range g.reviews {
			scope := apidiscoveryv2.ScopeCluster
			if rv.namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			v.Resources = append(v.Resources, apidiscoveryv2.APIResourceDiscovery{
				Resource: rv.plural, Scope: scope, Verbs: createOnly,
				ResponseKind: &metav1.GroupVersionKind{Group: g.name, Version: g.version, Kind: rv.kind},
			})
		}
		list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{
			ObjectMeta: metav1.ObjectMeta{Name: g.name},
			Versions:   []apidiscoveryv2.APIVersionDiscovery{v},
		})
	}
	if len(groups) > 0 && groups[0].name != "" {
		crd := crdAPIResource()
		list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{
			ObjectMeta: metav1.ObjectMeta{Name: crdGroup},
			Versions: []apidiscoveryv2.APIVersionDiscovery{{
				Version: crdVersion, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
				Resources: []apidiscoveryv2.APIResourceDiscovery{{
					Resource: crd.Name, SingularResource: crd.SingularName, Scope: apidiscoveryv2.ScopeCluster,
					ResponseKind: &metav1.GroupVersionKind{Group: crdGroup, Version: crdVersion, Kind: crd.Kind},
					Verbs:        crd.Verbs, ShortNames: crd.ShortNames,
				}},
			}},
		})
	}
	data, err := json.Marshal(&list)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", aggregatedMediaType)
	w.Header().Set("Vary", "Accept")
	w.Write(data)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
