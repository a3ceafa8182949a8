// Package runtimetest is the conformance suite for runtime.Runtime: one set
// of tests that every implementation (fake/, cri/) runs from its own
// _test.go through Run, with an Env that says how to make containers do
// things in that implementation.
//
// The suite checks the guarantees of package runtime's doc and the parts of
// CRI behaviour the kubelet relies on: image pull and status, sandbox and
// container life cycles, ID/state/label filters, NotFound errors and
// idempotent removal, exit codes and reasons, ExecSync, and, for runtimes that
// write them, container logs in the CRI log format. Every test removes what it
// created.
package runtimetest
