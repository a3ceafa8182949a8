// Package authz holds what the api-server's authorizers share: the
// attributes of a request (who asks, to do what, to which object) and the
// decision an authorizer returns. The authorizers themselves live in
// their own packages (internal/rbac, internal/nodeauth); the api-server
// chains them and the first Allow or Deny wins.
package authz
