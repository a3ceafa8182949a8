// Package cri implements runtime.Runtime over CRI v1 gRPC, for containerd or
// any other CRI runtime listening on a unix socket.
//
// Every method is one RPC: no caching, no retries, no timeouts of its own (the
// caller's ctx bounds each call). gRPC NotFound errors are returned wrapping
// runtime.ErrNotFound with the runtime's message kept; other errors are
// returned as gRPC status errors, so status.Code still works on them.
// ImageStatus returns nil, nil for an image the runtime does not have.
package cri
