// Package controllermanager runs the cluster's controllers in one
// process, like kube-controller-manager: it builds the clients (user agent
// "k1s-controller-manager") and one shared informer factory, starts every
// controller in its list, and supervises them with an errgroup.
//
// Guarantees:
//   - With leader election on, controllers run only while this process
//     holds the Lease kube-system/kube-controller-manager (15s lease, 10s
//     renew deadline, 2s retry). A process that loses the lease stops its
//     controllers and waits for them before it campaigns again; when its
//     context ends it stops them and releases the lease so another process
//     takes over at once.
//   - Run returns nil when its context ends and every controller has
//     stopped; it returns an error if a controller fails to start or
//     fails while running.
//
// It does not serve metrics or health endpoints, and authenticates with
// whatever credentials its rest.Config carries.
package controllermanager
