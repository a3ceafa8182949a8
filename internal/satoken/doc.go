// Package satoken issues and verifies service account tokens: JSON Web
// Tokens signed with the cluster's service account key (ES256), carrying
// upstream's claims (iss, sub system:serviceaccount:NS:NAME, aud, exp,
// iat, nbf, jti and the private "kubernetes.io" claim naming the
// namespace, the service account and the object the token is bound to).
//
// Verify checks the signature, the issuer, the audiences and the validity
// window; whether the service account and the bound object still exist
// is the caller's question (the api-server asks its store).
package satoken
