package containerd

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
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
	if err := writeFileAtomic(filepath.Join(c.cniConfDir(), cniConfName), data); err != nil {
		return fmt.Errorf("containerd: CNI config: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data through a rename, so readers
// never see a partial file. The temporary name does not end in .conflist,
// so containerd's config watcher ignores it.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
