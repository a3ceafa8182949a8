// Package history keeps the ControllerRevisions (apps/v1) of a workload
// that runs pods from a template, as StatefulSets and DaemonSets do
// upstream, so that `kubectl rollout history` and `rollout undo` work.
//
// Guarantees:
//   - A revision's data is the strategic merge patch kubectl applies to
//     restore a template: {"spec":{"template":{...,"$patch":"replace"}}},
//     byte for byte what kubectl computes from the workload, so kubectl
//     recognises a revision equal to the current template.
//   - Every distinct template has one revision, named "<owner>-<hash>",
//     labelled with the template's labels and controller.kubernetes.io/hash,
//     controlled by the owner. Revision numbers only grow: going back to an
//     older template gives its revision the next number.
//   - A name taken by a revision with other data (a hash collision, or a
//     revision of someone else) is reported, so the caller bumps its
//     status.collisionCount and gets another name.
//   - Trim deletes the oldest revisions beyond the history limit, never
//     one still in use.
//
// It does not adopt orphaned revisions: a revision without a controller is
// ignored, and one with its name makes the caller pick another hash.
package history
