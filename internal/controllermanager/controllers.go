package controllermanager

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/k1s/k1s/internal/controller/clusterroleaggregation"
	"github.com/k1s/k1s/internal/controller/daemonset"
	"github.com/k1s/k1s/internal/controller/deployment"
	"github.com/k1s/k1s/internal/controller/endpoints"
	"github.com/k1s/k1s/internal/controller/endpointslice"
	"github.com/k1s/k1s/internal/controller/garbagecollector"
	"github.com/k1s/k1s/internal/controller/job"
	"github.com/k1s/k1s/internal/controller/namespace"
	"github.com/k1s/k1s/internal/controller/nodeipam"
	"github.com/k1s/k1s/internal/controller/nodelifecycle"
	"github.com/k1s/k1s/internal/controller/persistentvolume"
	"github.com/k1s/k1s/internal/controller/podgc"
	"github.com/k1s/k1s/internal/controller/pvprotection"
	"github.com/k1s/k1s/internal/controller/replicaset"
	"github.com/k1s/k1s/internal/controller/resourcequota"
	"github.com/k1s/k1s/internal/controller/rootcacert"
	"github.com/k1s/k1s/internal/controller/serviceaccount"
	"github.com/k1s/k1s/internal/controller/statefulset"
)

// controllerContext is what a controller is built from. Informers come
// from the shared factory, which is started after every controller has
// registered its informers.
type controllerContext struct {
	Client    kubernetes.Interface
	Metadata  metadata.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger // tagged with the controller's name
	Options   Options      // as given to Run
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
		{"replicaset", startReplicaSetController},
		{"deployment", startDeploymentController},
		{"daemonset", startDaemonSetController},
		{"statefulset", startStatefulSetController},
		{"job", startJobController},
		{"garbagecollector", startGarbageCollector},
		{"serviceaccount", startServiceAccountController},
		{"root-ca-cert-publisher", startRootCACertPublisher},
		{"podgc", startPodGC},
		{"nodeipam", startNodeIPAMController},
		{"nodelifecycle", startNodeLifecycleController},
		{"endpoints", startEndpointsController},
		{"endpointslice", startEndpointSliceController},
		{"persistentvolume-binder", startPersistentVolumeController},
		{"pvc-protection", startPVCProtectionController},
		{"pv-protection", startPVProtectionController},
		{"resourcequota", startResourceQuotaController},
		{"clusterrole-aggregation", startClusterRoleAggregation},
	}
}

