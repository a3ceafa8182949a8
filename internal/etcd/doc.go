// Package etcd runs the single embedded etcd v3 member that is k1s's source
// of truth.
//
// A Server is built from a Config with New and driven by Run(ctx), which
// blocks until ctx ends. Run starts the member in Config.DataDir/etcd, closes
// Ready once the member has elected itself and serves clients, and on return
// has closed the client and the member and waited for every goroutine it
// started. Endpoints and Client are valid only between Ready and the return of
// Run.
//
// Guarantees: data written before Run returns survives a restart on the same
// DataDir (fsync is on); listeners bind only the URLs in Config (loopback by
// default, on a port the kernel picks, so parallel tests never collide); no
// metrics or HTTP gateway listener is opened; etcd's own zap logging is routed
// to the given slog.Logger at error level.
//
// Not provided: TLS or authentication on the client port (it is meant to be
// reachable only from this host), multi-member clusters, defragmentation.
//
// Typical use from a test in another package (t.Context is cancelled before
// cleanups run, so the cleanup only waits for Run to finish):
//
//	srv := etcd.New(etcd.Config{DataDir: t.TempDir()})
//	errc := make(chan error, 1)
//	go func() { errc <- srv.Run(t.Context()) }()
//	select {
//	case <-srv.Ready():
//	case err := <-errc:
//		t.Fatalf("etcd: %v", err)
//	}
//	t.Cleanup(func() {
//		if err := <-errc; err != nil {
//			t.Errorf("etcd: %v", err)
//		}
//	})
//	cli := srv.Client()
package etcd
