package kubelet

import (
	"bufio"
	"bytes"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Limits of a resolv.conf, as upstream's kubelet enforces them: glibc
// reads three nameservers; search lists are capped in count and length.
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
)

// dnsConfig is the pod's resolv.conf for the runtime: dnsPolicy applied
// to the node's resolver configuration, then spec.dnsConfig merged in.
func (k *Kubelet) dnsConfig(pod *corev1.Pod) *runtimeapi.DNSConfig {
	return podDNS(pod, k.opts.ClusterDNS, k.opts.ClusterDomain, k.hostDNS())
}

// hostDNS reads the node's resolver configuration (Options.ResolvConf).
// Without one, pods using it resolve through 127.0.0.1 only, like
// upstream's kubelet with --resolv-conf="".
func (k *Kubelet) hostDNS() *runtimeapi.DNSConfig {
	if k.opts.ResolvConf == "-" {
		return &runtimeapi.DNSConfig{Servers: []string{"127.0.0.1"}, Searches: []string{"."}}
	}
	data, err := os.ReadFile(k.opts.ResolvConf)
	if err != nil {
		k.log.Debug("reading the node's resolv.conf", "path", k.opts.ResolvConf, "err", err)
		return &runtimeapi.DNSConfig{}
	}
	return parseResolvConf(data)
}

// parseResolvConf reads nameserver, search (the last line wins) and
// options lines; the rest (domain, sortlist, comments) is ignored, as
// upstream does.
func parseResolvConf(data []byte) *runtimeapi.DNSConfig {
	cfg := &runtimeapi.DNSConfig{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			cfg.Servers = append(cfg.Servers, f[1])
		case "search":
			cfg.Searches = nil
			for _, s := range f[1:] {
				if s != "." {
					cfg.Searches = append(cfg.Searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			cfg.Options = mergeOptions(cfg.Options, f[1:])
		}
	}
	return cfg
}

// podDNS applies dnsPolicy: ClusterFirst (the default) and
// ClusterFirstWithHostNet use the cluster DNS with the namespace's search
// path before the node's and ndots:5; ClusterFirst of a hostNetwork pod,
// and ClusterFirst without a cluster DNS, fall back to Default, the node's
// configuration; None starts empty. spec.dnsConfig is then appended:
// nameservers and searches without duplicates, options by name (the pod's
// value wins).
func podDNS(pod *corev1.Pod, clusterDNS []string, domain string, host *runtimeapi.DNSConfig) *runtimeapi.DNSConfig {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = corev1.DNSDefault
	}
	if (policy == corev1.DNSClusterFirst || policy == corev1.DNSClusterFirstWithHostNet) && len(clusterDNS) == 0 {
		policy = corev1.DNSDefault
	}
	cfg := &runtimeapi.DNSConfig{}
	switch policy {
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		cfg.Servers = slices.Clone(clusterDNS)
		if domain != "" {
			cfg.Searches = []string{pod.Namespace + ".svc." + domain, "svc." + domain, domain}
		}
		cfg.Searches = dedup(append(cfg.Searches, host.GetSearches()...))
		cfg.Options = []string{"ndots:5"}
	case corev1.DNSDefault:
		cfg.Servers = slices.Clone(host.GetServers())
		cfg.Searches = slices.Clone(host.GetSearches())
		cfg.Options = slices.Clone(host.GetOptions())
	}
	if pdc := pod.Spec.DNSConfig; pdc != nil {
		cfg.Servers = dedup(append(cfg.Servers, pdc.Nameservers...))
		cfg.Searches = dedup(append(cfg.Searches, pdc.Searches...))
		var opts []string
		for _, o := range pdc.Options {
			if o.Value != nil {
				opts = append(opts, o.Name+":"+*o.Value)
			} else {
				opts = append(opts, o.Name)
			}
		}
		cfg.Options = mergeOptions(cfg.Options, opts)
	}
	if len(cfg.Servers) > maxDNSNameservers {
		cfg.Servers = cfg.Servers[:maxDNSNameservers]
	}
	cfg.Searches = fitSearches(cfg.Searches)
	return cfg
}

// mergeOptions adds options ("name" or "name:value") to opts: a name seen
// before takes the new value in its old place.
func mergeOptions(opts, add []string) []string {
	out := slices.Clone(opts)
	for _, a := range add {
		name, _, _ := strings.Cut(a, ":")
		i := slices.IndexFunc(out, func(o string) bool {
			n, _, _ := strings.Cut(o, ":")
			return n == name
		})
		if i >= 0 {
			out[i] = a
		} else {
			out = append(out, a)
		}
	}
	return out
}

// dedup drops repeated entries, keeping the first.
func dedup(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// fitSearches cuts the search list to the resolver's limits.
func fitSearches(s []string) []string {
	if len(s) > maxDNSSearchPaths {
		s = s[:maxDNSSearchPaths]
	}
	for len(s) > 0 && len(strings.Join(s, " ")) > maxDNSSearchListChars {
		s = s[:len(s)-1]
	}
	return s
}
