// Package serviceaccount is the service-account controller: every active
// namespace has a ServiceAccount named "default".
//
// Guarantees:
//   - Each namespace that is not terminating gets the service accounts in
//     Options.Names (default just "default") soon after it appears, and
//     gets one back soon after it is deleted.
//   - Reconciling is level-triggered and idempotent: an account that
//     exists is left as it is (labels, secrets and all); cached objects are
//     never mutated.
//   - A namespace that starts terminating while an account is created is
//     not an error.
//
// It does not create tokens or token secrets, and never deletes or updates
// a service account.
package serviceaccount
