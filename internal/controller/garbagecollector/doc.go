// Package garbagecollector is the garbage collector: it deletes objects
// whose owners (metadata.ownerReferences) are gone, and carries out the
// three propagation policies of a delete.
//
//   - Background: once an owner is gone, its dependents are deleted (with
//     background propagation themselves, so the deletion runs down the
//     tree).
//   - Foreground: the api-server keeps an owner deleted this way, with the
//     finalizer foregroundDeletion, until the collector has deleted its
//     dependents; it removes the finalizer once no dependent whose
//     reference has blockOwnerDeletion=true is left. A dependent that has
//     dependents of its own is deleted in the foreground too.
//   - Orphan: the api-server keeps an owner deleted this way, with the
//     finalizer orphan, until the collector has removed the owner's
//     reference from every dependent; then it removes the finalizer.
//
// How: discovery (again every DiscoveryInterval, and sooner after a
// failure or an ownerReference to an unknown kind) names every resource
// that can be listed, watched and deleted; a metadata-only informer per
// resource feeds a dependency graph (graph.go: a deterministic core that
// does no I/O) whose changes queue objects to look at. Handlers only
// queue keys; the graph is rebuilt from the informer caches. Every
// decision to delete re-reads the object, and each of its owners, live
// from the api-server: an owner counts as gone only if a GET by name
// finds nothing with its uid. Deletes carry the object's uid (and
// resourceVersion, unless only unrelated fields changed) as
// preconditions; ownerReference and finalizer edits are JSON merge
// patches carrying the resourceVersion they were computed from, so they
// never overwrite a concurrent change.
//
// Guarantees:
//   - An ownerReference names an owner in the dependent's namespace, or a
//     cluster-scoped owner. A reference that can name nothing (a
//     namespaced owner of a cluster-scoped object) counts as gone and is
//     reported with an OwnerRefInvalidNamespace Warning event.
//   - An object with at least one live owner is never deleted; its
//     references to gone owners are removed instead.
//   - Objects already being deleted are left to finish, except that an
//     owner in foreground deletion is finished as above.
//
// It does not delete objects of resources it cannot watch, does not
// remove foreign finalizers, and does not detect every ownership cycle
// (a dependent that is itself deleting in the foreground stops blocking
// its owner, as upstream).
package garbagecollector
