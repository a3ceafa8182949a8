// Package etcd3 implements storage.Interface on etcd v3: the source of truth
// for every object the api-server keeps.
//
// Guarantees:
//   - An object's resourceVersion is the ModRevision of its key; a list's is
//     the revision it was read at. The stored value never holds a
//     resourceVersion.
//   - Create, GuaranteedUpdate and Delete are single compare-and-swap
//     transactions on the ModRevision; GuaranteedUpdate retries tryUpdate on
//     conflict and writes nothing when the encoded object is unchanged.
//   - Reads are linearizable, except resourceVersion "0" which is a
//     serializable (local member) read.
//   - Paginated lists read every page at the revision of the first page, so
//     the pages form one consistent snapshot; the continue token is opaque
//     base64 JSON {"v","rv","start"}. A compacted revision (in a continue
//     token, an Exact list or a watch start) is ErrCodeResourceVersionTooOld.
//   - A watch delivers every change after its start revision exactly once,
//     in revision order, filtered by the predicate with ADDED/DELETED for
//     objects that start/stop matching. DELETED carries the last state with
//     the delete revision as resourceVersion. A watch ended by compaction
//     sends a 410 Expired Error event; other failures an InternalError one.
//     Stop and the end of ctx close the result channel and end the
//     goroutine.
//   - Every object returned or sent on a watch is freshly decoded and owned
//     by the receiver.
//
// Not provided: caching (see watchcache), TTLs, and Bookmarks more often
// than etcd's progress notifications (etcd's --watch-progress-notify-interval,
// ten minutes by default) unless the holder of the watch asks with
// RequestProgress.
package etcd3
