// Package pvprotection holds upstream's pvc-protection and pv-protection
// controllers: finalizers that keep storage from going away under its
// users.
//
// Guarantees:
//   - Every PersistentVolumeClaim carries the kubernetes.io/pvc-protection
//     finalizer while it is not being deleted; a claim being deleted
//     loses it only once no pod in its namespace that has not terminated
//     (phase other than Succeeded or Failed) uses it, by a
//     persistentVolumeClaim or a generic ephemeral volume. Before removing
//     it, the pods are listed from the api-server as well as the cache, so
//     a pod the cache has not seen yet still holds the claim.
//   - Every PersistentVolume carries kubernetes.io/pv-protection while it
//     is not being deleted; a volume being deleted loses it once its phase
//     is not Bound.
//
// It only adds and removes those finalizers; it deletes nothing.
package pvprotection
