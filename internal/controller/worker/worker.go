// Package worker runs a controller's workqueue workers: the loop every
// controller in the sample-controller shape shares. It guarantees that Run
// returns only after every worker has returned.
package worker

import (
	"context"
	"log/slog"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/workqueue"
)

// Run starts n workers, each calling next until it reports false (the
// queue was shut down); when ctx ends it shuts the queue down and waits
// for them.
func Run(ctx context.Context, n int, queue interface{ ShutDown() }, next func(context.Context) bool) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for next(ctx) {
			}
		})
	}
	<-ctx.Done()
	queue.ShutDown()
	wg.Wait()
}

// Next is the usual next for Run: it takes a key from queue, reconciles
// it and settles it with Handle; it reports false once the queue is shut
// down.
func Next[T comparable](queue workqueue.TypedRateLimitingInterface[T], reconcile func(context.Context, T) error, log *slog.Logger, kind string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		key, quit := queue.Get()
		if quit {
			return false
		}
		defer queue.Done(key)
		Handle(ctx, queue, key, reconcile(ctx, key), log, kind)
		return true
	}
}

// Handle settles a key after its reconcile returned err: forgotten on
// success, left alone while shutting down, retried with rate limiting
// otherwise (conflicts logged at debug level, other errors at error).
func Handle[T comparable](ctx context.Context, queue workqueue.TypedRateLimitingInterface[T], key T, err error, log *slog.Logger, kind string) {
	switch {
	case err == nil:
		queue.Forget(key)
	case ctx.Err() != nil:
		// Shutting down: the request failed because of that.
	case apierrors.IsConflict(err):
		log.Debug(kind+" changed while reconciling, retrying", kind, key)
		queue.AddRateLimited(key)
	default:
		log.Error("reconciling "+kind, kind, key, "err", err)
		queue.AddRateLimited(key)
	}
}
