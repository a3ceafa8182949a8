// Package scheme builds the runtime.Scheme and codecs for every API group
// k1s serves. It holds no globals: callers build one with New and pass it down.
package scheme

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// Scheme bundles a scheme with its codec factory.
type Scheme struct {
	*runtime.Scheme
	Codecs serializer.CodecFactory
}

// New returns a scheme with every built-in group k1s knows.
func New() *Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		networkingv1.AddToScheme, discoveryv1.AddToScheme, coordinationv1.AddToScheme,
		storagev1.AddToScheme, eventsv1.AddToScheme, rbacv1.AddToScheme,
		policyv1.AddToScheme, autoscalingv1.AddToScheme, authenticationv1.AddToScheme,
		authorizationv1.AddToScheme, admissionregistrationv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err) // programming error: the k8s.io/api groups always register
		}
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	metav1.AddToGroupVersion(s, metav1.SchemeGroupVersion)
	metav1.AddMetaToScheme(s)
	return &Scheme{Scheme: s, Codecs: serializer.NewCodecFactory(s)}
}
