// Package nodetoken is the join token with which `k1s agent --server URL
// --token TOKEN` reaches a server: "K1S<sha256 of the cluster CA, hex>::<secret>".
// The agent fetches the CA from the server's unauthenticated /cacerts,
// accepts it only if its hash matches the token (so a man in the middle
// cannot pose as the server), then authenticates with the secret as a
// bearer token, which the api-server maps to the group
// system:bootstrappers. That identity may do one thing: exchange the token
// for client certificates (Joiner, join.go) — the node's own
// system:node:NAME in system:nodes, and the per-node components'
// system:kube-proxy and system:k1s-local-path-provisioner. The private
// keys are made on the node; the certificates are renewed with themselves
// once 80% of their lifetime has passed.
//
// Like upstream's bootstrap tokens, one token lets its holder join as any
// node name; what a node may then do is limited to its own objects by the
// api-server's Node authorizer and NodeRestriction.
package nodetoken
