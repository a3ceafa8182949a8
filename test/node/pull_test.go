package node

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/k1s/k1s/internal/image"
)

// A pod's image is pulled from a registry (an in-process one on loopback:
// containerd speaks plain HTTP to 127.0.0.1); a tag the registry lacks
// ends in ErrImagePull, then ImagePullBackOff.
func TestImagePull(t *testing.T) {
	needNode(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/k1s/pulled:v1"
	img, err := image.BusyboxImage(ref)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	pod := func(podName, image string) string {
		y := podYAML(podName, "Always", "sleep 600", "")
		y = strings.Replace(y, "image: "+busybox, "image: "+image, 1)
		return strings.Replace(y, "imagePullPolicy: Never", "imagePullPolicy: Always", 1)
	}
	mustKubectl(t, pod("pulled", ref), "apply", "-f", "-")
	mustKubectl(t, pod("missing", host+"/k1s/pulled:nope"), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "pod", "pulled", "missing", "--grace-period=0", "--force")
	})
	waitJSONPath(t, 90*time.Second, "pod", "pulled", "{.status.phase}", "Running")
	eventually(t, 90*time.Second, func() error {
		reason := jsonpath(t, "pod", "missing", "{.status.containerStatuses[0].state.waiting.reason}")
		if reason != "ErrImagePull" && reason != "ImagePullBackOff" {
			return errorf("waiting reason %q", reason)
		}
		return nil
	})
	out := mustKubectl(t, "", "get", "events", "--field-selector", "involvedObject.name=pulled")
	if !strings.Contains(out, "Pulled") || !strings.Contains(out, "Successfully pulled image") {
		t.Errorf("no Pulled event:\n%s", out)
	}
}
