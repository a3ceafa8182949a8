package rootcacert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/worker"
)

// Name is the ConfigMap every namespace gets.
const Name = "kube-root-ca.crt"

// description is upstream's annotation on the ConfigMap.
const description = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
	"No other usage is guaranteed across distributions of Kubernetes clusters."

// Options configure a Controller.
type Options struct {
	Client     kubernetes.Interface            // required
	Namespaces coreinformers.NamespaceInformer // required
	ConfigMaps coreinformers.ConfigMapInformer // required
	// RootCA is the PEM bundle published. Required.
	RootCA []byte
	Logger *slog.Logger
}

// Controller publishes the root CA into every namespace.
type Controller struct {
	client   kubernetes.Interface
	nsLister corelisters.NamespaceLister
	cmLister corelisters.ConfigMapLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string] // namespace names
	rootCA   string
	log      *slog.Logger
}

// New registers the controller's handlers on the informers.
func New(o Options) (*Controller, error) {
	switch {
	case o.Client == nil || o.Namespaces == nil || o.ConfigMaps == nil:
		return nil, errors.New("rootcacert controller: Client, Namespaces and ConfigMaps are required")
	case len(o.RootCA) == 0:
		return nil, errors.New("rootcacert controller: no root CA to publish")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Controller{
		client:   o.Client,
		nsLister: o.Namespaces.Lister(),
		cmLister: o.ConfigMaps.Lister(),
		synced:   []cache.InformerSynced{o.Namespaces.Informer().HasSynced, o.ConfigMaps.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 100*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "root_ca_cert_publisher"}),
		rootCA: string(o.RootCA),
		log:    o.Logger,
	}
	addNS := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			c.queue.Add(ns.Name)
		}
	}
	if _, err := o.Namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    addNS,
		UpdateFunc: func(_, obj any) { addNS(obj) },
	}); err != nil {
		return nil, fmt.Errorf("rootcacert controller: %w", err)
	}
	addCM := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Name == Name {
			c.queue.Add(cm.Namespace)
		}
	}
	if _, err := o.ConfigMaps.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { addCM(obj) },
		DeleteFunc: addCM,
	}); err != nil {
		return nil, fmt.Errorf("rootcacert controller: %w", err)
	}
	return c, nil
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	worker.Run(ctx, 1, c.queue, worker.Next(c.queue, c.sync, c.log, "namespace"))
	return nil
}

func (c *Controller) sync(ctx context.Context, namespace string) error {
	ns, err := c.nsLister.Get(namespace)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	data := map[string]string{"ca.crt": c.rootCA}
	cm, err := c.cmLister.ConfigMaps(namespace).Get(Name)
	switch {
	case apierrors.IsNotFound(err):
		_, err = c.client.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: namespace,
				Annotations: map[string]string{"kubernetes.io/description": description}},
			Data: data,
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err) ||
			apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return err
	case err != nil:
		return err
	}
	if cm.Data["ca.crt"] == c.rootCA && len(cm.Data) == 1 && len(cm.BinaryData) == 0 {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data, cm.BinaryData = data, nil
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations["kubernetes.io/description"] = description
	_, err = c.client.CoreV1().ConfigMaps(namespace).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		c.queue.Add(namespace) // look again with a fresher cache
		return nil
	}
	return err
}
