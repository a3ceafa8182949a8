// Package clusterroleaggregation is upstream's clusterrole-aggregation
// controller: a ClusterRole with an aggregationRule holds the union of the
// rules of the ClusterRoles its selectors match (rbac.AggregateRules:
// selectors in order, roles in name order, each rule once), kept current
// as roles come, change and go. It writes a role only when its rules
// differ, and never touches a ClusterRole without an aggregationRule.
// Aggregated roles that aggregate other aggregated roles (admin ⊇ edit ⊇
// view) converge because every ClusterRole change re-examines every
// aggregated role.
package clusterroleaggregation
