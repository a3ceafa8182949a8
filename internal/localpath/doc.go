// Package localpath is k1s's built-in dynamic provisioner for node-local
// volumes, provisioner name "k1s.io/local-path". Every node agent runs one;
// each provisions and deletes only the volumes on its own disk.
//
// A claim is provisioned by this node when it is not bound, its
// volume.kubernetes.io/storage-provisioner annotation (or the beta one) is
// k1s.io/local-path, its class is ours, no PV pvc-<claim uid> exists yet,
// and either the scheduler selected this node (volume.kubernetes.io/
// selected-node, WaitForFirstConsumer classes) or, for an Immediate class,
// the class parameter "nodeName" names this node. An Immediate class without
// nodeName gets a ProvisioningFailed Warning event on the claim from every
// node, since no node is the obvious owner. Claims with a selector, a data
// source or volumeMode Block are refused the same way.
//
// Provisioning makes the directory Dir/pvc-<claim uid> with mode 0777
// (as upstream's local-path-provisioner: containers running as any user can
// write to it; the agent's data dir above it stays private, and a container
// sees only the bind-mounted directory) and creates the PV: spec.local.path
// is that directory, required node affinity kubernetes.io/hostname In
// [node], claimRef with the claim's uid, capacity the claim's request,
// class name, reclaim policy of the class (default Delete), the claim's
// access modes, volumeMode Filesystem, annotation
// pv.kubernetes.io/provisioned-by. The PV controller binds the pair. Both
// steps are idempotent: an existing directory or PV is fine.
//
// Deletion: a PV provisioned by k1s.io/local-path whose node affinity
// names this node, in phase Released with reclaim policy Delete, loses its
// directory and is then deleted. The directory is removed only when it
// lies strictly inside Dir after resolving symlinks in its parent; a PV
// pointing anywhere else gets a VolumeFailedDelete Warning event and both
// are left alone. Retain (and Recycle) volumes are never touched.
//
// Capacity is not enforced. The request is recorded on the PV, but a plain
// directory on the node's filesystem can grow until that filesystem is full,
// a known limit of every local-path provisioner. Enforcing it needs project
// quotas: the filesystem mounted with prjquota (ext4 created or tuned with
// the "project" and "quota" features, or xfs), a project id set on the
// directory (FS_IOC_FSSETXATTR with the inherit flag) and a block hard
// limit set for that id (quotactl Q_SETQUOTA on PRJQUOTA). The machines k1s
// is developed on have ext4 root filesystems mounted without prjquota, so
// this is not done; a loop-mounted image file per volume would be the
// alternative that works everywhere, at the cost of preallocated space.
//
// It does not: clean up directories whose PV was never created (the claim
// deleted between the two steps), provision block volumes, or move data
// when a node is removed.
package localpath
