package server

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controllermanager"
	"github.com/k1s/k1s/internal/pki"
)

// controllerManagerCertTTL bounds the controller-manager's client
// certificate; a new one is issued at every start.
const controllerManagerCertTTL = 365 * 24 * time.Hour

// runControllerManager runs the controller-manager against the local
// api-server at url under its own identity, system:kube-controller-manager.
// Leader election is on when etcd is external, the one setup in which
// several servers may share a cluster.
func runControllerManager(ctx context.Context, o Options, bundle *pki.Bundle, url string) error {
	cert, key, err := bundle.IssueClientCert("system:kube-controller-manager", nil, controllerManagerCertTTL)
	if err != nil {
		return fmt.Errorf("controller-manager credentials: %w", err)
	}
	return controllermanager.Run(ctx, controllermanager.Options{
		Kubeconfig: &rest.Config{
			Host:            url,
			TLSClientConfig: rest.TLSClientConfig{CAData: bundle.CACertPEM, CertData: cert, KeyData: key},
		},
		Logger:      o.Logger.With("component", "controller-manager"),
		LeaderElect: len(o.EtcdServers) > 0,
		// Zero means the controller-manager's default.
		NodeMonitorGracePeriod:   o.NodeMonitorGracePeriod,
		DefaultTolerationSeconds: o.DefaultTolerationSeconds,
		ClusterCIDR:              o.ClusterCIDR,
	})
}
