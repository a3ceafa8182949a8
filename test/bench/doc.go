// Package bench holds the api-server benchmarks behind `make bench`: each
// one starts the real k1s binary (env K1S_BIN) as a separate process on a
// fresh data dir, drives it with client-go at 16 concurrent clients over
// 2,000 ConfigMaps, and reports throughput, latency percentiles, time to
// /readyz and the server's resident memory read from /proc. The figures
// and how they compare with the upstream kube-apiserver are in
// docs/benchmarks.md.
//
// The benchmarks measure; they assert nothing about speed. A fixed
// workload runs once per b.N iteration, so `-benchtime 1x` runs each one
// exactly once. Without K1S_BIN they are skipped.
package bench
