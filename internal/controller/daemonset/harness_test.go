package daemonset_test

import (
	"log/slog"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/testcluster"
)

func testLogger() *slog.Logger { return testcluster.Logger() }

func startAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	return testcluster.StartAPIServer(t)
}

func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	testcluster.Eventually(t, timeout, f)
}
