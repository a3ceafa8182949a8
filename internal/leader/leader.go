// Package leader runs work only while holding a Lease in kube-system, so
// that several copies of a control-plane component can run safely. It
// guarantees that the work has stopped before the Lease is released, and
// that after a lost Lease the work stops and the process campaigns again
// (it does not exit, unlike upstream components).
package leader

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Upstream's defaults for control-plane leases.
const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// Config names the Lease and who campaigns for it.
type Config struct {
	Client    coordinationv1.LeasesGetter
	Namespace string
	Name      string
	Identity  string
	Logger    *slog.Logger
	// What is the work called in log lines ("scheduling", "controllers").
	What string
}

// Run campaigns for the Lease and calls work while it is held,
// campaigning again after a lost lease, until ctx ends. An error from
// work ends Run.
func Run(ctx context.Context, c Config, work func(context.Context) error) error {
	log := c.Logger.With("identity", c.Identity)
	for ctx.Err() == nil {
		// The election's context outlives ctx so the lease is released
		// only after the work stopped.
		ectx, ecancel := context.WithCancel(context.WithoutCancel(ctx))
		leading := make(chan context.Context, 1)
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: c.Namespace, Name: c.Name},
				Client:     c.Client,
				LockConfig: resourcelock.ResourceLockConfig{Identity: c.Identity},
			},
			LeaseDuration:   leaseDuration,
			RenewDeadline:   renewDeadline,
			RetryPeriod:     retryPeriod,
			ReleaseOnCancel: true,
			Name:            c.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) { leading <- lctx },
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			ecancel()
			return fmt.Errorf("%s: leader election: %w", c.Name, err)
		}
		elected := make(chan struct{})
		go func() {
			defer close(elected)
			elector.Run(ectx)
		}()

		var runErr error
		select {
		case lctx := <-leading:
			log.Info("leading: starting " + c.What)
			wctx, wcancel := context.WithCancel(lctx)
			stop := context.AfterFunc(ctx, wcancel)
			runErr = work(wctx)
			stop()
			wcancel()
			if ctx.Err() == nil && lctx.Err() != nil {
				log.Warn("lost the lease: " + c.What + " stopped, campaigning again")
			}
		case <-ctx.Done():
		}
		ecancel()
		<-elected
		if runErr != nil {
			return runErr
		}
	}
	return nil
}
