package apiserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// k1s serves no custom resources. Clients still look for them: kubectl,
// before validating an object of a kind the OpenAPI document does not
// describe, lists CustomResourceDefinitions to tell "a CRD's kind" from "an
// unknown kind". So the CRD collection exists, read-only and always empty,
// and creating a CRD is refused with a clear 405.
const crdGroup, crdVersion, crdResource = "apiextensions.k8s.io", "v1", "customresourcedefinitions"

var crdGR = schema.GroupResource{Group: crdGroup, Resource: crdResource}

func isCRDPath(path string) bool {
	return strings.HasPrefix(path, "/apis/"+crdGroup+"/"+crdVersion+"/"+crdResource)
}

func (s *Server) serveCRDs(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/apis/"+crdGroup+"/"+crdVersion+"/"+crdResource), "/")
	switch {
	case r.Method != http.MethodGet:
		s.writeError(w, r, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusMethodNotAllowed, Reason: metav1.StatusReasonMethodNotAllowed,
			Message: "k1s does not support custom resources: customresourcedefinitions.apiextensions.k8s.io are read-only and always empty",
		}})
	case rest != "":
		s.writeError(w, r, apierrors.NewNotFound(crdGR, rest))
	case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
		// Nothing will ever change: after the (empty) initial state, hold
		// the watch open until it times out.
		q := r.URL.Query()
		timeout := 30 * time.Minute
		if secs, err := strconv.Atoi(q.Get("timeoutSeconds")); err == nil && secs > 0 {
			timeout = time.Duration(secs) * time.Second
		}
		rev, err := s.resources[schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}].store.CurrentRevision(r.Context())
		if err != nil {
			s.writeError(w, r, toAPIError(err, crdGR, ""))
			return
		}
		w.Header().Set("Content-Type", mediaJSON)
		w.WriteHeader(http.StatusOK)
		if q.Get("sendInitialEvents") == "true" {
			fmt.Fprintf(w, `{"type":"BOOKMARK","object":{"kind":"CustomResourceDefinition","apiVersion":"%s/%s","metadata":{"resourceVersion":"%d","annotations":{"k8s.io/initial-events-end":"true"}}}}`+"\n", crdGroup, crdVersion, rev)
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C:
		}
	default:
		rev, err := s.resources[schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}].store.CurrentRevision(r.Context())
		if err != nil {
			s.writeError(w, r, toAPIError(err, crdGR, ""))
			return
		}
		w.Header().Set("Content-Type", mediaJSON)
		fmt.Fprintf(w, `{"kind":"CustomResourceDefinitionList","apiVersion":"%s/%s","metadata":{"resourceVersion":"%d"},"items":[]}`, crdGroup, crdVersion, rev)
	}
}

// crdDiscovery is the discovery entry of the CRD collection.
func crdAPIResource() metav1.APIResource {
	return metav1.APIResource{
		Name: crdResource, SingularName: "customresourcedefinition", Namespaced: false,
		Kind: "CustomResourceDefinition", Verbs: metav1.Verbs{"get", "list", "watch"}, ShortNames: []string{"crd", "crds"},
	}
}
