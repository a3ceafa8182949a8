package authz

import (
	"context"
	"slices"
)

// Attributes describe one request to authorize.
type Attributes struct {
	User   string
	Groups []string
	// UID of the user, if known (service accounts).
	UID string
	// Extra carries authenticator-specific facts, as upstream's user.Info
	// extra (for service account tokens bound to a pod:
	// "authentication.kubernetes.io/pod-name", ".../node-name").
	Extra map[string][]string

	// Verb: for resource requests get list watch create update patch
	// delete deletecollection (and bind, escalate, impersonate,
	// approve, use for the few checks that ask for them); for
	// non-resource requests the lower-case HTTP method.
	Verb string

	// ResourceRequest is true for /api and /apis resource paths.
	ResourceRequest bool
	Namespace       string
	APIGroup        string
	APIVersion      string
	Resource        string
	Subresource     string
	Name            string

	// Path of a non-resource request (e.g. /healthz, /metrics).
	Path string
}

// InGroup reports whether the user is in group g.
func (a Attributes) InGroup(g string) bool { return slices.Contains(a.Groups, g) }

// Decision is an authorizer's answer.
type Decision int

const (
	// NoOpinion lets the next authorizer in the chain decide; if none
	// allows, the request is forbidden.
	NoOpinion Decision = iota
	Allow
	Deny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NoOpinion"
}

// Authorizer decides one request. reason explains an Allow or Deny for
// humans (SubjectAccessReview status.reason); err means the decision
// could not be made (treated as NoOpinion with the error reported).
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (d Decision, reason string, err error)
}
