package openapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/k1s/k1s/internal/registry"
)

func yamlUnmarshal(s string, v any) error { return yaml.Unmarshal([]byte(s), v) }

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestHTTP(t *testing.T) {
	_, ts := newTestServer(t, testResources())

	var root struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(readAll(t, get(t, ts.URL+"/openapi/v3", "")), &root); err != nil {
		t.Fatal(err)
	}
	appsURL := root.Paths["apis/apps/v1"].ServerRelativeURL
	if !strings.HasPrefix(appsURL, "/openapi/v3/apis/apps/v1?hash=") || root.Paths["api/v1"].ServerRelativeURL == "" || len(root.Paths) != 2 {
		t.Fatalf("root paths = %+v", root.Paths)
	}
	hash := strings.TrimPrefix(appsURL, "/openapi/v3/apis/apps/v1?hash=")

	for _, tc := range []struct {
		name, path, accept, ifNoneMatch string
		wantStatus                      int
		wantType                        string
	}{
		{name: "v2 json", path: "/openapi/v2", accept: "application/json", wantStatus: 200, wantType: "application/json"},
		{name: "v2 no accept", path: "/openapi/v2", wantStatus: 200, wantType: "application/json"},
		{name: "v2 browser", path: "/openapi/v2", accept: "text/html,application/xhtml+xml,*/*;q=0.8", wantStatus: 200, wantType: "application/json"},
		{name: "v2 proto", path: "/openapi/v2", accept: mediaV2ProtoAsked, wantStatus: 200, wantType: mediaV2Proto},
		{name: "v2 proto dot", path: "/openapi/v2", accept: mediaV2Proto, wantStatus: 200, wantType: mediaV2Proto},
		{name: "v2 proto preferred", path: "/openapi/v2", accept: mediaV2ProtoAsked + ", application/json", wantStatus: 200, wantType: mediaV2Proto},
		{name: "v3 proto", path: "/openapi/v3/apis/apps/v1", accept: mediaV3ProtoAsked, wantStatus: 200, wantType: mediaV3Proto},
		{name: "v2 unacceptable", path: "/openapi/v2", accept: "text/plain", wantStatus: 406},
		{name: "v2 refused json", path: "/openapi/v2", accept: "application/json;q=0", wantStatus: 406},
		{name: "v2 etag", path: "/openapi/v2", accept: "application/json", ifNoneMatch: "ETAG", wantStatus: 304},
		{name: "v2 stale etag", path: "/openapi/v2", accept: "application/json", ifNoneMatch: `"stale"`, wantStatus: 200, wantType: "application/json"},
		{name: "v3 root", path: "/openapi/v3", wantStatus: 200, wantType: "application/json"},
		{name: "v3 root slash", path: "/openapi/v3/", wantStatus: 200, wantType: "application/json"},
		{name: "v3 gv", path: appsURL, accept: "application/json", wantStatus: 200, wantType: "application/json"},
		{name: "v3 gv etag", path: "/openapi/v3/apis/apps/v1", accept: "application/json", ifNoneMatch: `"` + hash + `"`, wantStatus: 304},
		{name: "v3 stale hash", path: "/openapi/v3/apis/apps/v1?hash=OLD", accept: "application/json", wantStatus: 301},
		{name: "v3 unknown gv", path: "/openapi/v3/apis/batch/v1", wantStatus: 404},
		{name: "elsewhere", path: "/openapi/v4", wantStatus: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, ts.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			if tc.ifNoneMatch == "ETAG" {
				resp := get(t, ts.URL+tc.path, tc.accept)
				tc.ifNoneMatch = resp.Header.Get("Etag")
				if tc.ifNoneMatch == "" {
					t.Fatal("no Etag")
				}
			}
			if tc.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", tc.ifNoneMatch)
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantType != "" && resp.Header.Get("Content-Type") != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", resp.Header.Get("Content-Type"), tc.wantType)
			}
			if tc.wantStatus == 301 && resp.Header.Get("Location") != appsURL {
				t.Errorf("Location = %q, want %q", resp.Header.Get("Location"), appsURL)
			}
		})
	}

	resp := get(t, ts.URL+appsURL, "application/json")
	if got := resp.Header.Get("Cache-Control"); got != "public, immutable" {
		t.Errorf("hashed URL Cache-Control = %q", got)
	}
	if got := resp.Header.Get("Etag"); got != `"`+hash+`"` {
		t.Errorf("Etag = %q, want the hash %q", got, hash)
	}

	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/openapi/v2", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d", resp.StatusCode)
	}
}

func TestNegotiate(t *testing.T) {
	offers := []string{"application/json", mediaV2ProtoAsked}
	for _, tc := range []struct{ accept, want string }{
		{"", "application/json"},
		{"application/json", "application/json"},
		{mediaV2ProtoAsked, mediaV2ProtoAsked},
		{"*/*", "application/json"},
		{"application/*", "application/json"},
		{"text/plain, " + mediaV2ProtoAsked + ";q=0.9", mediaV2ProtoAsked},
		{"application/json;q=0.5, " + mediaV2ProtoAsked, mediaV2ProtoAsked},
		{"application/json;q=0, */*", mediaV2ProtoAsked},
		{"application/json;q=0.0", ""},
		{"text/plain", ""},
		{"APPLICATION/JSON", "application/json"},
	} {
		if got := negotiate(tc.accept, offers...); got != tc.want {
			t.Errorf("negotiate(%q) = %q, want %q", tc.accept, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	valid := testResources()[0]
	noList := *valid
	noList.NewList = nil
	noPlural := *valid
	noPlural.Plural = ""
	for _, tc := range []struct {
		name      string
		resources []*registry.Resource
		wantErr   bool
	}{
		{"none", nil, false},
		{"valid", []*registry.Resource{valid}, false},
		{"no NewList", []*registry.Resource{&noList}, true},
		{"no plural", []*registry.Resource{&noPlural}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := New(tc.resources, nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if err := srv.Build(); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.v2Document(); err != nil {
				t.Fatal(err)
			}
			if got, want := len(srv.v3.byPath), len(tc.resources); got != want {
				t.Errorf("%d v3 documents, want %d", got, want)
			}
		})
	}
}
