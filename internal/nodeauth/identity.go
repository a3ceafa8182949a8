package nodeauth

import (
	"slices"
	"strings"
)

// NodesGroup is the group every node's credentials carry.
const NodesGroup = "system:nodes"

// NodeUserPrefix starts a node's user name: "system:node:<node name>".
const NodeUserPrefix = "system:node:"

// NodeIdentity reports whether user/groups are a node's credentials and,
// if so, which node. isNode with an empty name means node credentials
// that name no node; both the authorizer and the admission plugin refuse
// those.
func NodeIdentity(user string, groups []string) (name string, isNode bool) {
	if !strings.HasPrefix(user, NodeUserPrefix) || !slices.Contains(groups, NodesGroup) {
		return "", false
	}
	return strings.TrimPrefix(user, NodeUserPrefix), true
}
