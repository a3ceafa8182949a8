// Package fake is an in-memory runtime.Runtime for hollow nodes: it keeps
// sandboxes, containers and images as small structs behind one mutex and runs
// nothing. Thousands of instances fit in one process; none starts a goroutine.
//
// Time comes from an injected clock (Options.Clock). Container exits are not
// scheduled: a container's state is worked out from the clock whenever it is
// read (ContainerStatus, ListContainers, ExecSync, Stop...), so advancing a
// fake clock is enough to make containers exit.
//
// # Images
//
// PullImage succeeds at once for any reference except those listed in
// Options.MissingImages and those containing "doesnotexist"; for them it
// returns an error wrapping runtime.ErrNotFound. References are normalised
// like Docker's ("busybox" is "docker.io/library/busybox:latest"). An image's
// ID is "sha256:" + the SHA-256 of its normalised reference. CreateContainer
// needs the image pulled first, as a real runtime does.
//
// # Sandboxes
//
// A sandbox on the pod network gets the lowest free address of
// Options.PodCIDR, skipping the network address, the .1 gateway and (IPv4)
// the broadcast address; the address is freed when the sandbox is removed.
// Host-network sandboxes (NamespaceMode_NODE) and sandboxes of a runtime
// without PodCIDR get no IP. RunPodSandbox fails when the range is full.
//
// # Containers
//
// A container is CREATED, then RUNNING after StartContainer, then EXITED. It
// behaves as its config's environment says:
//
//	K1S_FAKE_RUN_FOR=<duration>     exit this long after start (Go duration, e.g. 30s)
//	K1S_FAKE_EXIT_CODE=<n>          the exit code; without RUN_FOR it exits at once
//	K1S_FAKE_OOM=true               exit with reason OOMKilled (code 137 unless
//	                                EXIT_CODE says otherwise)
//	K1S_FAKE_EXEC_EXIT_CODE=<n>     the exit code every ExecSync in it returns (default 0);
//	                                this is how exec probes of hollow pods pass or fail
//	K1S_FAKE_EXEC_FAILS=<n>         the first n ExecSyncs exit 1 whatever EXEC_EXIT_CODE
//	                                says (a server that answers only after a while)
//
// With none of the first three it runs until stopped. Reasons are those of
// containerd: "Completed" for exit code 0, "Error" otherwise, "OOMKilled" for
// K1S_FAKE_OOM. A malformed value makes CreateContainer fail.
//
// StopContainer of a running container exits it at once with code 0 and
// reason "Completed", whatever the timeout: fake processes always honour the
// stop signal. StopContainer of a created or exited container does nothing.
// StopPodSandbox makes the sandbox NOTREADY and exits its created and running
// containers; RemovePodSandbox also removes them and frees the IP.
//
// ExecSync returns empty output and the configured exit code; it fails if the
// container is not running. Exec, Attach and PortForward return an error with
// gRPC code Unimplemented: hollow nodes do not stream. The runtime writes no
// logs, though ContainerStatus reports the LogPath a real runtime would use.
package fake
