// Package rbac is the RBAC authorizer and the policy it starts from.
//
// Authorizer answers authz.Attributes the way upstream's RBAC authorizer
// does: it walks the ClusterRoleBindings, then the RoleBindings of the
// request's namespace, and allows the request as soon as one rule of a
// role bound to the user, one of their groups or their service account
// matches. It never denies: anything not allowed is NoOpinion, so another
// authorizer in the chain may still allow it. A binding whose role is
// missing is skipped and named in the reason, never fatal. Matching
// follows upstream exactly: "*" matches every verb, group or resource
// (subresources included), "*/sub" matches subresource sub of any
// resource (there is no "res/*"), resourceNames restrict only requests
// that carry a name (so never create, list, watch or deletecollection),
// and a non-resource URL ending in "*" matches by prefix.
//
// RulesFor lists what a user may do in a namespace (SelfSubjectRulesReview,
// kubectl auth can-i --list); ConfirmNoEscalation and Covers implement
// upstream's escalation check for writes of roles and bindings. The
// api-server wraps their error in a Forbidden status and decides the
// "escalate" and "bind" exceptions itself.
//
// DefaultClusterRoles, DefaultClusterRoleBindings, DefaultRoles and
// DefaultRoleBindings are upstream's bootstrap policy plus k1s's add-on
// roles, as data: each call returns fresh objects the caller may modify.
// AggregateRules computes an aggregated ClusterRole's rules; the
// clusterroleaggregation controller and the tests share it.
//
// The package reads only from the listers it is given: it does no I/O of
// its own and starts no goroutines.
package rbac
