// Package statefulset is the apps/v1 StatefulSet controller.
//
// It guarantees, for each StatefulSet, pods named "<set>-<ordinal>" for
// the ordinals spec.ordinals.start .. start+replicas-1, each with
// hostname = its name, subdomain = spec.serviceName and the labels
// statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index and
// controller-revision-hash (the name of their ControllerRevision). Each claim template
// gives one PersistentVolumeClaim per ordinal, "<claim>-<set>-<ordinal>",
// created before its pod and never deleted by this controller: a
// recreated pod gets the same claim, and scale-down keeps it. With
// persistentVolumeClaimRetentionPolicy.whenDeleted=Delete the claims are
// owned by the set, so the garbage collector removes them with it; with
// whenScaled=Delete a claim is handed to its pod (an owner reference)
// just before a scale-down deletes that pod.
//
// OrderedReady (the default) creates pods in ordinal order, each only once
// the one before is Running and Ready, and removes them from the highest
// ordinal down, one at a time, each gone before the next; Parallel
// creates and deletes all at once. A failed or deleted pod is recreated
// under the same name. RollingUpdate replaces pods whose revision differs
// from the template's, highest ordinal first, one at a time, leaving
// ordinals below the partition alone; OnDelete replaces only pods someone
// deleted.
//
// Revisions, as upstream (package history): every distinct template has a
// ControllerRevision "<set>-<hash>" owned by the set, the newest being
// status.updateRevision; status.currentRevision is the one pods ran before
// and becomes the update revision once every pod runs it. A pod below the
// partition that is recreated during a RollingUpdate gets the current
// revision's template. Revisions no pod uses beyond
// spec.revisionHistoryLimit (default 10) are deleted, oldest first, so
// `kubectl rollout history` and `rollout undo` work.
//
// The decisions are made by a pure function (decide) over the set, its
// pods and the existing claims; the controller around it only reads the
// informer caches, acts, records Events and writes status.
//
// Not done: adopting orphaned ControllerRevisions, removing a pod's owner reference from its claim when a scale-up comes
// back before the pod is gone, minReadySeconds (available = ready), and
// maxUnavailable greater than one.
package statefulset
