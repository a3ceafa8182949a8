package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/k1s/k1s/internal/atomicfile"
)

// StateFile is the cluster's description in its data dir.
const StateFile = "cluster.json"

// State describes a cluster `k1s up` made; other commands (down, status,
// demo) read it.
type State struct {
	// Kubeconfig is the admin kubeconfig.
	Kubeconfig string `json:"kubeconfig"`
	// ServerURL is the api-server's address as nodes reach it.
	ServerURL string `json:"serverURL"`
	// IngressHTTPPort is where every node's Ingress listens; on the first
	// node (this machine) that is http://127.0.0.1:PORT.
	IngressHTTPPort  int    `json:"ingressHTTPPort"`
	IngressHTTPSPort int    `json:"ingressHTTPSPort"`
	APIPort          int    `json:"apiPort"`
	Nodes            []Node `json:"nodes"`
}

// Node is one node of the cluster.
type Node struct {
	Name string `json:"name"`
	// Address is the node's InternalIP.
	Address string `json:"address"`
	// NetNS is the node's network namespace ("" for the first node,
	// which is this machine).
	NetNS string `json:"netns,omitempty"`
	// DataDir is the agent's data dir; its containerd's socket is
	// DataDir/containerd/containerd.sock.
	DataDir string `json:"dataDir"`
	// CgroupRoot is the cgroupfs parent of the node's pods.
	CgroupRoot string `json:"cgroupRoot"`
	// PIDFile holds the pid of the process that runs the node's agent
	// (the server's for the first node).
	PIDFile string `json:"pidFile"`
}

// ContainerdSocket is the node's containerd socket.
func (n Node) ContainerdSocket() string {
	return filepath.Join(n.DataDir, "containerd", "containerd.sock")
}

// Load reads dataDir's state; os.ErrNotExist if no cluster was made there.
func Load(dataDir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, StateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no cluster in %s (run k1s up): %w", dataDir, os.ErrNotExist)
		}
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dataDir, StateFile), err)
	}
	return &s, nil
}

func (s *State) save(dataDir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dataDir, StateFile), append(b, '\n'), 0o600)
}
