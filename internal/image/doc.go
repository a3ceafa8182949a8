// Package image builds OCI images from files and loads image tarballs
// into containerd, so that k1s needs no registry and no download.
//
// Build makes a one-layer linux image for this machine's architecture;
// entries are sorted, owned by root and dated 1970-01-01, so the same
// inputs always give the same digest. PauseImage is the pod sandbox image:
// a static executable of about 200 bytes generated in this package (x86-64
// and AArch64 machine code, no libc, no Go runtime) that blocks SIGINT,
// SIGTERM and SIGCHLD, waits for them with rt_sigtimedwait, reaps
// children on SIGCHLD and exits 0 on SIGINT or SIGTERM. containerd stops
// sandboxes with SIGKILL, which needs no handling. BusyboxImage is a test
// image made from the host's busybox-static.
//
// Load runs `ctr images import` (ctr ships with containerd) on a
// docker-archive or OCI-layout tarball. It does not talk to registries,
// does not pull, and does not verify that an image's architecture matches
// the host's: ctr imports the host platform's manifest and fails if there
// is none.
package image
