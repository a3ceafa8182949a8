package nodeauth

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// IndexPodsByNode is the name of the pod index both the authorizer and
// the admission plugin need on Options.Pods; PodsByNode is its function.
// Register it before the informer starts:
//
//	podInformer.AddIndexers(cache.Indexers{nodeauth.IndexPodsByNode: nodeauth.PodsByNode})
const IndexPodsByNode = "spec.nodeName"

// PodsByNode indexes a pod by the node it is bound to; unbound pods are
// not indexed. It is a cache.IndexFunc.
func PodsByNode(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("nodeauth: indexing %T, want *v1.Pod", obj)
	}
	if pod.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{pod.Spec.NodeName}, nil
}

// podsOn returns the pods bound to node; namespace, if not empty, keeps
// only that namespace's. The pods are the cache's: do not modify them.
func podsOn(pods cache.Indexer, node, namespace string) ([]*corev1.Pod, error) {
	objs, err := pods.ByIndex(IndexPodsByNode, node)
	if err != nil {
		return nil, fmt.Errorf("pods on node %q: %w", node, err)
	}
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && (namespace == "" || p.Namespace == namespace) {
			out = append(out, p)
		}
	}
	return out, nil
}
