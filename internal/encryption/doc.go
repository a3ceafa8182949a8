// Package encryption encrypts Secrets at rest: the api-server's storage
// hands every Secret through a Transformer before it reaches etcd.
//
// Values are sealed with AES-256-GCM under the primary key of a key file
// (JSON, mode 0600, in the server's data dir) and stored as upstream's
// aesgcm provider stores them: "k8s:enc:aesgcm:v1:<key name>:" followed by
// the 12-byte nonce and the sealed bytes, with the etcd key as
// authenticated data (a value copied under another key does not open).
// Every key in the file decrypts; the first one encrypts. A value without
// the prefix was written before encryption was on and is read as it is.
//
// Rotate puts a new key first. A Transformer notices a changed file
// (Reload) and Reencrypt rewrites every stored value that is not under
// the primary key yet, each with a compare-and-swap on its revision.
package encryption
