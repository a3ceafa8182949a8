package registry

import (
	"encoding/json"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// coreResources returns the core/v1 ("" group) resources.
func coreResources(opts Options) []*Resource {
	return []*Resource{
		namespaceResource(),
		podResource(),
		serviceResource(opts),
		coreEndpointsResource(),
		coreConfigMapResource(),
		coreSecretResource(),
		coreServiceAccountResource(),
		coreEventResource(),
		coreNodeResource(),
		corePersistentVolumeResource(),
		corePersistentVolumeClaimResource(),
		coreLimitRangeResource(),
		coreResourceQuotaResource(),
		corePodTemplateResource(),
	}
}

// coreMaxDataSize bounds the data of a ConfigMap or Secret (1 MiB, as etcd
// values are kept small upstream).
const coreMaxDataSize = 1 << 20

// coreImmutableMsg is upstream's message for changes to immutable data.
const coreImmutableMsg = "field is immutable when `immutable` is set"

// namespaceResource is core/v1 namespaces. The api-server runs the
// Terminating lifecycle and the "kubernetes" finalizer; this supplies
// the data.
func namespaceResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "Namespace", Plural: "namespaces", Singular: "namespace",
		ShortNames: []string{"ns"},
		New:        func() runtime.Object { return &corev1.Namespace{} },
		NewList:    func() runtime.Object { return &corev1.NamespaceList{} },
		Default:    func(obj runtime.Object) { namespaceNameLabel(obj.(*corev1.Namespace)) },
		PrepareForCreate: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
			if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
				ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
			}
			namespaceNameLabel(ns)
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			ns, oldNS := obj.(*corev1.Namespace), old.(*corev1.Namespace)
			ns.Status = oldNS.Status
			ns.Spec.Finalizers = oldNS.Spec.Finalizers // changed only through /finalize
			namespaceNameLabel(ns)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			ns := obj.(*corev1.Namespace)
			var errs field.ErrorList
			if len(validation.IsDNS1123Subdomain(ns.Name)) == 0 {
				for _, msg := range validation.IsDNS1123Label(ns.Name) {
					errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), ns.Name, msg))
				}
			}
			for i, f := range ns.Spec.Finalizers {
				errs = append(errs, apivalidation.ValidateFinalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
			}
			return errs
		},
		Status: &StatusSubresource{
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				ns := obj.(*corev1.Namespace)
				p := field.NewPath("status", "phase")
				if ns.DeletionTimestamp.IsZero() {
					if ns.Status.Phase != corev1.NamespaceActive {
						return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty")}
					}
				} else if ns.Status.Phase != corev1.NamespaceTerminating {
					return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")}
				}
				return nil
			},
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Status", "string", "The status of the namespace", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				ns := obj.(*corev1.Namespace)
				return []any{string(ns.Status.Phase), age(ns.CreationTimestamp)}
			},
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
		},
		DeleteProtected: []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease},
	}
}

// namespaceNameLabel sets the immutable kubernetes.io/metadata.name label.
func namespaceNameLabel(ns *corev1.Namespace) {
	if ns.Name == "" {
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}

func coreConfigMapResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "ConfigMap", Plural: "configmaps", Singular: "configmap",
		ShortNames: []string{"cm"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.ConfigMap{} },
		NewList: func() runtime.Object { return &corev1.ConfigMapList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			cm := obj.(*corev1.ConfigMap)
			return validateCoreData(cm.Data, cm.BinaryData, "binaryData")
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			cm, oldCM := obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap)
			errs := validateCoreData(cm.Data, cm.BinaryData, "binaryData")
			if oldCM.Immutable != nil && *oldCM.Immutable {
				if cm.Immutable == nil || !*cm.Immutable {
					errs = append(errs, field.Forbidden(field.NewPath("immutable"), coreImmutableMsg))
				}
				if !maps.Equal(cm.Data, oldCM.Data) {
					errs = append(errs, field.Forbidden(field.NewPath("data"), coreImmutableMsg))
				}
				if !maps.EqualFunc(cm.BinaryData, oldCM.BinaryData, slices.Equal) {
					errs = append(errs, field.Forbidden(field.NewPath("binaryData"), coreImmutableMsg))
				}
			}
			return errs
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Data", "string", "Number of data in configmap", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				cm := obj.(*corev1.ConfigMap)
				return []any{int64(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp)}
			},
		},
	}
}

// validateCoreData checks ConfigMap/Secret keys and total size; binary
// holds the keys of the second map (binaryData for ConfigMaps), which may
// not repeat a key of text.
func validateCoreData(text map[string]string, binary map[string][]byte, binaryField string) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for _, k := range slices.Sorted(maps.Keys(text)) {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, msg))
		}
		size += len(text[k])
	}
	for _, k := range slices.Sorted(maps.Keys(binary)) {
		p := field.NewPath(binaryField).Key(k)
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(p, k, msg))
		}
		if _, dup := text[k]; dup {
			errs = append(errs, field.Invalid(p, k, "duplicate of key present in data"))
		}
		size += len(binary[k])
	}
	if size > coreMaxDataSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", coreMaxDataSize))
	}
	return errs
}

func coreSecretResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "Secret", Plural: "secrets", Singular: "secret",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.Secret{} },
		NewList:    func() runtime.Object { return &corev1.SecretList{} },
		Default:    func(obj runtime.Object) { defaultCoreSecret(obj.(*corev1.Secret)) },
		Validate:   func(obj runtime.Object) field.ErrorList { return validateCoreSecret(obj.(*corev1.Secret)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, oldS := obj.(*corev1.Secret), old.(*corev1.Secret)
			errs := validateCoreSecret(s)
			errs = append(errs, apivalidation.ValidateImmutableField(s.Type, oldS.Type, field.NewPath("type"))...)
			if oldS.Immutable != nil && *oldS.Immutable {
				if s.Immutable == nil || !*s.Immutable {
					errs = append(errs, field.Forbidden(field.NewPath("immutable"), coreImmutableMsg))
				}
				if !maps.EqualFunc(s.Data, oldS.Data, slices.Equal) {
					errs = append(errs, field.Forbidden(field.NewPath("data"), coreImmutableMsg))
				}
			}
			return errs
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Type", "string", "The type of the secret", 0),
				column("Data", "string", "Number of data in secret", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				s := obj.(*corev1.Secret)
				return []any{string(s.Type), int64(len(s.Data)), age(s.CreationTimestamp)}
			},
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
		},
	}
}

// defaultCoreSecret defaults the type and folds stringData into data, as
// upstream does when it converts the object for storage.
func defaultCoreSecret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}

func validateCoreSecret(s *corev1.Secret) field.ErrorList {
	errs := validateCoreData(nil, s.Data, "data")
	dataPath := field.NewPath("data")
	require := func(keys ...string) {
		for _, k := range keys {
			if _, ok := s.Data[k]; !ok {
				errs = append(errs, field.Required(dataPath.Key(k), ""))
			}
		}
	}
	requireJSON := func(key string) {
		if v, ok := s.Data[key]; !ok {
			errs = append(errs, field.Required(dataPath.Key(key), ""))
		} else if err := json.Unmarshal(v, &map[string]any{}); err != nil {
			errs = append(errs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		requireJSON(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		requireJSON(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, hasUser := s.Data[corev1.BasicAuthUsernameKey]
		_, hasPassword := s.Data[corev1.BasicAuthPasswordKey]
		if !hasUser && !hasPassword {
			require(corev1.BasicAuthUsernameKey, corev1.BasicAuthPasswordKey)
		}
	case corev1.SecretTypeSSHAuth:
		require(corev1.SSHAuthPrivateKey)
	case corev1.SecretTypeTLS:
		require(corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	return errs
}

func coreServiceAccountResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "ServiceAccount", Plural: "serviceaccounts", Singular: "serviceaccount",
		ShortNames: []string{"sa"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList: func() runtime.Object { return &corev1.ServiceAccountList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			sa := obj.(*corev1.ServiceAccount)
			var errs field.ErrorList
			for i, s := range sa.ImagePullSecrets {
				if s.Name == "" {
					errs = append(errs, field.Required(field.NewPath("imagePullSecrets").Index(i).Child("name"), ""))
				}
			}
			return errs
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				sa := obj.(*corev1.ServiceAccount)
				return []any{int64(len(sa.Secrets)), age(sa.CreationTimestamp)}
			},
		},
	}
}

func corePodTemplateResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "PodTemplate", Plural: "podtemplates", Singular: "podtemplate",
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.PodTemplate{} },
		NewList:    func() runtime.Object { return &corev1.PodTemplateList{} },
		Default:    func(obj runtime.Object) { defaultPodTemplateSpec(&obj.(*corev1.PodTemplate).Template) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validatePodTemplateSpec(&obj.(*corev1.PodTemplate).Template, field.NewPath("template"))
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Containers", "string", "Names of each container in the template.", 0),
				column("Images", "string", "Images referenced by each container in the template.", 0),
				column("Pod Labels", "string", "The labels for the pod template.", 0),
			},
			Row: func(obj runtime.Object) []any {
				pt := obj.(*corev1.PodTemplate)
				names, images := corePodTemplateContainers(&pt.Template.Spec)
				return []any{names, images, labels.FormatLabels(pt.Template.Labels)}
			},
		},
	}
}

// corePodTemplateContainers joins a spec's container names and images.
func corePodTemplateContainers(spec *corev1.PodSpec) (names, images string) {
	for i, c := range spec.Containers {
		if i > 0 {
			names += ","
			images += ","
		}
		names += c.Name
		images += c.Image
	}
	return names, images
}
