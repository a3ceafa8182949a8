package kubelet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// writeHosts writes the file mounted at the pod's /etc/hosts.
func (k *Kubelet) writeHosts(pod *corev1.Pod, podIPs []string) error {
	var data []byte
	if pod.Spec.HostNetwork {
		node, err := os.ReadFile(k.opts.HostsFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("hosts file of a host-network pod: %w", err)
		}
		data = nodeHosts(node, pod.Spec.HostAliases)
	} else {
		data = managedHosts(pod, podIPs, k.opts.ClusterDomain)
	}
	dir := k.podDir(pod.UID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return writeIfChanged(filepath.Join(dir, "etc-hosts"), data, 0o644)
}

// managedHosts is a pod's /etc/hosts, as upstream's kubelet writes it:
// localhost, the pod's IPs with its hostname (with its FQDN first when it
// has a subdomain), then spec.hostAliases.
func managedHosts(pod *corev1.Pod, podIPs []string, domain string) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n" +
		"127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"fe00::0\tip6-mcastprefix\n" +
		"fe00::1\tip6-allnodes\n" +
		"fe00::2\tip6-allrouters\n")
	name := podHostname(pod)
	for _, ip := range podIPs {
		if pod.Spec.Subdomain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, name, pod.Spec.Subdomain, pod.Namespace, domain, name)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, name)
		}
	}
	writeAliases(&b, pod.Spec.HostAliases)
	return []byte(b.String())
}

// nodeHosts is a host-network pod's /etc/hosts: the node's, then
// spec.hostAliases.
func nodeHosts(node []byte, aliases []corev1.HostAlias) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file (host network).\n")
	b.Write(node)
	if len(node) > 0 && node[len(node)-1] != '\n' {
		b.WriteByte('\n')
	}
	writeAliases(&b, aliases)
	return []byte(b.String())
}

func writeAliases(b *strings.Builder, aliases []corev1.HostAlias) {
	if len(aliases) == 0 {
		return
	}
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
}
