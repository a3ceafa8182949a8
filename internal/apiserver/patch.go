package apiserver

import (
	"fmt"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// maxJSONPatchOps bounds a JSON patch's work, as upstream does.
const maxJSONPatchOps = 10000

// checkJSONPatchCopies refuses JSON patches whose copy operations could
// grow the document far past the request size limit: adds and replaces
// bring at most the patch's own bytes, and each copy at most doubles the
// document. Bounding that keeps memory bounded without the library's
// global copy-size knob.
func checkJSONPatchCopies(p jsonpatch.Patch, cur, patch []byte) error {
	size := int64(len(cur) + len(patch))
	for _, op := range p {
		if op.Kind() == "copy" {
			size *= 2
			if size > 4*maxBody {
				return apierrors.NewRequestEntityTooLargeError("the JSON patch's copy operations would grow the object past the size limit")
			}
		}
	}
	return nil
}

var patchTypes = []string{string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType), string(types.ApplyYAMLPatchType)}

// applyPatch applies a patch of type pt to the JSON document cur.
// schema is a typed object used for strategic merge patch field metadata.
func applyPatch(pt types.PatchType, cur, patch []byte, schema any) ([]byte, error) {
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if len(p) > maxJSONPatchOps {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOps, len(p)))
		}
		if err := checkJSONPatchCopies(p, cur, patch); err != nil {
			return nil, err
		}
		out, err := p.Apply(cur)
		if err != nil {
			return nil, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure,
				Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid, Message: err.Error()}}
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(cur, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case types.StrategicMergePatchType:
		out, err := strategicpatch.StrategicMergePatch(cur, patch, schema)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}
	return nil, newUnsupportedMediaType(fmt.Sprint(patchTypes))
}

func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		return err
	}
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	directive, err := fieldValidation(r)
	if err != nil {
		return err
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return newUnsupportedMediaType(fmt.Sprint(patchTypes))
	}
	pt := types.PatchType(mt)
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
	case types.ApplyYAMLPatchType:
		return s.handleApply(w, r, out, res, info, dry)
	default:
		return newUnsupportedMediaType(fmt.Sprint(patchTypes))
	}
	patch, err := readBody(r)
	if err != nil {
		return err
	}
	if len(patch) == 0 {
		return apierrors.NewBadRequest("the request body is empty")
	}
	if info.Subresource == "scale" {
		return s.patchScale(w, r, out, res, info, pt, patch, dry)
	}
	gvk := res.GroupVersionKind()
	var warnings []string
	updated, err := s.updateObject(r.Context(), res, info, dry, func(cur runtime.Object) (runtime.Object, error) {
		cur.GetObjectKind().SetGroupVersionKind(gvk)
		curJSON, err := encode(s.codecs.json, cur)
		if err != nil {
			return nil, err
		}
		patched, err := applyPatch(pt, curJSON, patch, res.New())
		if err != nil {
			return nil, err
		}
		dec := s.codecs.jsonStrict
		if directive == "Ignore" {
			dec = s.codecs.json
		}
		obj, got, err := dec.Decode(patched, &gvk, res.New())
		warnings = nil
		if got != nil && *got != gvk {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the patch changes apiVersion/kind to %q/%q; they must stay %q/%q", got.GroupVersion().String(), got.Kind, gvk.GroupVersion().String(), gvk.Kind))
		}
		if err != nil {
			strictErr, ok := runtime.AsStrictDecodingError(err)
			switch {
			case ok && directive == "Strict":
				return nil, apierrors.NewBadRequest(err.Error())
			case ok:
				for _, e := range strictErr.Errors() {
					warnings = append(warnings, e.Error())
				}
			default:
				return nil, apierrors.NewBadRequest(err.Error())
			}
		}
		if err := checkNameAndNamespace(obj, res, info); err != nil {
			return nil, err
		}
		return obj, nil
	})
	if err != nil {
		return err
	}
	warn(w, warnings)
	return s.respond(w, r, out, http.StatusOK, res, updated)
}

// patchScale applies a patch to the Scale view of an object.
func (s *Server) patchScale(w http.ResponseWriter, r *http.Request, out output, res *resource, info requestInfo, pt types.PatchType, patch []byte, dry bool) error {
	updated, err := s.updateObject(r.Context(), res, info, dry, func(cur runtime.Object) (runtime.Object, error) {
		scale, err := scaleOf(res, cur)
		if err != nil {
			return nil, err
		}
		curJSON, err := encode(s.codecs.json, scale)
		if err != nil {
			return nil, err
		}
		patched, err := applyPatch(pt, curJSON, patch, &autoscalingv1.Scale{})
		if err != nil {
			return nil, err
		}
		var want autoscalingv1.Scale
		if err := yaml.Unmarshal(patched, &want); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		obj, err := applyScale(res, cur, &want)
		if err != nil {
			return nil, err
		}
		return obj, nil
	})
	if err != nil {
		return err
	}
	result, err := scaleOf(res, updated)
	if err != nil {
		return err
	}
	s.writeObject(w, r, out, http.StatusOK, result)
	return nil
}
