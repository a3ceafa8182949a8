package etcd3_test

import (
	"bytes"
	"context"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k1s/k1s/internal/storage"
	"github.com/k1s/k1s/internal/storage/etcd3"
	"github.com/k1s/k1s/internal/storage/storagetest"
)

func newStore(t testing.TB, client *clientv3.Client, tr etcd3.Transformer) *etcd3.Store {
	t.Helper()
	s, err := etcd3.New(etcd3.Config{
		Client:      client,
		Codec:       storagetest.Codec(),
		NewFunc:     storagetest.NewPod,
		NewListFunc: storagetest.NewPodList,
		Transformer: tr,
	})
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	client := storagetest.StartEtcd(t)
	storagetest.RunTests(t, func(t *testing.T, prefix string) storagetest.Fixture {
		return storagetest.Fixture{Store: newStore(t, client, nil), Client: client}
	})
}

// xorTransformer is a stand-in for encryption at rest.
type xorTransformer struct{}

var magic = []byte("k1s:x:")

func (xorTransformer) TransformToStorage(_ context.Context, data []byte, key string) ([]byte, error) {
	out := append([]byte{}, magic...)
	for i, b := range data {
		out = append(out, b^key[i%len(key)])
	}
	return out, nil
}

func (xorTransformer) TransformFromStorage(_ context.Context, data []byte, key string) ([]byte, error) {
	data = bytes.TrimPrefix(data, magic)
	out := make([]byte, len(data))
	for i, b := range data {
		out[i] = b ^ key[i%len(key)]
	}
	return out, nil
}

func TestTransformer(t *testing.T) {
	client := storagetest.StartEtcd(t)
	s := newStore(t, client, xorTransformer{})
	ctx := t.Context()
	key := "/registry/pods/ns1/secret"
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "secret", Labels: map[string]string{"password": "hunter2"}}}

	created, err := s.Create(ctx, key, pod)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	w, err := s.Watch(ctx, key, storage.ListOptions{ResourceVersion: created.(*corev1.Pod).ResourceVersion})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()

	raw, err := client.Get(ctx, key)
	if err != nil {
		t.Fatalf("raw get: %v", err)
	}
	if v := raw.Kvs[0].Value; !bytes.HasPrefix(v, magic) || bytes.Contains(v, []byte("hunter2")) {
		t.Errorf("stored value is not transformed: %q", v)
	}

	got, err := s.Get(ctx, key, storage.GetOptions{})
	if err != nil || got.(*corev1.Pod).Labels["password"] != "hunter2" {
		t.Fatalf("get: %v, %v", got, err)
	}
	if _, err := s.GuaranteedUpdate(ctx, key, false, nil, func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Labels["password"] = "hunter3"
		return cur, nil
	}); err != nil {
		t.Fatalf("update: %v", err)
	}
	list, err := s.List(ctx, "/registry/pods/", storage.ListOptions{})
	if err != nil || len(list.(*corev1.PodList).Items) != 1 || list.(*corev1.PodList).Items[0].Labels["password"] != "hunter3" {
		t.Fatalf("list: %v, %v", list, err)
	}
	ev := storagetest.Next(t, w)
	if ev.Type != watch.Modified || ev.Object.(*corev1.Pod).Labels["password"] != "hunter3" {
		t.Errorf("watch event %s %v", ev.Type, ev.Object)
	}
}
