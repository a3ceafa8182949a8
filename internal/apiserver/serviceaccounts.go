package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/k1s/k1s/internal/admission"
	"github.com/k1s/k1s/internal/satoken"
	"github.com/k1s/k1s/internal/storage"
)

// Token lifetimes, as upstream: at least ten minutes, at most
// --service-account-max-token-expiration (k1s: a year), one hour when a
// request does not say.
const (
	minTokenExpiration     = 10 * time.Minute
	maxTokenExpiration     = 365 * 24 * time.Hour
	defaultTokenExpiration = time.Hour
	// The kubelet's projected token: upstream's 3607 s, a value the
	// api-server recognises as "the default volume".
	podTokenExpirationSeconds = 3607
	// ServiceAccountMountPath is where pods find their API credentials.
	ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	rootCAConfigMap         = "kube-root-ca.crt"
)

var (
	gvrServiceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	gvrPods            = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrSecrets         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrNodes           = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	gvrResourceQuotas  = schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}
	gvrRoles           = rbacv1.SchemeGroupVersion.WithResource("roles")
	gvrClusterRoles    = rbacv1.SchemeGroupVersion.WithResource("clusterroles")
)

// audiences are the audiences tokens are issued for by default and the
// ones the api-server accepts.
func (s *Server) audiences() []string {
	if len(s.cfg.APIAudiences) > 0 {
		return s.cfg.APIAudiences
	}
	return []string{s.cfg.ServiceAccountIssuer.URL()}
}

// handleTokenRequest serves create serviceaccounts/NAME/token: a signed
// token for the service account, optionally bound to a pod, secret or
// node, which it stops being valid with.
func (s *Server) handleTokenRequest(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	if s.cfg.ServiceAccountIssuer == nil {
		return apierrors.NewServiceUnavailable("this api-server issues no service account tokens (no service account key)")
	}
	gvk := authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
	out, obj, err := s.decodeSubresourceRequest(r, res, &authenticationv1.TokenRequest{}, gvk)
	if err != nil {
		return err
	}
	tr := obj.(*authenticationv1.TokenRequest)
	gk := gvk.GroupKind()
	if tr.Name != "" && tr.Name != info.Name {
		return apierrors.NewBadRequest("the name of the TokenRequest does not match the service account on the URL")
	}
	ctx := r.Context()
	sa, err := s.getCached(ctx, gvrServiceAccounts, info.Namespace, info.Name)
	if err != nil {
		return err
	}
	serviceAccount := sa.(*corev1.ServiceAccount)
	if tr.Namespace == "" {
		tr.Namespace = info.Namespace
	}
	if err := s.validateAdmission(ctx, s.admissionAttributes(ctx, admission.Create, res, "token", tr, serviceAccount, false)); err != nil {
		return err
	}

	expiration := defaultTokenExpiration
	if tr.Spec.ExpirationSeconds != nil {
		expiration = time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	}
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	if expiration < minTokenExpiration {
		errs = append(errs, field.Invalid(specPath.Child("expirationSeconds"), int64(expiration/time.Second), "may not specify a duration less than 10 minutes"))
	}
	if expiration > maxTokenExpiration {
		errs = append(errs, field.Invalid(specPath.Child("expirationSeconds"), int64(expiration/time.Second), "may not specify a duration larger than 2^32 seconds or a year"))
	}
	auds := tr.Spec.Audiences
	if len(auds) == 0 {
		auds = s.audiences()
	}
	claims := satoken.Claims{
		Subject:  satoken.UserName(serviceAccount.Namespace, serviceAccount.Name),
		Audience: auds,
		Kubernetes: satoken.KubernetesClaims{
			Namespace:      serviceAccount.Namespace,
			ServiceAccount: satoken.Ref{Name: serviceAccount.Name, UID: string(serviceAccount.UID)},
		},
	}
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		refPath := specPath.Child("boundObjectRef")
		var gvr schema.GroupVersionResource
		ns := info.Namespace
		switch {
		case ref.Kind == "Pod" && (ref.APIVersion == "v1" || ref.APIVersion == ""):
			gvr = gvrPods
		case ref.Kind == "Secret" && (ref.APIVersion == "v1" || ref.APIVersion == ""):
			gvr = gvrSecrets
		case ref.Kind == "Node" && (ref.APIVersion == "v1" || ref.APIVersion == ""):
			gvr, ns = gvrNodes, ""
		default:
			errs = append(errs, field.NotSupported(refPath.Child("kind"), ref.Kind, []string{"Pod", "Secret", "Node"}))
		}
		if len(errs) == 0 {
			if ref.Name == "" {
				errs = append(errs, field.Required(refPath.Child("name"), ""))
			} else {
				bound, err := s.getCached(ctx, gvr, ns, ref.Name)
				if err != nil {
					return err
				}
				m, _ := metaOf(bound)
				if ref.UID != "" && ref.UID != m.GetUID() {
					return apierrors.NewConflict(schema.GroupResource{Resource: gvr.Resource}, ref.Name,
						fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record (%s); the object might have been deleted and recreated", ref.UID, m.GetUID()))
				}
				r := &satoken.Ref{Name: m.GetName(), UID: string(m.GetUID())}
				switch ref.Kind {
				case "Pod":
					claims.Kubernetes.Pod = r
					if pod := bound.(*corev1.Pod); pod.Spec.NodeName != "" {
						claims.Kubernetes.Node = &satoken.Ref{Name: pod.Spec.NodeName}
					}
				case "Secret":
					claims.Kubernetes.Secret = r
				case "Node":
					claims.Kubernetes.Node = r
				}
			}
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(gk, info.Name, errs)
	}
	exp := time.Now().Add(expiration)
	claims.Expiry = exp.Unix()
	token, err := s.cfg.ServiceAccountIssuer.Issue(claims)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	tr.Name, tr.Namespace = info.Name, info.Namespace
	tr.CreationTimestamp = metav1.Now()
	secs := int64(expiration / time.Second)
	tr.Spec.ExpirationSeconds = &secs
	tr.Spec.Audiences = auds
	tr.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(exp)}
	s.writeObject(w, r, out, http.StatusCreated, tr)
	return nil
}

