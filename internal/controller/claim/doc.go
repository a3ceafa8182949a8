// Package claim decides which objects a workload controller owns, through
// ownerReferences, the way upstream controllers share objects.
//
// A controller claims an object when the object's controller reference
// points at it and its selector still matches. It adopts an orphan that
// matches (patching in a controller reference, blockOwnerDeletion true) and
// releases an object it controls that no longer matches (patching its
// reference out). Objects controlled by someone else are never touched.
//
// Guarantees:
//   - Decide is pure; Claim only patches through the function it is given,
//     so the caller chooses the client and the resource.
//   - Nothing is adopted before the owner has been re-read from the
//     api-server (Claimer.Recheck) and found alive, so a controller being
//     deleted does not adopt on the strength of a stale cache.
//   - An owner being deleted neither adopts nor releases.
//   - Patches carry the object's UID, so they do not apply to a recreated
//     object of the same name on an api-server that checks it.
//
// It does not decide anything about the objects' content, and keeps no state.
package claim
