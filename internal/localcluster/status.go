package localcluster

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Status writes the health of the cluster in dataDir: its processes, the
// api-server's checks, the nodes and the add-ons. It returns an error when
// something is not healthy.
func Status(ctx context.Context, dataDir string, out io.Writer) error {
	dataDir, err := clusterDir(dataDir)
	if err != nil {
		return err
	}
	st, err := Load(dataDir)
	if err != nil {
		return err
	}
	var bad []string
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "COMPONENT\tSTATE\tDETAIL")
	row := func(name string, ok bool, detail string) {
		state := "ok"
		if !ok {
			state = "DOWN"
			bad = append(bad, name)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", name, state, detail)
	}
	_, serverUp := running(st.Nodes[0].PIDFile, serverDir(dataDir))
	row("server (etcd, api-server, scheduler, controller-manager)", serverUp, st.ServerURL)
	for _, n := range st.Nodes[1:] {
		_, up := running(n.PIDFile, n.DataDir)
		row("agent "+n.Name, up, "netns "+n.NetNS)
	}
	var client kubernetes.Interface
	if serverUp {
		cfg, err := clientcmd.BuildConfigFromFlags("", st.Kubeconfig)
		if err == nil {
			cfg.Timeout = 5 * time.Second
			client, err = kubernetes.NewForConfig(cfg)
		}
		if err != nil {
			row("api-server", false, err.Error())
		}
	}
	if client != nil {
		for _, check := range []string{"/livez", "/readyz"} {
			_, err := client.Discovery().RESTClient().Get().AbsPath(check).DoRaw(ctx)
			row("api-server "+check, err == nil, errText(err))
		}
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			row("nodes", false, err.Error())
		} else {
			for _, n := range nodes.Items {
				ready, why := false, "no Ready condition"
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady {
						ready, why = c.Status == corev1.ConditionTrue, c.Reason
					}
				}
				row("node "+n.Name, ready, internalIP(&n)+" "+why)
			}
		}
		if d, err := client.AppsV1().Deployments("kube-system").Get(ctx, "k1s-dns", metav1.GetOptions{}); err != nil {
			row("add-on dns", false, err.Error())
		} else {
			row("add-on dns", available(d), fmt.Sprintf("%d/%d ready", d.Status.ReadyReplicas, d.Status.Replicas))
		}
		if ds, err := client.AppsV1().DaemonSets("kube-system").Get(ctx, "k1s-ingress", metav1.GetOptions{}); err != nil {
			row("add-on ingress", false, err.Error())
		} else {
			row("add-on ingress", ds.Status.NumberReady == ds.Status.DesiredNumberScheduled && ds.Status.NumberReady > 0,
				fmt.Sprintf("%d/%d ready, http://127.0.0.1:%d", ds.Status.NumberReady, ds.Status.DesiredNumberScheduled, st.IngressHTTPPort))
		}
		_, err = client.StorageV1().StorageClasses().Get(ctx, "local-path", metav1.GetOptions{})
		row("add-on local-path storage", err == nil, errText(err))
	}
	w.Flush()
	fmt.Fprintf(out, "\nkubeconfig: %s\n", st.Kubeconfig)
	if len(bad) > 0 {
		return fmt.Errorf("not healthy: %s", strings.Join(bad, ", "))
	}
	return nil
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
