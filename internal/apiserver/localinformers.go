package apiserver

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/storage"
)

// localInformers are client-go informers over the api-server's own watch
// caches: the authorizers and admission plugins read roles, bindings, pods,
// quotas and the like from their indexers, without a network round trip
// and without a loopback identity. Objects in them are shared with the
// watch cache: read-only.
type localInformers struct {
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
}

// informer returns the informer of gvr, creating it on first use (before
// Run). It returns nil when gvr is not served.
func (s *Server) informer(gvr schema.GroupVersionResource, indexers cache.Indexers) cache.SharedIndexInformer {
	if inf, ok := s.local.informers[gvr]; ok {
		if len(indexers) > 0 {
			if err := inf.AddIndexers(indexers); err != nil {
				panic(fmt.Sprintf("apiserver: indexers of %s: %v", gvr, err)) // a programming error: names clash
			}
		}
		return inf
	}
	res := s.resources[gvr]
	if res == nil {
		return nil
	}
	if indexers == nil {
		indexers = cache.Indexers{}
	}
	if res.Namespaced {
		indexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}
	inf := cache.NewSharedIndexInformer(storeListWatch(res), res.New(), 0, indexers)
	if s.local.informers == nil {
		s.local.informers = map[schema.GroupVersionResource]cache.SharedIndexInformer{}
	}
	s.local.informers[gvr] = inf
	return inf
}

// indexer returns the indexer of gvr's informer (nil when not served).
func (s *Server) indexer(gvr schema.GroupVersionResource) cache.Indexer {
	inf := s.informer(gvr, nil)
	if inf == nil {
		return nil
	}
	return inf.GetIndexer()
}

// runInformers starts the local informers and waits until they have
// synced (false if ctx ended first).
func (s *Server) runInformers(ctx context.Context) bool {
	var synced []cache.InformerSynced
	for _, inf := range s.local.informers {
		go inf.RunWithContext(ctx)
		synced = append(synced, inf.HasSynced)
	}
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}

// storeListWatch lists and watches every object of res in its watch cache.
func storeListWatch(res *resource) *cache.ListWatch {
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			rv := o.ResourceVersion
			if rv == "" {
				rv = "0" // the cache is as fresh as the informer needs
			}
			return res.store.List(ctx, res.prefix, storage.ListOptions{
				ResourceVersion: rv, ResourceVersionMatch: string(o.ResourceVersionMatch), Recursive: true,
			})
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return res.store.Watch(ctx, res.prefix, storage.ListOptions{
				ResourceVersion: o.ResourceVersion, ResourceVersionMatch: string(o.ResourceVersionMatch),
				Recursive: true, AllowBookmarks: o.AllowWatchBookmarks, SendInitialEvents: o.SendInitialEvents,
			})
		},
	}
}
