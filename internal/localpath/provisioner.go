package localpath

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/eventrecorder"
	"github.com/k1s/k1s/internal/controller/worker"
)

// Options configure a Provisioner.
type Options struct {
	Client   kubernetes.Interface // required
	NodeName string               // required: the node whose disk this is
	// Dir holds the volumes' directories (the agent's data dir/storage).
	// Required, absolute; created by Run.
	Dir string
	Log *slog.Logger
}

// key is a queued claim (namespace/name) or volume (name).
type key struct {
	volume          bool
	namespace, name string
}

// Provisioner provisions and deletes this node's local-path volumes.
type Provisioner struct {
	client  kubernetes.Interface
	node    string
	dir     string
	log     *slog.Logger
	factory informers.SharedInformerFactory
	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[key]
}

// New validates o and registers the provisioner's informers.
func New(o Options) (*Provisioner, error) {
	if o.Client == nil || o.NodeName == "" {
		return nil, errors.New("localpath: Client and NodeName are required")
	}
	if !filepath.IsAbs(o.Dir) {
		return nil, fmt.Errorf("localpath: Dir must be an absolute path, got %q", o.Dir)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	factory := informers.NewSharedInformerFactory(o.Client, 0)
	claims := factory.Core().V1().PersistentVolumeClaims()
	volumes := factory.Core().V1().PersistentVolumes()
	classes := factory.Storage().V1().StorageClasses()
	p := &Provisioner{
		client: o.Client, node: o.NodeName, dir: filepath.Clean(o.Dir), log: o.Log, factory: factory,
		claims: claims.Lister(), volumes: volumes.Lister(), classes: classes.Lister(),
		synced: []cache.InformerSynced{claims.Informer().HasSynced, volumes.Informer().HasSynced, classes.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
			workqueue.TypedRateLimitingQueueConfig[key]{Name: "localpath"}),
	}
	handlers := []struct {
		informer cache.SharedIndexInformer
		h        cache.ResourceEventHandler
	}{
		{claims.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    p.enqueueClaim,
			UpdateFunc: func(_, obj any) { p.enqueueClaim(obj) },
		}},
		{volumes.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    p.enqueueVolume,
			UpdateFunc: func(_, obj any) { p.enqueueVolume(obj) },
			// A claim whose PV vanished before binding is provisioned again.
			DeleteFunc: p.enqueueClaimOf,
		}},
		{classes.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    p.enqueueClaimsOfClass,
			UpdateFunc: func(_, obj any) { p.enqueueClaimsOfClass(obj) },
		}},
	}
	for _, h := range handlers {
		if _, err := h.informer.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("localpath: %w", err)
		}
	}
	return p, nil
}

func (p *Provisioner) enqueueClaim(obj any) {
	if c, ok := obj.(*corev1.PersistentVolumeClaim); ok {
		p.queue.Add(key{namespace: c.Namespace, name: c.Name})
	}
}

func (p *Provisioner) enqueueVolume(obj any) {
	if pv, ok := obj.(*corev1.PersistentVolume); ok {
		p.queue.Add(key{volume: true, name: pv.Name})
	}
}

func (p *Provisioner) enqueueClaimOf(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if pv, ok := obj.(*corev1.PersistentVolume); ok && pv.Spec.ClaimRef != nil {
		p.queue.Add(key{namespace: pv.Spec.ClaimRef.Namespace, name: pv.Spec.ClaimRef.Name})
	}
}

// enqueueClaimsOfClass requeues the unbound claims waiting for a class.
func (p *Provisioner) enqueueClaimsOfClass(obj any) {
	class, ok := obj.(*storagev1.StorageClass)
	if !ok || class.Provisioner != ProvisionerName {
		return
	}
	claims, err := p.claims.List(labels.Everything())
	if err != nil {
		return
	}
	for _, c := range claims {
		if c.Spec.VolumeName == "" && claimClassName(c) == class.Name {
			p.queue.Add(key{namespace: c.Namespace, name: c.Name})
		}
	}
}

