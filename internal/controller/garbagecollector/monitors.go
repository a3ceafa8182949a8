package garbagecollector

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// monitors are the metadata informers of the watched resources; their
// handlers only queue the key of what changed.
type monitors struct {
	client  metadata.Interface
	changes workqueue.TypedInterface[change]

	mu      sync.RWMutex
	stopped bool
	byGVR   map[schema.GroupVersionResource]*monitor
}

type monitor struct {
	info     resourceInfo
	informer cache.SharedIndexInformer
	cancel   context.CancelFunc
}

func newMonitors(client metadata.Interface, changes workqueue.TypedInterface[change]) *monitors {
	return &monitors{client: client, changes: changes, byGVR: map[schema.GroupVersionResource]*monitor{}}
}

// sync watches what res says should be watched: new resources get an
// informer, resources gone from discovery lose theirs (except in groups
// discovery failed to read) and their objects are forgotten.
func (m *monitors) sync(ctx context.Context, res *resources) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	for gvr, mon := range m.byGVR {
		if _, ok := res.watched[gvr]; ok || res.failedGroups[gvr.Group] {
			continue
		}
		keys := mon.informer.GetStore().ListKeys()
		mon.cancel()
		delete(m.byGVR, gvr)
		for _, k := range keys {
			m.changes.Add(change{key: keyOf(gvr, k)})
		}
	}
	for gvr, info := range res.watched {
		if _, ok := m.byGVR[gvr]; ok {
			continue
		}
		m.byGVR[gvr] = m.start(ctx, info)
	}
}

func (m *monitors) start(ctx context.Context, info resourceInfo) *monitor {
	inf := metadatainformer.NewFilteredMetadataInformer(m.client, info.gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
	// The graph needs uid, owners, finalizers and deletion: drop the
	// bulky rest before it is cached.
	_ = inf.SetTransform(func(obj any) (any, error) {
		if p, ok := obj.(*metav1.PartialObjectMetadata); ok {
			p.ManagedFields, p.Annotations, p.Labels = nil, nil, nil
		}
		return obj, nil
	})
	enqueue := func(obj any) {
		k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err == nil {
			m.changes.Add(change{key: keyOf(info.gvr, k)})
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	})
	mctx, cancel := context.WithCancel(ctx)
	go inf.RunWithContext(mctx)
	return &monitor{info: info, informer: inf, cancel: cancel}
}

func keyOf(gvr schema.GroupVersionResource, key string) objectKey {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	return objectKey{resource: gvr, namespace: ns, name: name}
}

// get returns the object at key as its informer holds it, and its kind;
// ok is false if it holds none, or the resource is no longer watched.
func (m *monitors) get(key objectKey) (obj *metav1.PartialObjectMetadata, gvk schema.GroupVersionKind, ok bool) {
	m.mu.RLock()
	mon := m.byGVR[key.resource]
	m.mu.RUnlock()
	if mon == nil {
		return nil, gvk, false
	}
	k := key.name
	if key.namespace != "" {
		k = key.namespace + "/" + key.name
	}
	item, exists, err := mon.informer.GetStore().GetByKey(k)
	if err != nil || !exists {
		return nil, gvk, false
	}
	obj, ok = item.(*metav1.PartialObjectMetadata)
	return obj, mon.info.gvk, ok
}

// hasSynced reports whether every informer has listed its resource.
func (m *monitors) hasSynced() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, mon := range m.byGVR {
		if !mon.informer.HasSynced() {
			return false
		}
	}
	return true
}

// stopAll stops every informer; later syncs start none.
func (m *monitors) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopped = true
	for gvr, mon := range m.byGVR {
		mon.cancel()
		delete(m.byGVR, gvr)
	}
}
