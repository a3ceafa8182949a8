// Package limitranger is the LimitRanger admission plugin: it applies a
// namespace's LimitRanges to pods and persistent volume claims.
//
// Guarantees:
//   - Admit (a Mutator) runs on pod creates only: a container with a limit
//     but no request requests its limit (the API's pod defaulting, repeated
//     here so the outcome does not depend on plugin order); then each
//     LimitRange's Container default / defaultRequest fills the limits and
//     requests a container or init container leaves unset, and the
//     kubernetes.io/limit-ranger annotation says what was set.
//   - Validate (a Validator) refuses, with upstream's Forbidden messages
//     (`pods "x" is forbidden: maximum cpu usage per Container is 500m,
//     but limit is 1`), pods whose containers or whole-pod totals break a
//     Container or Pod item's min, max or maxLimitRequestRatio, on create;
//     and claims whose storage request breaks a PersistentVolumeClaim
//     item's min or max, on create and update.
//   - LimitRanges are read from the lister, never changed; upstream's
//     LimitRange defaulting (default from max, defaultRequest from default
//     or min) is applied to a copy. Several LimitRanges apply in name order.
//   - Subresources and objects being deleted are ignored.
//
// It does not look up LimitRanges live when the lister is empty (upstream
// does, to cover cache lag), nor account for in-place pod resize.
package limitranger
