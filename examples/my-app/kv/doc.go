// Package kv is the core of my-app's small key-value database: Store, a
// durable map kept in a data directory, Handler, its HTTP API, and
// Client, what the web app uses to call that API.
//
// Store keeps one file per key. A write goes to a temporary file that is
// synced, renamed over the key's file, and the directory is synced before
// Put returns, so a crash (even a kill -9 or power loss) leaves every key
// with either its old value or its new one, and an acknowledged write is
// never lost. Open removes temporary files a crash left behind. Reads
// are served from memory; all the data must fit in it.
//
// The HTTP API: GET, PUT and DELETE /kv/{key} (the body is the value),
// POST /incr/{key}?by=N (an atomic counter; the answer is the new value),
// GET /healthz. With a user or a password set, every path but /healthz
// needs HTTP basic auth. Store does not replicate, does no transactions
// across keys, and does not bound its memory beyond MaxValueSize per key.
package kv
