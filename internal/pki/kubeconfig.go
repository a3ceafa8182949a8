package pki

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/k1s/k1s/internal/atomicfile"
)

// kubeconfigName names the cluster and context in every kubeconfig we write,
// as k3s does, so `kubectl config use-context default` works everywhere.
const kubeconfigName = "default"

// WriteKubeconfig atomically writes, mode 0600, a kubeconfig for serverURL
// with the CA, client certificate and key embedded (no file references), so
// it can be copied anywhere and used as is by kubectl or client-go. The
// cluster and context are named "default"; the user entry is named user, or
// "default" when user is empty.
func WriteKubeconfig(path, serverURL string, caPEM, certPEM, keyPEM []byte, user string) error {
	if user == "" {
		user = kubeconfigName
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[kubeconfigName] = &clientcmdapi.Cluster{
		Server:                   serverURL,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
	}
	cfg.Contexts[kubeconfigName] = &clientcmdapi.Context{
		Cluster:  kubeconfigName,
		AuthInfo: user,
	}
	cfg.CurrentContext = kubeconfigName

	// clientcmd.WriteToFile writes in place; encode with clientcmd and
	// replace the file atomically instead.
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data, keyMode); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	return nil
}
