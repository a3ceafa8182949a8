// Package resourcequota is upstream's ResourceQuota controller: it keeps
// every quota's status true. status.hard is spec.hard, and status.used is
// recounted from the objects in the quota's namespace with package
// quota's arithmetic, and written only when it differs.
//
// Admission (quota.Admit in the api-server) charges writes as they
// happen; this controller releases: a deleted pod, a pod that finished,
// a claim that shrank, are recounted as soon as their informer event
// arrives, and every quota is recounted every resync period (5 minutes by
// default), which also catches pods whose deletion grace period expired.
//
// Pods, services, claims, config maps, secrets and quotas are counted
// from informers. Every other resource a quota names (count/<resource>.
// <group>, replicationcontrollers) is listed with the metadata client
// when a quota is recounted; there are no informers for them, so their
// deletions are only seen at the next resync or quota change. Without a
// metadata client their usage stays what admission charged.
package resourcequota
