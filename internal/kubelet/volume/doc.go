// Package volume prepares a pod's volumes on the node and turns a container's
// volumeMounts into CRI mounts.
//
// Each pod owns RootDir/pods/<uid>; its volumes live under
// volumes/kubernetes.io~<kind>/<name> there. SetUp is idempotent and meant to
// run on every pod sync: it re-reads ConfigMaps, Secrets, downward API fields
// and service account tokens and rewrites configMap, secret, downwardAPI and
// projected volumes atomically, in the manner of upstream's AtomicWriter: the
// files live in a timestamped directory, "..data" is a symlink to it that is
// replaced with a rename, and the files a container sees are symlinks through
// "..data". A running container therefore sees either the old or the new
// contents, never a mix. Contents that did not change are not rewritten.
//
// Secret and projected volumes and emptyDirs with medium Memory are tmpfs
// mounts (unless Options.DisableTmpfs); TearDown unmounts every mount under
// the pod's directory before removing it, so it never deletes through a mount.
//
// Supported kinds: emptyDir, hostPath (with type checks), configMap, secret,
// downwardAPI, projected (configMap, secret, downwardAPI, serviceAccountToken)
// and persistentVolumeClaim bound to a hostPath or local PersistentVolume
// (a local one must be a directory; volumeMode Block claims fail).
// Anything else fails. Every volume that fails is reported as a *SetUpError
// (errors.As) and the others are still set up; an unbound claim also matches
// ErrClaimNotBound, and a missing ConfigMap or Secret apierrors.IsNotFound.
// With a pod fsGroup, files and directories get that group and emptyDirs the
// setgid bit; file modes are not widened.
//
// Service account tokens are cached per pod and requested again once 80% of
// their lifetime (or 24h) has passed; if that request fails, the old token is
// kept until it expires.
//
// It does not: attach or mount network or CSI storage, handle volumeDevices,
// image volumes, clusterTrustBundle or podCertificate projections, or manage
// /etc/hosts and termination-log files (the kubelet core does those).
package volume
