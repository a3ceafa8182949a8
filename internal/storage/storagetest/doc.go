// Package storagetest is the conformance suite of storage.Interface, run
// against every implementation (etcd3 and watchcache), and the embedded etcd
// those tests need.
//
// RunTests covers create/get/list (label and field predicates, pagination
// at one snapshot, exact and minimum resourceVersions), GuaranteedUpdate
// (no-op writes, preconditions, concurrent retries), delete, watches (from a
// revision, from the current state, single keys, predicate transitions,
// bookmarks, stop) and compaction. Test objects are core/v1 Pods encoded as
// JSON. Nothing here is used outside tests.
package storagetest
