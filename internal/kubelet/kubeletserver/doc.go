// Package kubeletserver is the kubelet's HTTPS API, the one the api-server
// calls for pods/log, pods/exec, pods/attach and pods/portforward, on
// upstream's paths:
//
//	GET      /containerLogs/{ns}/{pod}/{container}  follow previous tailLines timestamps sinceSeconds sinceTime limitBytes
//	GET|POST /exec/{ns}/{pod}/{container}           command input output error tty
//	GET|POST /attach/{ns}/{pod}/{container}         input output error tty
//	GET|POST /portForward/{ns}/{pod}                port (WebSocket only)
//	GET      /healthz
//
// Logs are read from the container's CRI log file (<time> <stream> <P|F>
// <message> lines); partial records are joined into lines, and a followed
// log is polled until the container stops running or the client leaves.
// Exec, attach and port-forward ask the runtime for a streaming URL and
// proxy the client's upgraded connection (SPDY or WebSocket) to it byte
// for byte; the server speaks neither protocol itself. A runtime that
// refuses an upgrade (a WebSocket subprotocol it does not know) has its
// answer passed back, so clients fall back to SPDY.
//
// With ClientCAs set every request but /healthz needs a client certificate
// signed by them; there is no authorization beyond that.
package kubeletserver
