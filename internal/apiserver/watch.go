package apiserver

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k1s/k1s/internal/storage"
)

// handleWatch streams events to the client until the watch times out, the
// client goes away or the server stops. JSON clients get newline-delimited
// WatchEvents, protobuf clients length-prefixed ones.
func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		return err
	}
	opts, pred, err := s.listOptions(r, res)
	if err != nil {
		return err
	}
	if out.mediaType == mediaYAML {
		return newNotAcceptable(mediaJSON + ", " + mediaProtobuf)
	}
	timeout := time.Duration(30+rand.IntN(30)) * time.Minute
	if opts.TimeoutSeconds != nil && *opts.TimeoutSeconds > 0 {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	sopts := storage.ListOptions{
		ResourceVersion:      opts.ResourceVersion,
		ResourceVersionMatch: string(opts.ResourceVersionMatch),
		Predicate:            pred,
		Recursive:            info.Name == "",
		AllowBookmarks:       opts.AllowWatchBookmarks,
		SendInitialEvents:    opts.SendInitialEvents,
	}
	if opts.SendInitialEvents != nil && *opts.SendInitialEvents {
		if opts.ResourceVersionMatch != metav1.ResourceVersionMatchNotOlderThan {
			return apierrors.NewBadRequest("sendInitialEvents requires resourceVersionMatch=NotOlderThan")
		}
		sopts.AllowBookmarks = true
	}
	key := res.listPrefix(info.Namespace)
	if info.Name != "" {
		key = res.key(info.Namespace, info.Name)
	}
	ctx := r.Context()
	wi, err := res.store.Watch(ctx, key, sopts)
	if err != nil {
		return toAPIError(err, res.gr, "")
	}
	defer wi.Stop()

	flusher, _ := w.(http.Flusher)
	framer := newFramer(out.mediaType)
	w.Header().Set("Content-Type", out.mediaType+watchSuffix(out.mediaType))
	w.Header().Set("Transfer-Encoding", "chunked")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var buf bytes.Buffer
	includeObject := r.URL.Query().Get("includeObject")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			return nil
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return nil
			}
			buf.Reset()
			if err := s.encodeEvent(&buf, framer, out, res, ev, includeObject); err != nil {
				s.log.Error("encoding watch event", "resource", res.gr.String(), "err", err)
				return nil
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return nil
			}
			if len(wi.ResultChan()) == 0 && flusher != nil {
				flusher.Flush()
			}
		}
	}
}

func watchSuffix(mediaType string) string {
	if mediaType == mediaProtobuf {
		return ";stream=watch"
	}
	return ""
}

// framer writes one watch event frame.
type framer func(buf *bytes.Buffer, eventType watch.EventType, obj []byte) error

func newFramer(mediaType string) framer {
	if mediaType == mediaProtobuf {
		return func(buf *bytes.Buffer, t watch.EventType, obj []byte) error {
			ev := metav1.WatchEvent{Type: string(t), Object: runtime.RawExtension{Raw: obj}}
			data, err := ev.Marshal()
			if err != nil {
				return err
			}
			var size [4]byte
			n := len(data)
			size[0], size[1], size[2], size[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
			buf.Write(size[:])
			buf.Write(data)
			return nil
		}
	}
	return func(buf *bytes.Buffer, t watch.EventType, obj []byte) error {
		buf.WriteString(`{"type":`)
		typ, _ := json.Marshal(string(t))
		buf.Write(typ)
		buf.WriteString(`,"object":`)
		buf.Write(bytes.TrimRight(obj, "\n"))
		buf.WriteString("}\n")
		return nil
	}
}

// encodeEvent renders one event's object in the negotiated form and frames it.
func (s *Server) encodeEvent(buf *bytes.Buffer, frame framer, out output, res *resource, ev watch.Event, includeObject string) error {
	obj := ev.Object
	switch {
	case ev.Type == watch.Error:
		if st, ok := obj.(*metav1.Status); ok && st.Kind == "" {
			st = st.DeepCopy()
			st.Kind, st.APIVersion = "Status", "v1"
			obj = st
		}
	case out.as == "Table" && ev.Type != watch.Bookmark:
		t, err := s.toTable(res, obj, includeObject)
		if err != nil {
			return err
		}
		t.APIVersion = out.asGV.String()
		obj = t
	case out.as != "":
		p, err := partialMetadata(obj, out.asGV)
		if err != nil {
			return err
		}
		obj = p
	case obj.GetObjectKind().GroupVersionKind().Empty():
		// Objects are shared between watchers: stamp the kind on a copy.
		obj = obj.DeepCopyObject()
		obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
	}
	enc := out.enc
	if out.mediaType == mediaYAML {
		enc = s.codecs.json
	}
	data, err := encode(enc, obj)
	if err != nil {
		return err
	}
	return frame(buf, ev.Type, data)
}
