package containerd

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/k1s/k1s/internal/atomicfile"
)

// cniConfName is the one network config containerd's CRI loads from the
// conf dir (max_conf_num = 1).
const cniConfName = "10-k1s.conflist"

type cniConflist struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Plugins    []any  `json:"plugins"`
}

type cniBridge struct {
	Type        string  `json:"type"`
	Bridge      string  `json:"bridge"`
	IsGateway   bool    `json:"isGateway"`
	HairpinMode bool    `json:"hairpinMode"`
	IPMasq      bool    `json:"ipMasq"`
	IPAM        cniIPAM `json:"ipam"`
}

type cniIPAM struct {
	Type    string                `json:"type"`
	Ranges  [][]map[string]string `json:"ranges"`
	Routes  []map[string]string   `json:"routes"`
	DataDir string                `json:"dataDir"`
}

type cniPortmap struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
}

// cniConfig renders the pod network for podCIDR: a bridge whose address
// is the subnet's gateway, host-local addresses from podCIDR kept under
// our data dir, and portmap for hostPort. No masquerading: pods reach
// each other and the node, and other nodes route pod CIDRs to their
// peer. The CRI adds the loopback interface itself (it needs the
// loopback plugin in the bin dir, but no config for it).
func (c *Containerd) cniConfig(podCIDR netip.Prefix) ([]byte, error) {
	defaultRoute := "0.0.0.0/0"
	if podCIDR.Addr().Is6() {
		defaultRoute = "::/0"
	}
	conf := cniConflist{
		CNIVersion: "1.0.0",
		Name:       "k1s",
		Plugins: []any{
			cniBridge{
				Type:        "bridge",
				Bridge:      c.opts.BridgeName,
				IsGateway:   true,
				HairpinMode: true,
				IPMasq:      false,
				IPAM: cniIPAM{
					Type:    "host-local",
					Ranges:  [][]map[string]string{{{"subnet": podCIDR.Masked().String()}}},
					Routes:  []map[string]string{{"dst": defaultRoute}},
					DataDir: c.ipamDir(),
				},
			},
			cniPortmap{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// SetPodCIDR writes the CNI config for podCIDR into containerd's CNI conf
// dir (atomically; containerd picks it up without a restart). Pods started
// before keep their addresses.
func (c *Containerd) SetPodCIDR(podCIDR string) error {
	prefix, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return fmt.Errorf("containerd: pod CIDR: %w", err)
	}
	if prefix.Bits() > prefix.Addr().BitLen()-2 {
		return fmt.Errorf("containerd: pod CIDR %s is too small", podCIDR)
	}
	data, err := c.cniConfig(prefix)
	if err != nil {
		return fmt.Errorf("containerd: CNI config: %w", err)
	}
	if err := c.dropStaleBridgeAddrs(prefix); err != nil {
		return fmt.Errorf("containerd: bridge %s: %w", c.opts.BridgeName, err)
	}
	if err := os.MkdirAll(c.cniConfDir(), 0o755); err != nil {
		return fmt.Errorf("containerd: CNI config: %w", err)
	}
	// The temporary file's name does not end in .conflist: containerd's
	// config watcher ignores it.
	if err := atomicfile.Write(filepath.Join(c.cniConfDir(), cniConfName), data, 0o644); err != nil {
		return fmt.Errorf("containerd: CNI config: %w", err)
	}
	return nil
}

// dropStaleBridgeAddrs removes addresses of the pod CIDR's family from a
// bridge left by an earlier cluster (another data dir, another pod CIDR):
// the bridge plugin refuses to configure a bridge that has a different
// gateway address ("already has an IP address different from ...").
func (c *Containerd) dropStaleBridgeAddrs(prefix netip.Prefix) error {
	family := "-4"
	if prefix.Addr().Is6() {
		family = "-6"
	}
	out, err := c.ip(family, "-o", "addr", "show", "dev", c.opts.BridgeName)
	if err != nil {
		return nil // no such bridge yet
	}
	gateway := prefix.Masked().Addr().Next()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" && f[i] != "inet6" {
				continue
			}
			addr, err := netip.ParsePrefix(f[i+1])
			if err != nil || addr.Addr().IsLinkLocalUnicast() {
				continue
			}
			if addr.Addr() == gateway && addr.Bits() == prefix.Bits() {
				continue
			}
			c.opts.Log.Info("removing a stale address from the pod bridge", "bridge", c.opts.BridgeName, "addr", f[i+1], "podCIDR", prefix)
			if _, err := c.ip(family, "addr", "del", f[i+1], "dev", c.opts.BridgeName); err != nil {
				return err
			}
		}
	}
	return nil
}

// ip runs iproute2 in containerd's network namespace.
func (c *Containerd) ip(args ...string) ([]byte, error) {
	name := "ip"
	if c.opts.NetNSPath != "" {
		args = append([]string{"--net=" + c.opts.NetNSPath, "ip"}, args...)
		name = "nsenter"
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}
