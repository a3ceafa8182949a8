// Command db is my-app's database: the key-value store of package kv
// served over HTTP (see kv's doc for the API and its durability).
//
// Settings, each a flag or an environment variable: -port / PORT
// (default 5432), -data-dir / DATA_DIR (default /data). DB_USER and
// DB_PASSWORD, when set, are the basic-auth credentials clients need.
// On SIGTERM or SIGINT it stops accepting connections, finishes the
// requests in flight (up to 5 s) and exits 0; every acknowledged write is
// already on disk, so a SIGKILL loses nothing either.
package main
