// Package demo is `k1s demo`: it deploys the reference application
// (examples/my-app) on a cluster `k1s up` made and shows, one checked
// step at a time, what Kubernetes promises it: both replicas answer
// through the Ingress, a write survives the loss of the database pod,
// deleting an app pod loses no request, a ConfigMap change reaches the
// pods with a rollout restart and no new image, and (with three nodes or
// more) the pods of a node whose agent stops move to the others.
//
// Every step checks what it claims and fails with an error saying what
// it saw. The steps are idempotent: running the demo again on a cluster
// that already has the application works. Requests go only to
// 127.0.0.1 (the first node's Ingress port); the cluster is reached
// through the admin kubeconfig of its state file, with client-go for
// watching and kubectl where a user would type it (apply, rollout).
//
// The demo changes the cluster the way its steps say: it rebuilds and
// loads the images, deletes pods, rewrites the ConfigMap's GREETING and
// stops (then restarts, through `k1s up`) one node's agent. It does not
// remove the application when it is done.
package demo