func startResourceQuotaController(_ context.Context, cc *controllerContext) error {
	c, err := resourcequota.New(resourcequota.Options{
		Client:                 cc.Client,
		ResourceQuotas:         cc.Informers.Core().V1().ResourceQuotas(),
		Pods:                   cc.Informers.Core().V1().Pods(),
		Services:               cc.Informers.Core().V1().Services(),
		PersistentVolumeClaims: cc.Informers.Core().V1().PersistentVolumeClaims(),
		ConfigMaps:             cc.Informers.Core().V1().ConfigMaps(),
		Secrets:                cc.Informers.Core().V1().Secrets(),
		Metadata:               cc.Metadata,
		Discovery:              cc.Client.Discovery(),
		Logger:                 cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startClusterRoleAggregation(_ context.Context, cc *controllerContext) error {
	c, err := clusterroleaggregation.New(clusterroleaggregation.Options{
		Client:       cc.Client,
		ClusterRoles: cc.Informers.Rbac().V1().ClusterRoles(),
		Logger:       cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
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

func startGarbageCollector(_ context.Context, cc *controllerContext) error {
	c, err := garbagecollector.New(garbagecollector.Options{
		Metadata:  cc.Metadata,
		Discovery: cc.Client.Discovery(),
		Client:    cc.Client,
		Logger:    cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startServiceAccountController(_ context.Context, cc *controllerContext) error {
	c, err := serviceaccount.New(serviceaccount.Options{
		Client:          cc.Client,
		Namespaces:      cc.Informers.Core().V1().Namespaces(),
		ServiceAccounts: cc.Informers.Core().V1().ServiceAccounts(),
		Logger:          cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

// startRootCACertPublisher publishes the CA of the controller-manager's
// own kubeconfig, the CA that signs the api-server's serving certificate
// (skipped when that kubeconfig carries no CA).
func startRootCACertPublisher(_ context.Context, cc *controllerContext) error {
	ca := cc.Options.Kubeconfig.CAData
	if len(ca) == 0 && cc.Options.Kubeconfig.CAFile != "" {
		b, err := os.ReadFile(cc.Options.Kubeconfig.CAFile)
		if err != nil {
			return fmt.Errorf("root CA: %w", err)
		}
		ca = b
	}
	if len(ca) == 0 {
		cc.Logger.Info("not publishing kube-root-ca.crt: the kubeconfig has no CA")
		return nil
	}
	c, err := rootcacert.New(rootcacert.Options{
		Client:     cc.Client,
		Namespaces: cc.Informers.Core().V1().Namespaces(),
		ConfigMaps: cc.Informers.Core().V1().ConfigMaps(),
		RootCA:     ca,
		Logger:     cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startNodeIPAMController(_ context.Context, cc *controllerContext) error {
	c, err := nodeipam.New(nodeipam.Options{
		Client:      cc.Client,
		Nodes:       cc.Informers.Core().V1().Nodes(),
		ClusterCIDR: cc.Options.ClusterCIDR,
		Logger:      cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startPodGC(_ context.Context, cc *controllerContext) error {
	c, err := podgc.New(podgc.Options{
		Client:                 cc.Client,
		Pods:                   cc.Informers.Core().V1().Pods(),
		Nodes:                  cc.Informers.Core().V1().Nodes(),
		Logger:                 cc.Logger,
		TerminatedPodThreshold: cc.Options.TerminatedPodGCThreshold,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startEndpointsController(_ context.Context, cc *controllerContext) error {
	c, err := endpoints.New(endpoints.Options{
		Client:    cc.Client,
		Services:  cc.Informers.Core().V1().Services(),
		Pods:      cc.Informers.Core().V1().Pods(),
		Endpoints: cc.Informers.Core().V1().Endpoints(),
		Logger:    cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startEndpointSliceController(_ context.Context, cc *controllerContext) error {
	c, err := endpointslice.New(endpointslice.Options{
		Client:         cc.Client,
		Services:       cc.Informers.Core().V1().Services(),
		Pods:           cc.Informers.Core().V1().Pods(),
		EndpointSlices: cc.Informers.Discovery().V1().EndpointSlices(),
		Logger:         cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startReplicaSetController(_ context.Context, cc *controllerContext) error {
	c, err := replicaset.New(replicaset.Options{
		Client:      cc.Client,
		ReplicaSets: cc.Informers.Apps().V1().ReplicaSets(),
		Pods:        cc.Informers.Core().V1().Pods(),
		Logger:      cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startDeploymentController(_ context.Context, cc *controllerContext) error {
	c, err := deployment.New(deployment.Options{
		Client:      cc.Client,
		Deployments: cc.Informers.Apps().V1().Deployments(),
		ReplicaSets: cc.Informers.Apps().V1().ReplicaSets(),
		Pods:        cc.Informers.Core().V1().Pods(),
		Logger:      cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startJobController(_ context.Context, cc *controllerContext) error {
	c, err := job.New(job.Options{
		Client: cc.Client,
		Jobs:   cc.Informers.Batch().V1().Jobs(),
		Pods:   cc.Informers.Core().V1().Pods(),
		Logger: cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startDaemonSetController(_ context.Context, cc *controllerContext) error {
	c, err := daemonset.New(daemonset.Options{
		Client:     cc.Client,
		DaemonSets: cc.Informers.Apps().V1().DaemonSets(),
		Pods:       cc.Informers.Core().V1().Pods(),
		Nodes:      cc.Informers.Core().V1().Nodes(),
		Revisions:  cc.Informers.Apps().V1().ControllerRevisions(),
		Logger:     cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startNodeLifecycleController(_ context.Context, cc *controllerContext) error {
	c, err := nodelifecycle.New(nodelifecycle.Options{
		Client:                   cc.Client,
		Nodes:                    cc.Informers.Core().V1().Nodes(),
		Pods:                     cc.Informers.Core().V1().Pods(),
		Leases:                   cc.Informers.Coordination().V1().Leases(),
		Logger:                   cc.Logger,
		NodeMonitorGracePeriod:   cc.Options.NodeMonitorGracePeriod,
		DefaultTolerationSeconds: cc.Options.DefaultTolerationSeconds,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startStatefulSetController(_ context.Context, cc *controllerContext) error {
	c, err := statefulset.New(statefulset.Options{
		Client:       cc.Client,
		StatefulSets: cc.Informers.Apps().V1().StatefulSets(),
		Pods:         cc.Informers.Core().V1().Pods(),
		Claims:       cc.Informers.Core().V1().PersistentVolumeClaims(),
		Revisions:    cc.Informers.Apps().V1().ControllerRevisions(),
		Logger:       cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startPersistentVolumeController(_ context.Context, cc *controllerContext) error {
	c, err := persistentvolume.New(persistentvolume.Options{
		Client:  cc.Client,
		Volumes: cc.Informers.Core().V1().PersistentVolumes(),
		Claims:  cc.Informers.Core().V1().PersistentVolumeClaims(),
		Classes: cc.Informers.Storage().V1().StorageClasses(),
		Nodes:   cc.Informers.Core().V1().Nodes(),
		Logger:  cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startPVCProtectionController(_ context.Context, cc *controllerContext) error {
	c, err := pvprotection.NewClaimController(pvprotection.ClaimOptions{
		Client: cc.Client,
		Claims: cc.Informers.Core().V1().PersistentVolumeClaims(),
		Pods:   cc.Informers.Core().V1().Pods(),
		Logger: cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}

func startPVProtectionController(_ context.Context, cc *controllerContext) error {
	c, err := pvprotection.NewVolumeController(pvprotection.VolumeOptions{
		Client:  cc.Client,
		Volumes: cc.Informers.Core().V1().PersistentVolumes(),
		Logger:  cc.Logger,
	})
	if err != nil {
		return err
	}
	cc.run(c.Run)
	return nil
}
