package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	v1 "k8s.io/api/core/v1"
)

// checkHostPath enforces a hostPath volume's type, creating the directory or
// file for the *OrCreate types. Messages follow upstream's.
func checkHostPath(path string, typ *v1.HostPathType) error {
	if typ == nil || *typ == v1.HostPathUnset {
		return nil
	}
	info, err := os.Stat(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("hostPath type check failed: %w", err)
	}
	failed := func(what string) error {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", path, what)
	}
	switch *typ {
	case v1.HostPathDirectoryOrCreate:
		if !exists {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return fmt.Errorf("hostPath type check failed: %w", err)
			}
			return nil
		}
		fallthrough
	case v1.HostPathDirectory:
		if info == nil || !info.IsDir() {
			return failed("directory")
		}
	case v1.HostPathFileOrCreate:
		if !exists {
			// Like upstream, the parent directory is not created.
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("hostPath type check failed: %w", err)
			}
			if f != nil {
				return f.Close()
			}
			if info, err = os.Stat(path); err != nil {
				return fmt.Errorf("hostPath type check failed: %w", err)
			}
		}
		fallthrough
	case v1.HostPathFile:
		if info == nil || !info.Mode().IsRegular() {
			return failed("file")
		}
	case v1.HostPathSocket:
		if info == nil || info.Mode().Type() != fs.ModeSocket {
			return failed("socket file")
		}
	case v1.HostPathCharDev:
		if info == nil || info.Mode().Type() != fs.ModeDevice|fs.ModeCharDevice {
			return failed("character device")
		}
	case v1.HostPathBlockDev:
		if info == nil || info.Mode().Type() != fs.ModeDevice {
			return failed("block device")
		}
	default:
		return fmt.Errorf("hostPath type check failed: unknown type %q", *typ)
	}
	return nil
}

// setUpClaim resolves a claim to its bound PersistentVolume and checks the
// volume's path on this node. Only hostPath and local volumes are supported.
func (m *Manager) setUpClaim(ctx context.Context, ns string, src *v1.PersistentVolumeClaimVolumeSource) (Volume, error) {
	claim, err := m.src.PersistentVolumeClaim(ctx, ns, src.ClaimName)
	if err != nil {
		return Volume{}, fetchError(err, "persistentvolumeclaim", src.ClaimName)
	}
	if claim.Spec.VolumeName == "" || claim.Status.Phase != v1.ClaimBound {
		return Volume{}, fmt.Errorf("%w: %s/%s", ErrClaimNotBound, ns, src.ClaimName)
	}
	pv, err := m.src.PersistentVolume(ctx, claim.Spec.VolumeName)
	if err != nil {
		return Volume{}, fetchError(err, "persistentvolume", claim.Spec.VolumeName)
	}
	if ref := pv.Spec.ClaimRef; ref == nil || ref.UID != claim.UID {
		return Volume{}, fmt.Errorf("%w: %s/%s: persistentvolume %s is bound to another claim",
			ErrClaimNotBound, ns, src.ClaimName, pv.Name)
	}
	if m := pv.Spec.VolumeMode; m != nil && *m == v1.PersistentVolumeBlock {
		return Volume{}, fmt.Errorf("persistentvolume %s has volumeMode Block: it cannot be mounted as a filesystem", pv.Name)
	}
	// Read-only comes from the pod's volume source here and from the
	// volumeMount in Mounts; subPath is resolved in Mounts, as for every
	// other kind.
	vol := Volume{ReadOnly: src.ReadOnly}
	switch {
	case pv.Spec.HostPath != nil:
		vol.HostPath = pv.Spec.HostPath.Path
		return vol, checkHostPath(vol.HostPath, pv.Spec.HostPath.Type)
	case pv.Spec.Local != nil:
		vol.HostPath = pv.Spec.Local.Path
		info, err := os.Stat(vol.HostPath)
		if err != nil {
			return Volume{}, fmt.Errorf("local persistentvolume %s: %w", pv.Name, err)
		}
		// Upstream formats and mounts a block device given as a
		// Filesystem local volume; k1s supports directories only.
		if !info.IsDir() {
			return Volume{}, fmt.Errorf("local persistentvolume %s: %s is not a directory (k1s supports only directories)", pv.Name, vol.HostPath)
		}
		return vol, nil
	}
	return Volume{}, fmt.Errorf("persistentvolume %s: volume type not supported by k1s (only hostPath and local)", pv.Name)
}
