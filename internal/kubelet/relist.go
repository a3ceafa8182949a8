package kubelet

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// relistLoop is the kubelet's PLEG: every RelistPeriod it lists the
// runtime's sandboxes and containers and re-syncs each pod whose runtime
// state changed (a container exited, a sandbox died) or whose UID no
// longer has a pod.
func (k *Kubelet) relistLoop(ctx context.Context) {
	t := k.clock.NewTicker(k.opts.RelistPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if err := k.relist(ctx); err != nil && ctx.Err() == nil {
			k.log.Info("relisting the runtime", "err", err)
		}
	}
}

func (k *Kubelet) relist(ctx context.Context) error {
	sbs, err := k.rt.ListPodSandbox(ctx, nil)
	if err != nil {
		return err
	}
	cs, err := k.rt.ListContainers(ctx, nil)
	if err != nil {
		return err
	}
	now := make(map[string]string, len(sbs)+len(cs))
	owner := make(map[string]types.UID, len(sbs)+len(cs))
	for _, sb := range sbs {
		now[sb.Id] = sb.State.String()
		owner[sb.Id] = types.UID(sb.Labels[labelPodUID])
	}
	for _, c := range cs {
		now[c.Id] = c.State.String()
		owner[c.Id] = types.UID(c.Labels[labelPodUID])
	}
	k.mu.Lock()
	changed := map[types.UID]bool{}
	for id, st := range now {
		if k.seen[id] != st {
			changed[owner[id]] = true
		}
	}
	for id := range k.seen {
		if _, ok := now[id]; !ok {
			changed[k.seenOwner[id]] = true
		}
	}
	k.seen, k.seenOwner = now, owner
	k.mu.Unlock()
	for uid := range changed {
		if uid != "" {
			k.queue.Add(uid)
		}
	}
	return nil
}

// housekeepingLoop re-syncs every pod periodically (level-triggered
// safety net), tears down runtime pods whose pod is gone, and removes
// volume directories of pods that no longer exist.
func (k *Kubelet) housekeepingLoop(ctx context.Context) {
	t := k.clock.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		active := map[types.UID]bool{}
		for _, obj := range k.pods.GetStore().List() {
			pod := obj.(*corev1.Pod)
			active[pod.UID] = true
			k.queue.Add(pod.UID)
		}
		if sbs, err := k.rt.ListPodSandbox(ctx, nil); err == nil {
			for _, sb := range sbs {
				uid := types.UID(sb.Labels[labelPodUID])
				if !active[uid] && uid != "" {
					k.queue.Add(uid)
					active[uid] = true // its teardown also frees volumes
				}
			}
		}
		if err := k.volumes.CleanupOrphans(ctx, active); err != nil && ctx.Err() == nil {
			k.log.Info("cleaning up orphaned volumes", "err", err)
		}
		k.backoff.GC()
	}
}