// getCached reads an object from the watch cache (any recent state will
// do: this is for admission and authentication lookups), and from etcd
// when the cache does not have it yet (an object created a moment ago).
func (s *Server) getCached(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (runtime.Object, error) {
	res := s.resources[gvr]
	if res == nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("%s are not served", gvr.Resource))
	}
	obj, err := res.store.Get(ctx, res.key(namespace, name), storage.GetOptions{ResourceVersion: "0"})
	if storage.IsNotFound(err) {
		obj, err = res.store.Get(ctx, res.key(namespace, name), storage.GetOptions{})
	}
	if err != nil {
		return nil, toAPIError(err, res.gr, name)
	}
	return obj, nil
}

// authenticateServiceAccount checks a bearer token issued by this
// cluster: signature, audience and lifetime, and that the service
// account and the object the token is bound to still exist with the UIDs
// the token names (a deleted pod's token stops working).
// It returns the token's claims too (TokenReview reports its audiences).
func (s *Server) authenticateServiceAccount(ctx context.Context, token string, audiences []string) (User, *satoken.Claims, error) {
	c, err := s.cfg.ServiceAccountIssuer.Verify(token, audiences)
	if err != nil {
		return User{}, nil, err
	}
	k := c.Kubernetes
	for _, b := range []struct {
		gvr schema.GroupVersionResource
		ns  string
		ref *satoken.Ref
	}{
		{gvrServiceAccounts, k.Namespace, &k.ServiceAccount},
		{gvrPods, k.Namespace, k.Pod},
		{gvrSecrets, k.Namespace, k.Secret},
		{gvrNodes, "", k.Node},
	} {
		if b.ref == nil {
			continue
		}
		obj, err := s.getCached(ctx, b.gvr, b.ns, b.ref.Name)
		if err != nil {
			return User{}, nil, fmt.Errorf("%w: %s %s/%s is gone", satoken.ErrInvalid, b.gvr.Resource, b.ns, b.ref.Name)
		}
		m, err := metaOf(obj)
		if err != nil || (b.ref.UID != "" && string(m.GetUID()) != b.ref.UID) {
			return User{}, nil, fmt.Errorf("%w: %s %s/%s was recreated", satoken.ErrInvalid, b.gvr.Resource, b.ns, b.ref.Name)
		}
	}
	u := User{
		Name:   c.Subject,
		UID:    k.ServiceAccount.UID,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + k.Namespace, "system:authenticated"},
	}
	if k.Pod != nil {
		u.Extra = map[string][]string{
			"authentication.kubernetes.io/pod-name": {k.Pod.Name},
			"authentication.kubernetes.io/pod-uid":  {k.Pod.UID},
		}
	}
	return u, c, nil
}

// admitPodServiceAccount is upstream's ServiceAccount admission for a new
// pod: the service account defaults to "default", and unless automounting
// is turned off (on the pod, or on its service account) every container
// gets the kube-api-access projected volume (a bound token, the cluster's
// CA and the namespace) at ServiceAccountMountPath.
func (s *Server) admitPodServiceAccount(ctx context.Context, pod *corev1.Pod) {
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	if s.cfg.ServiceAccountIssuer == nil {
		return
	}
	automount := pod.Spec.AutomountServiceAccountToken
	if automount == nil {
		if sa, err := s.getCached(ctx, gvrServiceAccounts, pod.Namespace, pod.Spec.ServiceAccountName); err == nil {
			automount = sa.(*corev1.ServiceAccount).AutomountServiceAccountToken
		}
	}
	if automount != nil && !*automount {
		return
	}
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			return
		}
	}
	name := "kube-api-access-" + rand.String(5)
	expiration := int64(podTokenExpirationSeconds)
	mode := int32(0o644)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{DefaultMode: &mode, Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &expiration}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		}},
	}})
	mount := func(cs []corev1.Container) {
		for i := range cs {
			mounted := false
			for _, m := range cs[i].VolumeMounts {
				if m.MountPath == ServiceAccountMountPath {
					mounted = true
				}
			}
			if !mounted {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: ServiceAccountMountPath})
			}
		}
	}
	mount(pod.Spec.InitContainers)
	mount(pod.Spec.Containers)
}
