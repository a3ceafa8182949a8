package server

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/pki"
	"github.com/k1s/k1s/internal/scheduler"
)

// schedulerCertTTL bounds the scheduler's client certificate; a new one
// is issued at every start.
const schedulerCertTTL = 365 * 24 * time.Hour

// runScheduler runs the scheduler against the local api-server at url
// under its own identity, system:kube-scheduler. Leader election is on
// when etcd is external, the one setup in which several servers may share
// a cluster.
func runScheduler(ctx context.Context, o Options, bundle *pki.Bundle, url string) error {
	cert, key, err := bundle.IssueClientCert("system:kube-scheduler", nil, schedulerCertTTL)
	if err != nil {
		return fmt.Errorf("scheduler credentials: %w", err)
	}
	s, err := scheduler.New(scheduler.Options{
		Kubeconfig: &rest.Config{
			Host:            url,
			TLSClientConfig: rest.TLSClientConfig{CAData: bundle.CACertPEM, CertData: cert, KeyData: key},
		},
		Logger:      o.Logger.With("component", "scheduler"),
		LeaderElect: len(o.EtcdServers) > 0,
	})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
