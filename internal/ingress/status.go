package ingress

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// syncStatus writes the published addresses into one of our Ingresses'
// status.loadBalancer.ingress, only when they differ.
func (c *Controller) syncStatus(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key we made; nothing to retry
	}
	ing, err := c.ingresses.Ingresses(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get ingress: %w", err)
	}
	classes, err := c.classes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list ingress classes: %w", err)
	}
	if !isOurs(ing, c.o.ClassName, classes) || ing.DeletionTimestamp != nil {
		return nil
	}
	want, err := c.published(ing.Status.LoadBalancer.Ingress)
	if err != nil {
		return err
	}
	if len(want) == 0 || equality.Semantic.DeepEqual(ing.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	ing = ing.DeepCopy()
	ing.Status.LoadBalancer.Ingress = want
	if _, err := c.o.Client.NetworkingV1().Ingresses(ns).UpdateStatus(ctx, ing, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update ingress status: %w", err)
	}
	return nil
}

// published is what the status should hold given what it holds now:
// Options.PublishAddresses as given, or else this node's ExternalIP and
// InternalIP addresses merged with those of other Ready nodes already
// there, so that the controllers of a DaemonSet agree instead of taking
// turns. Empty while this node is unknown.
func (c *Controller) published(current []networkingv1.IngressLoadBalancerIngress) ([]networkingv1.IngressLoadBalancerIngress, error) {
	if len(c.o.PublishAddresses) > 0 {
		return loadBalancerIngress(c.o.PublishAddresses), nil
	}
	if c.nodes == nil {
		return nil, nil
	}
	own, err := c.nodes.Get(c.o.NodeName)
	if apierrors.IsNotFound(err) {
		return nil, nil // published once the node shows up
	}
	if err != nil {
		return nil, fmt.Errorf("get node: %w", err)
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return mergeNodeAddresses(current, nodeAddresses(own), readyNodeAddresses(nodes)), nil
}

// mergeNodeAddresses keeps the current entries that are addresses of
// Ready nodes, adds own, and sorts, so that every node computes the same
// list from the same facts.
func mergeNodeAddresses(current []networkingv1.IngressLoadBalancerIngress, own []string, ready map[string]bool) []networkingv1.IngressLoadBalancerIngress {
	addrs := slices.Clone(own)
	for _, e := range current {
		if e.IP != "" && ready[e.IP] && !slices.Contains(addrs, e.IP) {
			addrs = append(addrs, e.IP)
		}
	}
	out := loadBalancerIngress(addrs)
	slices.SortFunc(out, func(a, b networkingv1.IngressLoadBalancerIngress) int {
		return cmp.Or(cmp.Compare(a.IP, b.IP), cmp.Compare(a.Hostname, b.Hostname))
	})
	return out
}

func loadBalancerIngress(addrs []string) []networkingv1.IngressLoadBalancerIngress {
	var out []networkingv1.IngressLoadBalancerIngress
	for _, a := range addrs {
		if net.ParseIP(a) != nil {
			out = append(out, networkingv1.IngressLoadBalancerIngress{IP: a})
		} else {
			out = append(out, networkingv1.IngressLoadBalancerIngress{Hostname: a})
		}
	}
	return out
}

func readyNodeAddresses(nodes []*corev1.Node) map[string]bool {
	ready := map[string]bool{}
	for _, n := range nodes {
		if !slices.ContainsFunc(n.Status.Conditions, func(c corev1.NodeCondition) bool {
			return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
		}) {
			continue
		}
		for _, a := range nodeAddresses(n) {
			ready[a] = true
		}
	}
	return ready
}

func nodeAddresses(node *corev1.Node) []string {
	var out []string
	for _, typ := range []corev1.NodeAddressType{corev1.NodeExternalIP, corev1.NodeInternalIP} {
		for _, a := range node.Status.Addresses {
			if a.Type == typ && a.Address != "" && !slices.Contains(out, a.Address) {
				out = append(out, a.Address)
			}
		}
	}
	return out
}
