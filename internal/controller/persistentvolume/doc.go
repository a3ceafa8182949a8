// Package persistentvolume is the PersistentVolume controller (upstream's
// "pv binder"): it binds PersistentVolumeClaims to PersistentVolumes and
// moves both through their phases.
//
// Guarantees:
//   - A Pending claim is bound to the smallest Available volume of its
//     storage class (a claim without a class counts as the default
//     class, if there is one) whose access modes include the claim's,
//     whose volume mode, capacity and labels (claim selector) fit, and,
//     for WaitForFirstConsumer classes, whose node affinity admits the
//     node in the claim's volume.kubernetes.io/selected-node annotation.
//     Such claims are not bound before that annotation is set.
//   - Pre-binding is honoured both ways: claim.spec.volumeName, and a
//     volume's claimRef naming the claim (uid too, when set).
//   - Binding writes the volume's claimRef, then its phase, then the
//     claim's volumeName and annotations, then the claim's phase. Every
//     step is derived again from the objects on each pass, so a crash or
//     conflict between steps is finished by the next pass, and no two
//     claims end up with the same volume (writes carry the cached
//     resourceVersion).
//   - A claim no volume fits, whose class has a provisioner, is annotated
//     with volume.kubernetes.io/storage-provisioner (and the beta key) for
//     an external provisioner, which creates a volume pre-bound to it.
//   - A volume whose claim is gone becomes Released; Retain keeps it so,
//     Delete leaves volumes provisioned by k1s.io/local-path to that
//     provisioner and fails any other, Recycle fails.
//   - A bound claim whose volume is gone (or bound elsewhere) becomes Lost.
//
// It does not provision or delete storage itself, does not resize, and
// never writes the default class name into a claim.
package persistentvolume
