// Package mountinfo lists the mount points of this process's mount
// namespace, as /proc/self/mountinfo gives them: the kubelet unmounts
// what a pod leaves, `k1s down` what a cluster leaves, and tests check
// that nothing is left.
//
// Paths come with mountinfo's octal escapes undone (\040 is a space) and
// cleaned; symlinks are not resolved.
package mountinfo
