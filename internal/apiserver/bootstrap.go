package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// systemNamespaces exist in every cluster; the api-server creates them.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// bootstrap creates the objects every cluster has. It is idempotent: on a
// restart existing objects are left alone.
func (s *Server) bootstrap(ctx context.Context) error {
	nsRes := s.resources[schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}]
	if nsRes == nil {
		return nil
	}
	for _, name := range systemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		if _, err := s.createObject(ctx, nsRes, "", ns, false); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
	}
	if err := s.bootstrapRBAC(ctx); err != nil {
		return err
	}
	if s.cfg.KubernetesService != nil {
		if err := s.bootstrapKubernetesService(ctx, *s.cfg.KubernetesService); err != nil {
			return err
		}
	}
	return nil
}

// KubernetesService describes the default/kubernetes Service through which
// pods reach the api-server.
type KubernetesService struct {
	ClusterIP string // the first IP of the service range
	Address   string // where the api-server is reachable
	Port      int
}

// bootstrapKubernetesService creates default/kubernetes and points its
// Endpoints and EndpointSlice at this api-server.
func (s *Server) bootstrapKubernetesService(ctx context.Context, k KubernetesService) error {
	svcRes := s.resources[schema.GroupVersionResource{Version: "v1", Resource: "services"}]
	if svcRes == nil {
		return nil
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: k.ClusterIP,
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(int32(k.Port))}},
		},
	}
	svc.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Service"))
	if _, err := s.createObject(ctx, svcRes, metav1.NamespaceDefault, svc, false); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the kubernetes service: %w", err)
	}
	epRes := s.resources[schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}]
	if epRes == nil {
		return nil
	}
	subsets := []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: k.Address}},
		Ports:     []corev1.EndpointPort{{Name: "https", Port: int32(k.Port), Protocol: corev1.ProtocolTCP}},
	}}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
		Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}}, Subsets: subsets}
	ep.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Endpoints"))
	_, err := s.createObject(ctx, epRes, metav1.NamespaceDefault, ep, false)
	if apierrors.IsAlreadyExists(err) {
		_, err = s.updateObject(ctx, epRes, requestInfo{Namespace: metav1.NamespaceDefault, Name: "kubernetes", Manager: "k1s-apiserver"}, false,
			func(cur runtime.Object) (runtime.Object, error) {
				cur.(*corev1.Endpoints).Subsets = subsets
				return cur, nil
			})
	}
	if err != nil {
		return fmt.Errorf("writing the kubernetes endpoints: %w", err)
	}
	sliceRes := s.resources[schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}]
	if sliceRes == nil {
		return nil
	}
	ready := true
	port, name, proto := int32(k.Port), "https", corev1.ProtocolTCP
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "k1s-apiserver"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{k.Address}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	slice.SetGroupVersionKind(discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"))
	_, err = s.createObject(ctx, sliceRes, metav1.NamespaceDefault, slice, false)
	if apierrors.IsAlreadyExists(err) {
		_, err = s.updateObject(ctx, sliceRes, requestInfo{Namespace: metav1.NamespaceDefault, Name: "kubernetes", Manager: "k1s-apiserver"}, false,
			func(cur runtime.Object) (runtime.Object, error) {
				cs := cur.(*discoveryv1.EndpointSlice)
				cs.Endpoints, cs.Ports = slice.Endpoints, slice.Ports
				return cs, nil
			})
	}
	if err != nil {
		return fmt.Errorf("writing the kubernetes endpointslice: %w", err)
	}
	return nil
}
