// Package watchcache is an in-memory cache of one resource in front of the
// etcd3 store: it serves watches and most reads from memory, kept current
// by a single store watch on the resource's prefix, however many clients
// watch.
//
// Guarantees:
//   - Writes, Get with resourceVersion "", and lists with Continue, Limit
//     (except at "0") or an Exact resourceVersion go to the store unchanged.
//   - Reads at "0" see some state the store had; reads at N see a state at
//     least N; reads at "" (lists and watches) are consistent: the cache
//     first reaches the store's current revision, asking etcd for a progress
//     notification, and the store serves the read if that takes longer than
//     ReadTimeout. Lists ignore Limit when served from the cache, as upstream.
//   - A watch gets every change after its start exactly once, in order,
//     from a sliding window of the last EventWindow events (memory stays
//     bounded); starting before the window is ErrCodeResourceVersionTooOld
//     (410 Gone), returned by Watch itself. Predicates turn updates into
//     ADDED/DELETED for objects that start/stop matching, as in etcd3.
//     Watchers that allow bookmarks get one at most every BookmarkInterval
//     when the cache's revision advanced.
//   - Each watcher has a bounded queue: one that does not keep up is
//     terminated (channel closed) instead of slowing the others; it resumes
//     from the last resourceVersion it saw.
//   - If the store watch breaks the cache watches again from its revision;
//     if that is compacted it lists again and terminates its watchers.
//
// Not guaranteed: that handed-out objects are private. Get returns a deep
// copy; List items and watch event objects are shallow copies (their own
// top-level struct, so encoders that set apiVersion/kind do not race) whose
// maps, slices and pointers are shared with the cache: treat them as
// read-only, as the api-server does (it only serializes them).
package watchcache
