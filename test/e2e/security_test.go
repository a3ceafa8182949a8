package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestRBACWithKubectl: a service account bound only to `view` may read but
// not delete, and is told so with upstream's message; `kubectl auth can-i`
// (SelfSubjectAccessReview, SelfSubjectRulesReview) answers for it; what a
// RoleBinding grants works at once and stops when it is deleted.
func TestRBACWithKubectl(t *testing.T) {
	mustKubectl(t, "", "create", "namespace", "rbac-e2e")
	t.Cleanup(func() { kubectl(t, "", "delete", "namespace", "rbac-e2e", "--wait=false") })
	mustKubectl(t, "", "-n", "rbac-e2e", "create", "serviceaccount", "viewer")
	mustKubectl(t, "", "-n", "rbac-e2e", "create", "configmap", "settings", "--from-literal=a=b")
	token := strings.TrimSpace(mustKubectl(t, "", "-n", "rbac-e2e", "create", "token", "viewer"))
	as := func(args ...string) (string, string, error) {
		return kubectlWithToken(t, token, append([]string{"-n", "rbac-e2e"}, args...)...)
	}

	if _, errOut, err := as("get", "configmaps"); err == nil || !strings.Contains(errOut,
		`configmaps is forbidden: User "system:serviceaccount:rbac-e2e:viewer" cannot list resource "configmaps" in API group "" in the namespace "rbac-e2e"`) {
		t.Fatalf("before any binding: %v %s, want Forbidden", err, errOut)
	}
	if out, _, _ := as("auth", "can-i", "list", "configmaps"); strings.TrimSpace(out) != "no" {
		t.Errorf("can-i list configmaps before the binding = %q, want no", out)
	}

	mustKubectl(t, "", "-n", "rbac-e2e", "create", "rolebinding", "viewer", "--clusterrole=view", "--serviceaccount=rbac-e2e:viewer")
	eventually(t, 30*time.Second, func() error {
		_, errOut, err := as("get", "configmap", "settings")
		return errIf(err, errOut)
	})
	_, errOut, err := as("delete", "configmap", "settings")
	want := `configmaps "settings" is forbidden: User "system:serviceaccount:rbac-e2e:viewer" cannot delete resource "configmaps" in API group "" in the namespace "rbac-e2e"`
	if err == nil || !strings.Contains(errOut, want) {
		t.Errorf("view deleting: %v %s\nwant %s", err, errOut, want)
	}
	if _, errOut, err := as("get", "secrets"); err == nil || !strings.Contains(errOut, "cannot list resource \"secrets\"") {
		t.Errorf("view reading secrets: %v %s, want Forbidden", err, errOut)
	}
	for _, c := range []struct{ verb, resource, want string }{
		{"list", "configmaps", "yes"}, {"delete", "configmaps", "no"}, {"get", "secrets", "no"},
		{"watch", "deployments.apps", "yes"}, {"create", "pods", "no"},
	} {
		if out, _, _ := as("auth", "can-i", c.verb, c.resource); strings.TrimSpace(out) != c.want {
			t.Errorf("can-i %s %s = %q, want %s", c.verb, c.resource, strings.TrimSpace(out), c.want)
		}
	}
	list, errOut, err := as("auth", "can-i", "--list")
	if err != nil || !strings.Contains(list, "configmaps") || !strings.Contains(list, "selfsubjectaccessreviews.authorization.k8s.io") {
		t.Errorf("can-i --list: %v %s\n%s", err, errOut, list)
	}
	// The admin asks for someone else (impersonation, `--as`).
	if out, _, _ := kubectl(t, "", "-n", "rbac-e2e", "auth", "can-i", "list", "configmaps", "--as=system:serviceaccount:rbac-e2e:viewer"); strings.TrimSpace(out) != "yes" {
		t.Errorf("can-i --as the viewer = %q, want yes", out)
	}
	if out, _, _ := kubectl(t, "", "-n", "rbac-e2e", "auth", "can-i", "delete", "configmaps", "--as=system:serviceaccount:rbac-e2e:viewer"); strings.TrimSpace(out) != "no" {
		t.Errorf("can-i delete --as the viewer = %q, want no", out)
	}
	if out := mustKubectl(t, "", "api-resources", "--api-group=authorization.k8s.io", "-o", "name"); !strings.Contains(out, "selfsubjectaccessreviews.authorization.k8s.io") {
		t.Errorf("api-resources lists no access reviews:\n%s", out)
	}
	// An admin's can-i: everything.
	if out, _, _ := kubectl(t, "", "auth", "can-i", "delete", "nodes"); strings.TrimSpace(out) != "yes" {
		t.Errorf("admin can-i delete nodes = %q, want yes", out)
	}
	// The view role may not grant itself more: binding edit needs edit.
	_, errOut, err = as("create", "rolebinding", "escalate", "--clusterrole=edit", "--serviceaccount=rbac-e2e:viewer")
	if err == nil || !strings.Contains(errOut, "forbidden") {
		t.Errorf("view creating a binding: %v %s, want Forbidden", err, errOut)
	}

	mustKubectl(t, "", "-n", "rbac-e2e", "delete", "rolebinding", "viewer")
	eventually(t, 30*time.Second, func() error {
		if _, _, err := as("get", "configmap", "settings"); err == nil {
			return errString("still allowed after the binding was deleted")
		}
		return nil
	})
}

// TestQuotaWithKubectl: a ResourceQuota's usage is tracked in its status,
// and the pod that would exceed it is refused with 403 naming the quota.
func TestQuotaWithKubectl(t *testing.T) {
	mustKubectl(t, "", "create", "namespace", "quota-e2e")
	t.Cleanup(func() { kubectl(t, "", "delete", "namespace", "quota-e2e", "--wait=false") })
	mustKubectl(t, "", "-n", "quota-e2e", "create", "quota", "small", "--hard=pods=1,configmaps=5")
	eventually(t, 30*time.Second, func() error {
		out, errOut, err := kubectl(t, "", "-n", "quota-e2e", "get", "quota", "small", "-o", "jsonpath={.status.used.pods}")
		if err != nil {
			return errIf(err, errOut)
		}
		if out != "0" {
			return errString("status.used.pods = " + out)
		}
		return nil
	})
	mustKubectl(t, "", "-n", "quota-e2e", "run", "one", "--image=k1s.local/none", "--restart=Never")
	_, errOut, err := kubectl(t, "", "-n", "quota-e2e", "run", "two", "--image=k1s.local/none", "--restart=Never")
	if err == nil || !strings.Contains(errOut, `pods "two" is forbidden: exceeded quota: small, requested: pods=1, used: pods=1, limited: pods=1`) {
		t.Errorf("second pod: %v %s, want the quota's refusal", err, errOut)
	}
	eventually(t, 30*time.Second, func() error {
		out, _, _ := kubectl(t, "", "-n", "quota-e2e", "get", "quota", "small", "-o", "jsonpath={.status.used.pods}")
		if out != "1" {
			return errString("status.used.pods = " + out)
		}
		return nil
	})
	// Deleting the pod gives the room back.
	mustKubectl(t, "", "-n", "quota-e2e", "delete", "pod", "one", "--grace-period=0", "--force")
	eventually(t, 30*time.Second, func() error {
		_, errOut, err := kubectl(t, "", "-n", "quota-e2e", "run", "two", "--image=k1s.local/none", "--restart=Never")
		return errIf(err, errOut)
	})
}

type errString string

func (e errString) Error() string { return string(e) }

func errIf(err error, errOut string) error {
	if err != nil {
		return errString(err.Error() + ": " + errOut)
	}
	return nil
}
