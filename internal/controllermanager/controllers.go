package controllermanager

import (
	"context"
	"log/slog"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/k1s/k1s/internal/controller/namespace"
)

// controllerContext is what a controller is built from. Informers come
// from the shared factory, which is started after every controller has
// registered its informers.
type controllerContext struct {
	Client    kubernetes.Interface
	Metadata  metadata.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger // tagged with the controller's name
	// run supervises a controller's Run with the others; it fails the
	// controller-manager if Run returns an error.
	run func(func(context.Context) error)
}

// controller is one entry of the controller-manager.
type controller struct {
	name string
	// start builds the controller and hands its Run to cc.run; it must not block.
	start func(ctx context.Context, cc *controllerContext) error
}

// controllers lists what the controller-manager runs, in start order.
func controllers() []controller {
	return []controller{
		{"namespace", startNamespaceController},
	}
}

func startNamespaceController(_ context.Context, cc *controllerContext) error {
	c, err := namespace.New(namespace.Options{
		Client:   cc.Client,
		Metadata: cc.Metadata,
		Informer: cc.Informers.Core().V1().Namespaces(),
		Logger:   cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}
