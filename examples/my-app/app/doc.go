// Command app is my-app's web service: a page with a greeting and a visit
// counter kept in the database (command db), and a passthrough to the
// database's keys.
//
// Routes: GET / (the page; each request adds one to the counter at key
// "visits"), GET/PUT/DELETE /kv/{key} (passed to the database),
// GET /healthz (liveness: always 200 while the process serves) and
// GET /readyz (readiness: 200 when the database answers, 503 otherwise
// and while shutting down). Every response carries X-Served-By with the
// pod's name, so a client can tell the replicas apart.
//
// Settings come from the environment: PORT (default 8080), POD_NAME
// (default the hostname), GREETING, DB_URL (a host, host:port or URL;
// default db-service), DB_USER and DB_PASSWORD, and DRAIN_DELAY (a Go
// duration, default 3s).
//
// On SIGTERM it keeps serving for DRAIN_DELAY with /readyz failing and
// keep-alives off, so that the endpoints controller and the proxies stop
// sending it traffic before it stops listening; then it finishes the
// requests in flight (up to 10 s) and exits 0. A rolling update or a
// scale-down thus loses no requests.
package main
