package server

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/addons"
	"github.com/k1s/k1s/internal/image"
	"github.com/k1s/k1s/internal/pki"
)

// installAddons applies the add-ons once the api-server answers, retrying
// until it succeeds or ctx ends. A cluster whose api-server pods cannot
// reach (advertised on loopback) gets no DNS and no ingress: they would
// only crash-loop.
func installAddons(ctx context.Context, o Options, bundle *pki.Bundle, url string, serviceCIDR netip.Prefix) {
	log := o.Logger.With("component", "addons")
	if len(o.DisableAddons) == len(addons.All) {
		return
	}
	disable := slices.Clone(o.DisableAddons)
	if net.ParseIP(o.AdvertiseAddress).IsLoopback() {
		log.Info("not installing the cluster DNS and the ingress: their pods cannot reach an api-server advertised on loopback; give --advertise-address")
		disable = append(disable, addons.DNS, addons.Ingress)
	}
	client, err := kubernetes.NewForConfig(&rest.Config{
		Host:            url,
		TLSClientConfig: rest.TLSClientConfig{CAData: bundle.CACertPEM, CertData: bundle.AdminCertPEM, KeyData: bundle.AdminKeyPEM},
	})
	if err != nil {
		log.Error("add-ons", "err", err)
		return
	}
	opts := addons.Options{
		Image:           image.SelfImageRef(),
		ClusterDNS:      clusterDNS(serviceCIDR),
		IngressHTTPPort: o.IngressHTTPPort, IngressHTTPSPort: o.IngressHTTPSPort,
		Disable: disable,
	}
	install := func(opts addons.Options) {
		backoff := wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 30 * time.Second}
		_ = wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
			if err := addons.Install(ctx, client, opts); err != nil {
				if ctx.Err() == nil {
					log.Warn("installing the add-ons; will retry", "err", err)
				}
				return false, nil
			}
			log.Info("add-ons installed", "image", opts.Image, "disabled", opts.Disable)
			return true, nil
		})
	}
	if slices.Contains(disable, addons.DNS) {
		install(opts)
		return
	}
	// The DNS Deployment waits for a Ready node: a pod created before any
	// node can run it fails to schedule, and the scheduler's backoff then
	// holds it seconds after the node is ready. Everything else (the
	// StorageClass that claims are defaulted to, the ingress DaemonSet)
	// goes in at once.
	early := opts
	early.Disable = append(slices.Clone(disable), addons.DNS)
	install(early)
	if err := waitReadyNode(ctx, client); err != nil {
		return
	}
	dnsOnly := opts
	dnsOnly.Disable = slices.Clone(disable)
	for _, a := range addons.All {
		if a != addons.DNS {
			dnsOnly.Disable = append(dnsOnly.Disable, a)
		}
	}
	install(dnsOnly)
}

// waitReadyNode returns once some node is Ready, or ctx's error.
func waitReadyNode(ctx context.Context, client kubernetes.Interface) error {
	return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return true, nil
				}
			}
		}
		return false, nil
	})
}
