package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/agent"
	"github.com/k1s/k1s/internal/apiserver"
	"github.com/k1s/k1s/internal/pki"
)

// runAgent runs this machine's own node against the local api-server, as
// system:node:NAME in system:nodes, with its state under DATA_DIR/agent.
func runAgent(ctx context.Context, o Options, bundle *pki.Bundle, url string, waitAPI func(context.Context) error) error {
	name := o.NodeName
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("agent: no hostname: %w", err)
		}
		name = h
	}
	ao := o.Agent
	identity := func(user string, groups ...string) (*rest.Config, error) {
		cert, key, err := bundle.IssueClientCert(user, groups, 365*24*time.Hour)
		if err != nil {
			return nil, fmt.Errorf("agent credentials: %w", err)
		}
		return &rest.Config{Host: url, TLSClientConfig: rest.TLSClientConfig{CAData: bundle.CACertPEM, CertData: cert, KeyData: key}}, nil
	}
	var err error
	if ao.Config, err = identity("system:node:"+name, "system:nodes"); err != nil {
		return err
	}
	if ao.ProxyConfig, err = identity(apiserver.KubeProxyUser); err != nil {
		return err
	}
	if ao.ProvisionerConfig, err = identity(apiserver.LocalPathProvisionerUser); err != nil {
		return err
	}
	ao.NodeName = name
	if ao.NodeIP == "" && !(net.ParseIP(o.BindAddress).IsUnspecified() && net.ParseIP(o.AdvertiseAddress).IsLoopback()) {
		// The node advertises (and its kubelet listens on) the address
		// the api-server is reached at: on a loopback server, loopback.
		// A server on all interfaces without an advertised address
		// leaves the choice to the agent (its first non-loopback address).
		ao.NodeIP = o.AdvertiseAddress
	}
	if ao.ClusterCIDR == "" {
		ao.ClusterCIDR = o.ClusterCIDR
	}
	if len(ao.ClusterDNS) == 0 {
		if p, err := netip.ParsePrefix(o.ServiceCIDR); err == nil {
			ao.ClusterDNS = []string{clusterDNS(p).String()}
		}
	}
	if ao.DataDir == "" {
		ao.DataDir = filepath.Join(o.DataDir, "agent")
	}
	ao.Log = o.Logger.With("component", "agent")
	ao.WaitAPI = waitAPI
	return agent.Run(ctx, ao)
}

// AgentOptions are the node agent's settings `k1s server` passes on
// (Config, NodeName and Log are filled in by the server).
type AgentOptions = agent.Options
