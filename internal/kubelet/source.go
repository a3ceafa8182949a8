package kubelet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// apiSource reads what volumes and environments reference straight from
// the api-server (a node needs few objects; no cluster-wide informers).
type apiSource struct {
	client kubernetes.Interface
}

func (s *apiSource) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	return s.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

func (s *apiSource) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return s.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (s *apiSource) PersistentVolumeClaim(ctx context.Context, ns, name string) (*corev1.PersistentVolumeClaim, error) {
	return s.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
}

func (s *apiSource) PersistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error) {
	return s.client.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
}

func (s *apiSource) ServiceAccountToken(ctx context.Context, ns, sa string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	return s.client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, req, metav1.CreateOptions{})
}

func (k *Kubelet) envSource() *apiSource { return &apiSource{client: k.client} }

// pullAuth finds credentials for image in the pod's imagePullSecrets
// (kubernetes.io/dockerconfigjson or dockercfg), matching by registry host.
func (k *Kubelet) pullAuth(ctx context.Context, pod *corev1.Pod, image string) *runtimeapi.AuthConfig {
	host := registryHost(image)
	for _, ref := range pod.Spec.ImagePullSecrets {
		sec, err := k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		var auths map[string]dockerAuth
		switch sec.Type {
		case corev1.SecretTypeDockerConfigJson:
			var cfg struct {
				Auths map[string]dockerAuth `json:"auths"`
			}
			if json.Unmarshal(sec.Data[corev1.DockerConfigJsonKey], &cfg) != nil {
				continue
			}
			auths = cfg.Auths
		case corev1.SecretTypeDockercfg:
			if json.Unmarshal(sec.Data[corev1.DockerConfigKey], &auths) != nil {
				continue
			}
		}
		for server, a := range auths {
			s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
			s, _, _ = strings.Cut(s, "/")
			if s == host || (host == "docker.io" && s == "index.docker.io") {
				return a.toCRI(server)
			}
		}
	}
	return nil
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

func (a dockerAuth) toCRI(server string) *runtimeapi.AuthConfig {
	c := &runtimeapi.AuthConfig{Username: a.Username, Password: a.Password, ServerAddress: server}
	if a.Auth != "" && c.Username == "" {
		if b, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
			c.Username, c.Password, _ = strings.Cut(string(b), ":")
		}
	}
	return c
}

// registryHost: "docker.io" for short names, else the first path segment
// when it looks like a host.
func registryHost(image string) string {
	first, _, found := strings.Cut(image, "/")
	if !found || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		return "docker.io"
	}
	return first
}
