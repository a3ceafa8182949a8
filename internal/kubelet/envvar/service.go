package envvar

import (
	"net"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// ServiceEnv returns the Service variables of a pod in namespace, for
// Options.ServiceEnv: those of every Service of the namespace when
// enableServiceLinks (spec.enableServiceLinks, default true), and always
// those of the `kubernetes` Service of `default` (in-cluster clients find
// the api-server through them). A Service of the pod's own namespace
// shadows `default/kubernetes`. Services without a cluster IP (headless,
// ExternalName) or without ports give none.
//
// Per Service NAME (upper-cased, '-' -> '_'), as upstream's kubelet and
// Docker links: NAME_SERVICE_HOST, NAME_SERVICE_PORT (the first port),
// NAME_SERVICE_PORT_<PORTNAME> per named port, NAME_PORT (URL of the first
// port) and per port NAME_PORT_<port>_<PROTO> (URL) with _PROTO, _PORT and
// _ADDR.
func ServiceEnv(services []*v1.Service, namespace string, enableServiceLinks bool) map[string]string {
	chosen := map[string]*v1.Service{}
	for _, s := range services {
		if !hasClusterIP(s) {
			continue
		}
		switch {
		case s.Namespace == namespace && enableServiceLinks:
			chosen[s.Name] = s
		case s.Namespace == v1.NamespaceDefault && s.Name == "kubernetes":
			if _, ok := chosen[s.Name]; !ok {
				chosen[s.Name] = s
			}
		}
	}
	env := map[string]string{}
	for _, s := range chosen {
		addServiceVars(env, s)
	}
	return env
}

func hasClusterIP(s *v1.Service) bool {
	return s.Spec.ClusterIP != "" && s.Spec.ClusterIP != v1.ClusterIPNone && len(s.Spec.Ports) > 0
}

func addServiceVars(env map[string]string, s *v1.Service) {
	prefix := serviceVarName(s.Name)
	ip := s.Spec.ClusterIP
	env[prefix+"_SERVICE_HOST"] = ip
	env[prefix+"_SERVICE_PORT"] = strconv.Itoa(int(s.Spec.Ports[0].Port))
	for i, p := range s.Spec.Ports {
		port := strconv.Itoa(int(p.Port))
		if p.Name != "" {
			env[prefix+"_SERVICE_PORT_"+serviceVarName(p.Name)] = port
		}
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(v1.ProtocolTCP)
		}
		lower := strings.ToLower(proto)
		url := lower + "://" + net.JoinHostPort(ip, port)
		if i == 0 {
			env[prefix+"_PORT"] = url
		}
		pp := prefix + "_PORT_" + port + "_" + strings.ToUpper(proto)
		env[pp] = url
		env[pp+"_PROTO"] = lower
		env[pp+"_PORT"] = port
		env[pp+"_ADDR"] = ip
	}
}

func serviceVarName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}
