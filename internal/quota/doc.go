// Package quota is ResourceQuota's arithmetic: what an object costs
// (Usage), which quotas it is charged to (Matches), and whether a write
// fits (Admit). It follows upstream's evaluators and the ResourceQuota
// admission plugin: pods cost compute resources unless terminal, claims
// cost storage (also per storage class), services cost node ports and
// load balancers, and every object costs count/<resource>.<group>.
//
// Everything here is deterministic and does no I/O: callers pass the
// quotas, the objects and, where a pod's deletion deadline matters, the
// time. Admit works on status.hard and status.used, as upstream does, so
// a quota is enforced once the resourcequota controller has filled its
// status; writing the charged quotas back (with a compare-and-swap) is the
// caller's job, and so is releasing usage, which the controller does by
// recounting with Used.
package quota
