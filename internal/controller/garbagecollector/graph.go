package garbagecollector

import (
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objectKey names an object as the informer of its resource holds it.
type objectKey struct {
	resource  schema.GroupVersionResource
	namespace string
	name      string
}

// identity is what is known of an object to look it up: an observed
// object's own coordinates, or, for an owner only named by
// ownerReferences, what the first dependent's reference says (the
// namespace being the dependent's, which is the owner's if the owner is
// namespaced).
type identity struct {
	apiVersion string
	kind       string
	namespace  string
	name       string
	uid        types.UID
}

// observation is the metadata of an object an informer holds.
type observation struct {
	key        objectKey
	apiVersion string
	kind       string
	uid        types.UID
	owners     []metav1.OwnerReference
	deleting   bool // deletionTimestamp set
	finalizers []string
}

// node is an object of the dependency graph.
type node struct {
	id identity
	// observed: seen in an informer, at key. Otherwise the node is
	// virtual: only named by its dependents' ownerReferences.
	observed bool
	key      objectKey
	owners   []metav1.OwnerReference
	// dependents are the observed objects whose ownerReferences name
	// this node's uid.
	dependents         map[types.UID]*node
	deletingDependents bool // being deleted with the foregroundDeletion finalizer
	orphaning          bool // being deleted with the orphan finalizer
}

// followUp is the work a graph change calls for.
type followUp struct {
	// attemptToDelete: objects to check (and maybe delete, or finish the
	// foreground deletion of); virtual nodes to verify.
	attemptToDelete []types.UID
	// attemptToOrphan: owners whose dependents lose their reference.
	attemptToOrphan []types.UID
	// absent: owners known gone, so dependents need not look them up.
	absent []identity
}

func (f *followUp) delete(uids ...types.UID) { f.attemptToDelete = append(f.attemptToDelete, uids...) }

// graph is the dependency graph of every object the collector watches:
// each node links to its owners' nodes and back. It decides what to look
// at when an object appears, changes or goes; it does no I/O and starts
// nothing, and is safe for concurrent use.
type graph struct {
	mu    sync.RWMutex
	nodes map[types.UID]*node
	keys  map[objectKey]types.UID // observed nodes by where they were seen
}

func newGraph() *graph {
	return &graph{nodes: map[types.UID]*node{}, keys: map[objectKey]types.UID{}}
}

// observe records an object as an informer holds it now.
func (g *graph) observe(o observation) followUp {
	g.mu.Lock()
	defer g.mu.Unlock()
	var f followUp
	if uid, ok := g.keys[o.key]; ok && uid != o.uid {
		// Deleted and recreated under the same name.
		g.remove(g.nodes[uid], &f)
	}
	n := g.nodes[o.uid]
	id := identity{apiVersion: o.apiVersion, kind: o.kind, namespace: o.key.namespace, name: o.key.name, uid: o.uid}
	if n == nil {
		n = &node{id: id, dependents: map[types.UID]*node{}}
		g.nodes[o.uid] = n
	}
	wasVirtual := !n.observed
	n.id, n.observed, n.key = id, true, o.key
	g.keys[o.key] = o.uid
	if wasVirtual {
		// Dependents that named a namespaced owner from another namespace
		// named something that cannot exist: check them.
		for _, dep := range n.dependents {
			if !namespaceFits(n, dep) {
				f.delete(dep.id.uid)
			}
		}
	}
	g.setOwners(n, o.owners, &f)

	n.deletingDependents = o.deleting && slices.Contains(o.finalizers, metav1.FinalizerDeleteDependents)
	n.orphaning = o.deleting && slices.Contains(o.finalizers, metav1.FinalizerOrphanDependents)
	if n.orphaning {
		f.attemptToOrphan = append(f.attemptToOrphan, n.id.uid)
	}
	if n.deletingDependents {
		f.delete(n.id.uid)
		f.delete(sortedUIDs(n.dependents)...)
	}
	return f
}

// forget records that the informer of key no longer holds the object.
func (g *graph) forget(key objectKey) followUp {
	g.mu.Lock()
	defer g.mu.Unlock()
	var f followUp
	if uid, ok := g.keys[key]; ok {
		g.remove(g.nodes[uid], &f)
	}
	return f
}

// virtualGone records that a live lookup of a virtual node found nothing
// with its uid. An observed node is never removed this way.
func (g *graph) virtualGone(uid types.UID) followUp {
	g.mu.Lock()
	defer g.mu.Unlock()
	var f followUp
	if n := g.nodes[uid]; n != nil && !n.observed {
		g.remove(n, &f)
	}
	return f
}

// setOwners updates n's links to match its ownerReferences.
func (g *graph) setOwners(n *node, owners []metav1.OwnerReference, f *followUp) {
	old := map[types.UID]metav1.OwnerReference{}
	for _, ref := range n.owners {
		old[ref.UID] = ref
	}
	cur := map[types.UID]bool{}
	for _, ref := range owners {
		cur[ref.UID] = true
		prev, had := old[ref.UID]
		switch {
		case !had:
			g.link(n, ref, f)
		case blocks(prev) && !blocks(ref):
			// The owner may be waiting only for this dependent.
			if owner := g.nodes[ref.UID]; owner != nil && owner.deletingDependents {
				f.delete(owner.id.uid)
			}
		}
	}
	for _, ref := range n.owners {
		if !cur[ref.UID] {
			g.unlink(n, ref.UID, f)
		}
	}
	n.owners = slices.Clone(owners)
}

// link adds dep as a dependent of the owner ref names, creating a virtual
// node for an owner not seen yet.
func (g *graph) link(dep *node, ref metav1.OwnerReference, f *followUp) {
	owner := g.nodes[ref.UID]
	if owner == nil {
		owner = &node{
			id:         identity{apiVersion: ref.APIVersion, kind: ref.Kind, namespace: dep.id.namespace, name: ref.Name, uid: ref.UID},
			dependents: map[types.UID]*node{},
		}
		g.nodes[ref.UID] = owner
		f.delete(ref.UID) // does it exist?
	}
	owner.dependents[dep.id.uid] = dep
	if owner.observed && (!namespaceFits(owner, dep) || owner.deletingDependents) {
		f.delete(dep.id.uid)
	}
}

// unlink removes dep from the dependents of the owner with uid.
func (g *graph) unlink(dep *node, uid types.UID, f *followUp) {
	owner := g.nodes[uid]
	if owner == nil {
		return
	}
	delete(owner.dependents, dep.id.uid)
	if owner.deletingDependents {
		f.delete(owner.id.uid) // perhaps it waited only for dep
	}
	if !owner.observed && len(owner.dependents) == 0 {
		delete(g.nodes, uid)
	}
}

// remove takes n out of the graph: its dependents must be checked, and
// owners waiting for it may be done.
func (g *graph) remove(n *node, f *followUp) {
	if n == nil {
		return
	}
	delete(g.nodes, n.id.uid)
	if n.observed && g.keys[n.key] == n.id.uid {
		delete(g.keys, n.key)
	}
	for _, ref := range n.owners {
		g.unlink(n, ref.UID, f)
	}
	if len(n.dependents) > 0 {
		f.absent = append(f.absent, n.id)
		f.delete(sortedUIDs(n.dependents)...)
		// A dependent keeps its reference; should the uid come back as a
		// virtual node, it is verified again.
	}
}

// namespaceFits reports whether owner can be dep's owner: a namespaced
// owner must be in dep's namespace.
func namespaceFits(owner, dep *node) bool {
	return owner.id.namespace == "" || owner.id.namespace == dep.id.namespace
}

func blocks(ref metav1.OwnerReference) bool {
	return ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
}

func sortedUIDs(m map[types.UID]*node) []types.UID {
	out := make([]types.UID, 0, len(m))
	for uid := range m {
		out = append(out, uid)
	}
	slices.Sort(out)
	return out
}

// nodeView is a copy of what the workers need of a node.
type nodeView struct {
	id         identity
	observed   bool
	key        objectKey
	dependents []dependentView
}

type dependentView struct {
	id                 identity
	key                objectKey
	blocking           bool // its reference to the owner has blockOwnerDeletion
	deletingDependents bool
}

// view returns a copy of the node with uid.
func (g *graph) view(uid types.UID) (nodeView, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := g.nodes[uid]
	if n == nil {
		return nodeView{}, false
	}
	v := nodeView{id: n.id, observed: n.observed, key: n.key}
	for _, uid := range sortedUIDs(n.dependents) {
		dep := n.dependents[uid]
		d := dependentView{id: dep.id, key: dep.key, deletingDependents: dep.deletingDependents}
		for _, ref := range dep.owners {
			if ref.UID == n.id.uid && blocks(ref) {
				d.blocking = true
			}
		}
		v.dependents = append(v.dependents, d)
	}
	return v, true
}

// hasDependents reports whether the node with uid has dependents.
func (g *graph) hasDependents(uid types.UID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := g.nodes[uid]
	return n != nil && len(n.dependents) > 0
}

// anyDependentDeletingDependents reports whether a dependent of the node
// with uid is itself being deleted in the foreground: deleting the node
// in the foreground too could then wait in a cycle.
func (g *graph) anyDependentDeletingDependents(uid types.UID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := g.nodes[uid]
	if n == nil {
		return false
	}
	for _, dep := range n.dependents {
		if dep.deletingDependents {
			return true
		}
	}
	return false
}
