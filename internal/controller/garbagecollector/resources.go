package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// resourceInfo is one resource the api-server serves.
type resourceInfo struct {
	gvr        schema.GroupVersionResource
	gvk        schema.GroupVersionKind
	namespaced bool
}

// resources is what discovery found: every kind (for ownerReferences,
// which may name any served version) and the resources to watch (the
// preferred version of each that can be listed, watched and deleted).
type resources struct {
	byGVK   map[schema.GroupVersionKind]resourceInfo
	byGK    map[schema.GroupKind]resourceInfo // preferred version
	watched map[schema.GroupVersionResource]resourceInfo
	// failedGroups are groups discovery could not read this time; their
	// watches are kept as they were.
	failedGroups map[string]bool
}

// errUnknownKind says an ownerReference names a kind discovery has not
// seen (yet).
type errUnknownKind struct{ apiVersion, kind string }

func (e *errUnknownKind) Error() string {
	return fmt.Sprintf("no resource serves %s %s", e.apiVersion, e.kind)
}

// lookup finds the resource of apiVersion/kind: that version, or the
// preferred version of the group (the object is the same in every
// version).
func (r *resources) lookup(apiVersion, kind string) (resourceInfo, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return resourceInfo{}, fmt.Errorf("ownerReference apiVersion %q: %w", apiVersion, err)
	}
	if info, ok := r.byGVK[gv.WithKind(kind)]; ok {
		return info, nil
	}
	if info, ok := r.byGK[schema.GroupKind{Group: gv.Group, Kind: kind}]; ok {
		return info, nil
	}
	return resourceInfo{}, &errUnknownKind{apiVersion, kind}
}

// discoverResources reads discovery. A failure of some groups returns
// what the others said, with the failed groups marked, and the error.
func discoverResources(ctx context.Context, d discovery.DiscoveryInterface, ignored []schema.GroupResource) (*resources, error) {
	groups, lists, err := discovery.ToDiscoveryInterfaceWithContext(d).ServerGroupsAndResourcesWithContext(ctx)
	out := &resources{
		byGVK:        map[schema.GroupVersionKind]resourceInfo{},
		byGK:         map[schema.GroupKind]resourceInfo{},
		watched:      map[schema.GroupVersionResource]resourceInfo{},
		failedGroups: map[string]bool{},
	}
	if err != nil {
		var failed *discovery.ErrGroupDiscoveryFailed
		if !errors.As(err, &failed) {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		for gv := range failed.Groups {
			out.failedGroups[gv.Group] = true
		}
	}
	preferred := map[string]string{}
	for _, g := range groups {
		preferred[g.Name] = g.PreferredVersion.Version
	}
	for _, list := range lists {
		gv, perr := schema.ParseGroupVersion(list.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // a subresource
			}
			info := resourceInfo{gvr: gv.WithResource(r.Name), gvk: gv.WithKind(r.Kind), namespaced: r.Namespaced}
			out.byGVK[info.gvk] = info
			if gv.Version != preferred[gv.Group] {
				continue
			}
			out.byGK[info.gvk.GroupKind()] = info
			if watchable(r) && !slices.Contains(ignored, info.gvr.GroupResource()) {
				out.watched[info.gvr] = info
			}
		}
	}
	return out, err
}

func watchable(r metav1.APIResource) bool {
	v := r.Verbs
	return slices.Contains(v, "list") && slices.Contains(v, "watch") && slices.Contains(v, "delete")
}
