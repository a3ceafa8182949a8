package apiserver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// rawClient returns an HTTP client with admin credentials.
func (ts *testServer) rawClient(t testing.TB) *http.Client {
	t.Helper()
	rt, err := rest.TransportFor(ts.config())
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: rt}
}

func (ts *testServer) do(t testing.TB, method, path, contentType string, body []byte) (int, metav1.Status, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+ts.addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := ts.rawClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var st metav1.Status
	json.Unmarshal(data, &st)
	return resp.StatusCode, st, data
}

func TestBadInputGetsStatus(t *testing.T) {
	ts := startServer(t)
	big := append([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"`), bytes.Repeat([]byte("x"), 4<<20)...)
	big = append(big, []byte(`"}}`)...)
	cases := []struct {
		name, method, path, contentType, body string
		rawBody                               []byte
		code                                  int
		reason                                metav1.StatusReason
		causes                                []string
	}{
		{name: "malformed json", method: "POST", path: "/api/v1/namespaces/default/configmaps", contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"ConfigMap",`, code: 400, reason: metav1.StatusReasonBadRequest},
		{name: "malformed yaml", method: "POST", path: "/api/v1/namespaces/default/configmaps", contentType: "application/yaml",
			body: "apiVersion: v1\nkind: ConfigMap\nmetadata: [x\n", code: 400, reason: metav1.StatusReasonBadRequest},
		{name: "unknown resource", method: "GET", path: "/api/v1/namespaces/default/bogus", code: 404, reason: metav1.StatusReasonNotFound},
		{name: "unknown group", method: "GET", path: "/apis/bogus.example.com/v1/things", code: 404, reason: metav1.StatusReasonNotFound},
		{name: "object not found", method: "GET", path: "/api/v1/namespaces/default/configmaps/nope", code: 404, reason: metav1.StatusReasonNotFound},
		{name: "wrong verb", method: "PUT", path: "/api/v1/namespaces/default/configmaps", contentType: "application/json", body: `{}`, code: 405, reason: metav1.StatusReasonMethodNotAllowed},
		{name: "too large", method: "POST", path: "/api/v1/namespaces/default/configmaps", contentType: "application/json", rawBody: big, code: 413, reason: metav1.StatusReasonRequestEntityTooLarge},
		{name: "unsupported media type", method: "POST", path: "/api/v1/namespaces/default/configmaps", contentType: "text/plain", body: "hello", code: 415, reason: metav1.StatusReasonUnsupportedMediaType},
		{name: "unsupported patch type", method: "PATCH", path: "/api/v1/namespaces/default/configmaps/x", contentType: "application/xml", body: "<x/>", code: 415, reason: metav1.StatusReasonUnsupportedMediaType},
		{name: "kind mismatch", method: "POST", path: "/api/v1/namespaces/default/configmaps", contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}`, code: 400, reason: metav1.StatusReasonBadRequest},
		{name: "invalid object lists every field", method: "POST", path: "/api/v1/namespaces/default/pods", contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"","image":""}]}}`,
			code: 422, reason: metav1.StatusReasonInvalid,
			causes: []string{"metadata.name", "spec.containers[0].name", "spec.containers[0].image"}},
		{name: "strict unknown field", method: "POST", path: "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s"},"bogus":1}`, code: 400, reason: metav1.StatusReasonBadRequest},
		{name: "bad label selector", method: "GET", path: "/api/v1/configmaps?labelSelector=a%20in%20(", code: 400, reason: metav1.StatusReasonBadRequest},
		{name: "bad dry run", method: "POST", path: "/api/v1/namespaces/default/configmaps?dryRun=Some", contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"}}`, code: 400, reason: metav1.StatusReasonBadRequest},
		{name: "expired continue", method: "GET", path: "/api/v1/configmaps?limit=1&continue=garbage", code: 400, reason: metav1.StatusReasonBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.rawBody
			if body == nil {
				body = []byte(tc.body)
			}
			code, st, raw := ts.do(t, tc.method, tc.path, tc.contentType, body)
			if code != tc.code || st.Reason != tc.reason || st.Kind != "Status" {
				t.Fatalf("got %d %q (kind %q), want %d %q\n%s", code, st.Reason, st.Kind, tc.code, tc.reason, raw)
			}
			for _, c := range tc.causes {
				found := false
				if st.Details != nil {
					for _, cause := range st.Details.Causes {
						if cause.Field == c {
							found = true
						}
					}
				}
				if !found {
					t.Errorf("no cause for field %s in %s", c, raw)
				}
			}
		})
	}
}

func TestAnonymousIsRefused(t *testing.T) {
	ts := startServer(t)
	cfg := rest.AnonymousClientConfig(ts.config())
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: rt}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/livez": 200, "/version": 200, "/api/v1/namespaces": 401, "/apis": 401} {
		resp, err := hc.Get("https://" + ts.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("anonymous GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err := hc.Get("https://" + ts.addr + "/version")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ GitVersion string }
	json.NewDecoder(resp.Body).Decode(&v)
	if !strings.HasPrefix(v.GitVersion, "v1.37.0+k1s") {
		t.Errorf("gitVersion %q", v.GitVersion)
	}
}

func TestTableOutput(t *testing.T) {
	ts := startServer(t)
	req, _ := http.NewRequest("GET", "https://"+ts.addr+"/api/v1/namespaces", nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	resp, err := ts.rawClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var table metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil {
		t.Fatal(err)
	}
	if table.Kind != "Table" || len(table.ColumnDefinitions) < 2 || table.ColumnDefinitions[0].Name != "Name" {
		t.Fatalf("table: %+v", table)
	}
	found := false
	for _, row := range table.Rows {
		if row.Cells[0] == "default" {
			found = true
			if row.Cells[1] != "Active" {
				t.Errorf("default namespace status cell %v", row.Cells[1])
			}
		}
	}
	if !found {
		t.Errorf("no row for default in %+v", table.Rows)
	}
}
