// Package eventrecorder builds the core/v1 Event recorder a controller
// writes its Events with (what `kubectl describe` shows), logging
// through slog.
package eventrecorder

import (
	"context"
	"log/slog"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// New starts a broadcaster writing Events to the api-server as component
// and returns it with a recorder. The caller shuts the broadcaster down
// when it stops. client-go logs event-writing failures through ctx's
// logger, which is log.
func New(ctx context.Context, events typedcorev1.EventsGetter, log *slog.Logger, component string) (record.EventBroadcaster, record.EventRecorder) {
	b := record.NewBroadcaster(record.WithContext(logr.NewContextWithSlogLogger(ctx, log)))
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: events.Events("")})
	r := b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}).
		WithLogger(logr.FromSlogHandler(log.Handler()))
	return b, r
}