// Run provisions and deletes volumes until ctx ends.
func (p *Provisioner) Run(ctx context.Context) error {
	defer p.queue.ShutDown()
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return fmt.Errorf("localpath: %w", err)
	}
	events, recorder := eventrecorder.New(ctx, p.client.CoreV1(), p.log, ProvisionerName+"_"+p.node)
	defer events.Shutdown()
	p.factory.Start(ctx.Done())
	defer p.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), p.synced...) {
		return nil
	}
	p.log.Info("local-path provisioner running", "node", p.node, "dir", p.dir)
	worker.Run(ctx, 2, p.queue, func(ctx context.Context) bool {
		k, quit := p.queue.Get()
		if quit {
			return false
		}
		defer p.queue.Done(k)
		var err error
		if k.volume {
			err = p.reconcileVolume(ctx, recorder, k.name)
		} else {
			err = p.reconcileClaim(ctx, recorder, k.namespace, k.name)
		}
		kind := "persistentvolumeclaim"
		if k.volume {
			kind = "persistentvolume"
		}
		worker.Handle(ctx, p.queue, k, err, p.log, kind)
		return true
	})
	return nil
}

func (p *Provisioner) reconcileClaim(ctx context.Context, recorder record.EventRecorder, ns, name string) error {
	claim, err := p.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var class *storagev1.StorageClass
	if cn := claimClassName(claim); cn != "" {
		if class, err = p.classes.Get(cn); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	_, err = p.volumes.Get(volumeName(claim))
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	v, why := decideClaim(claim, class, p.node, err == nil)
	switch v {
	case skip:
		p.log.Debug("not provisioning", "claim", ns+"/"+name, "reason", why)
		return nil
	case refuse:
		recorder.Event(claim, corev1.EventTypeWarning, "ProvisioningFailed", why)
		return nil
	}
	// The cache may lag: a claim deleted just now, whose volume was just
	// deleted as Released, must not get a new one.
	fresh, err := p.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if fresh.UID != claim.UID || fresh.DeletionTimestamp != nil || fresh.Spec.VolumeName != "" {
		return nil
	}
	path := filepath.Join(p.dir, volumeName(claim))
	if err := makeDir(path); err != nil {
		recorder.Eventf(claim, corev1.EventTypeWarning, "ProvisioningFailed", "creating directory %s: %v", path, err)
		return err
	}
	pv := buildVolume(claim, class, p.node, path)
	_, err = p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil
	case err != nil:
		recorder.Eventf(claim, corev1.EventTypeWarning, "ProvisioningFailed", "creating persistentvolume %s: %v", pv.Name, err)
		return fmt.Errorf("creating persistentvolume %s: %w", pv.Name, err)
	}
	recorder.Eventf(claim, corev1.EventTypeNormal, "ProvisioningSucceeded", "Successfully provisioned volume %s", pv.Name)
	p.log.Info("provisioned volume", "claim", ns+"/"+name, "volume", pv.Name, "path", path)
	return nil
}

// makeDir creates a volume's directory, world-writable (past the umask).
func makeDir(path string) error {
	if err := os.Mkdir(path, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", path)
	}
	return os.Chmod(path, 0o777)
}

func (p *Provisioner) reconcileVolume(ctx context.Context, recorder record.EventRecorder, name string) error {
	pv, err := p.volumes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if decideVolume(pv, p.node) != deleteVolume {
		return nil
	}
	path, err := volumePath(pv)
	if err == nil {
		err = p.removeDir(path)
	}
	if err != nil {
		var outside *outsideError
		recorder.Eventf(pv, corev1.EventTypeWarning, "VolumeFailedDelete", "%v", err)
		if errors.As(err, &outside) {
			return nil // retrying cannot help
		}
		return err
	}
	uid := pv.UID
	err = p.client.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting persistentvolume %s: %w", name, err)
	}
	p.log.Info("deleted volume", "volume", name, "path", path)
	return nil
}

// outsideError refuses to remove a path that is not inside Dir.
type outsideError struct{ path, dir string }

func (e *outsideError) Error() string {
	return fmt.Sprintf("refusing to remove %s: not inside the local-path directory %s", e.path, e.dir)
}

// removeDir removes path and everything in it if it lies inside p.dir,
// also after resolving the symlinks above it. A missing path is fine.
func (p *Provisioner) removeDir(path string) error {
	if !inside(p.dir, path) {
		return &outsideError{path, p.dir}
	}
	realDir, err := filepath.EvalSymlinks(p.dir)
	if err != nil {
		return err
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// os.RemoveAll does not follow symlinks, so the resolved parent is
	// all that needs checking.
	target := filepath.Join(parent, filepath.Base(path))
	if !inside(realDir, target) {
		return &outsideError{path, p.dir}
	}
	if err := os.RemoveAll(target); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}
