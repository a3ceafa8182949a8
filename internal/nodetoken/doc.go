// Package nodetoken is the join token with which `k1s agent --server URL
// --token TOKEN` reaches a server: "K1S<sha256 of the cluster CA, hex>::<secret>".
// The agent fetches the CA from the server's unauthenticated /cacerts,
// accepts it only if its hash matches the token (so a man in the middle
// cannot pose as the server), then authenticates with the secret as a
// bearer token, which the api-server maps to the group system:nodes.
//
// One secret for all nodes: a node's identity is the name it registers.
// Per-node credentials are the security issue's work.
package nodetoken
