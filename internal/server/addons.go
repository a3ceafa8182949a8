package server

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

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
	backoff := wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 30 * time.Second}
	_ = wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		if err := addons.Install(ctx, client, opts); err != nil {
			if ctx.Err() == nil {
				log.Warn("installing the add-ons; will retry", "err", err)
			}
			return false, nil
		}
		log.Info("add-ons installed", "image", opts.Image, "disabled", disable)
		return true, nil
	})
}
