// Package podsecurity is Pod Security Admission: it applies the Pod
// Security Standards (privileged, baseline, restricted) that a namespace
// selects with its pod-security.kubernetes.io/{enforce,audit,warn}[-version]
// labels.
//
// Guarantees:
//   - Evaluate is pure: the checks and their messages follow upstream's
//     latest policy version; a version label ("v1.30") is accepted and shown
//     in messages but evaluated as latest.
//   - A pod created (or updated in a way that can change the outcome:
//     images, seccomp annotations, ephemeral containers) in a namespace
//     whose enforce level it breaks is refused with Forbidden:
//     `pods "x" is forbidden: violates PodSecurity "restricted:latest": ...`.
//   - Warn-level violations come back as warnings
//     (`would violate PodSecurity "baseline:latest": ...`), never on a
//     refused write; audit-level ones as audit annotations.
//   - Workloads (deployments, replicasets, statefulsets, daemonsets, jobs,
//     cronjobs, replicationcontrollers, podtemplates) are never refused;
//     their pod template gets warnings for the enforce and warn levels.
//   - Invalid policy labels on a namespace are refused with Invalid on
//     create, and on update when they changed; tightening a namespace's
//     enforce level warns about existing pods that break it (with
//     Options.Pods).
//   - Nothing is exempt unless Options says so; kube-system is not special.
//
// It does not: evaluate older policy versions, relax checks for user
// namespace pods, or read a PodSecurityConfiguration file.
package podsecurity
