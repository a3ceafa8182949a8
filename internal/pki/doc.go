// Package pki creates and keeps the cluster's certificates and keys under
// DIR/tls for `k1s server --data-dir DIR`, and writes kubeconfig files that
// carry them.
//
// Ensure generates on first start and reuses afterwards:
//
//	ca.crt, ca.key                   cluster CA, ECDSA P-256, 10 years
//	serving.crt, serving.key         api-server certificate, 1 year
//	admin.crt, admin.key             client "system:admin" in "system:masters", 1 year
//	service-account.key              ECDSA P-256 key that signs service account tokens
//
// Guarantees:
//   - Keys are written 0600 and the tls directory is 0700.
//   - Every file is replaced atomically (temporary file, fsync, rename), so a
//     crash leaves either the old or the new file, never a partial one. A
//     crash between a certificate and its key leaves a mismatched pair, which
//     the next Ensure detects and re-issues.
//   - The CA and the service account key are never replaced once they exist;
//     a CA whose files are unreadable or do not match is an error, not a
//     silent regeneration (that would invalidate every issued credential).
//   - A leaf certificate is re-issued when it is missing, unreadable, does not
//     match its key, is not signed by the current CA, expires within 90 days,
//     or (serving) its SAN set differs from the wanted one. Otherwise it is
//     reused byte for byte.
//   - ServingTLSConfig serves the serving certificate, asks for but does not
//     require client certificates, verifies any it gets against the CA, and
//     speaks TLS 1.2+ with h2 and http/1.1.
//
// Not provided: CA rotation, revocation, reloading certificates into a
// running server, or locking against two processes using the same DIR.
package pki
