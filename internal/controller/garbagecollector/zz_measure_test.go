package garbagecollector_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMeasureCascade(t *testing.T) {
	if os.Getenv("K1S_MEASURE") == "" {
		t.Skip()
	}
	e := start(t)
	ctx := context.Background()
	const n = 1000
	for _, policy := range []metav1.DeletionPropagation{metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan} {
		owner := e.configMap(t, "owner", nil)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("dep-%d", i), OwnerReferences: []metav1.OwnerReference{cmRef(owner, true)}}}
				if _, err := e.client.CoreV1().ConfigMaps(e.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		time.Sleep(2 * time.Second) // let the graph see them
		start := time.Now()
		e.delete(t, "owner", policy)
		eventually(t, 120*time.Second, func() error {
			list, err := e.client.CoreV1().ConfigMaps(e.ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			left, owned := 0, 0
			for _, cm := range list.Items {
				if cm.Name == "kube-root-ca.crt" {
					continue
				}
				left++
				if len(cm.OwnerReferences) > 0 || cm.Name == "owner" {
					owned++
				}
			}
			if policy == metav1.DeletePropagationOrphan {
				if owned == 0 {
					return nil
				}
			} else if left == 0 {
				return nil
			}
			return fmt.Errorf("%d left, %d owned", left, owned)
		})
		t.Logf("%s cascade over %d dependents: %v", policy, n, time.Since(start))
		if policy == metav1.DeletePropagationOrphan {
			if err := e.client.CoreV1().ConfigMaps(e.ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
