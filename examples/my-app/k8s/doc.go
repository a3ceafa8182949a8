// Package k8s holds my-app's Kubernetes manifests (my-app.yaml), embedded
// so that a k1s binary can deploy the example without its source tree.
//
// The manifests are namespace-less, reference the images
// k1s.local/my-app:latest and k1s.local/my-app-db:latest with
// imagePullPolicy Never (k1s builds and loads them; there is no
// registry), rely on the cluster's default StorageClass and IngressClass,
// and satisfy Pod Security "restricted". The tests check that they decode
// strictly, that their references (selectors, ports, ConfigMap and
// Secret keys, images) agree, and that an api-server accepts them.
package k8s
