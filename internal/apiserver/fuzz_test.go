package apiserver_test

import (
	"encoding/json"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzDecodeValidate sends arbitrary bodies through the decode, default,
// validate and store path of several resources. Whatever the input, the
// server must answer with a Status (or the created object), never a 5xx,
// a crash or a hang.
func FuzzDecodeValidate(f *testing.F) {
	seeds := []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"p-"},"spec":{"containers":[{"name":"c","image":"i","resources":{"limits":{"cpu":"1e3"}}}]}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a/b/c":"x"}},"data":{"..":"x"}}`,
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: y\nspec:\n  containers: [{name: c, image: i, ports: [{containerPort: -1}]}]\n",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":"x"}]}]}}`,
		`{}`, `[]`, `null`, `{"kind":1}`, "\x00\xff",
	}
	paths := []string{
		"/api/v1/namespaces/default/pods",
		"/apis/apps/v1/namespaces/default/deployments",
		"/api/v1/namespaces/default/services",
		"/api/v1/namespaces/default/configmaps",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i%len(paths)), i%3 == 0)
	}
	ts := startServer(f)
	f.Fuzz(func(t *testing.T, body []byte, which uint8, yaml bool) {
		ct := "application/json"
		if yaml {
			ct = "application/yaml"
		}
		path := paths[int(which)%len(paths)] + "?fieldValidation=Strict"
		code, st, raw := ts.do(t, "POST", path, ct, body)
		if code >= 500 {
			t.Fatalf("POST %s: %d\n%s", path, code, raw)
		}
		if code >= 400 && (st.Kind != "Status" || st.Status != metav1.StatusFailure || st.Code != int32(code)) {
			t.Fatalf("POST %s: %d without a proper Status: %s", path, code, raw)
		}
		if code < 300 && !json.Valid(raw) {
			t.Fatalf("POST %s: %d with invalid JSON: %s", path, code, raw)
		}
	})
}
