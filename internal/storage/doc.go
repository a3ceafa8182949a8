// Package storage defines the store the api-server keeps objects in, its
// errors and options. Implementations: etcd3 (the source of truth) and
// watchcache (an in-memory cache in front of one, serving list and watch).
// storagetest holds the conformance suite every implementation passes.
//
// Guarantees: resourceVersions are etcd revisions, strictly increasing;
// writes are linearizable compare-and-swap on the ModRevision; watches
// deliver every change after their starting version exactly once, in order.
package storage
