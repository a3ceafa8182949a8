package controllermanager

import (
	"testing"

	"k8s.io/client-go/rest"
)

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		threshold, want int
	}{
		{0, 12500},
		{-1, -1},
		{7, 7},
	}
	for _, tt := range tests {
		o := Options{Kubeconfig: &rest.Config{}, TerminatedPodGCThreshold: tt.threshold}
		if err := o.defaults(); err != nil {
			t.Fatal(err)
		}
		if o.TerminatedPodGCThreshold != tt.want {
			t.Errorf("threshold %d defaults to %d, want %d", tt.threshold, o.TerminatedPodGCThreshold, tt.want)
		}
	}
}
