package apiserver

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"github.com/k1s/k1s/internal/scheme"
)

const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// codecs are the serializers the api-server speaks.
type codecs struct {
	scheme                 *scheme.Scheme
	json, jsonPretty, yaml *json.Serializer
	jsonStrict, yamlStrict *json.Serializer
	protobuf               *protobuf.Serializer
	protobufRaw            *protobuf.RawSerializer
	params                 runtime.ParameterCodec
}

func newCodecs(s *scheme.Scheme) *codecs {
	mk := func(o json.SerializerOptions) *json.Serializer {
		return json.NewSerializerWithOptions(json.DefaultMetaFactory, s.Scheme, s.Scheme, o)
	}
	return &codecs{
		scheme:      s,
		json:        mk(json.SerializerOptions{}),
		jsonPretty:  mk(json.SerializerOptions{Pretty: true}),
		yaml:        mk(json.SerializerOptions{Yaml: true}),
		jsonStrict:  mk(json.SerializerOptions{Strict: true}),
		yamlStrict:  mk(json.SerializerOptions{Yaml: true, Strict: true}),
		protobuf:    protobuf.NewSerializer(s.Scheme, s.Scheme),
		protobufRaw: protobuf.NewRawSerializer(s.Scheme, s.Scheme),
		params:      runtime.NewParameterCodec(s.Scheme),
	}
}

// output is the negotiated response form.
type output struct {
	mediaType string
	enc       runtime.Encoder
	// as is "", "Table", "PartialObjectMetadata" or "PartialObjectMetadataList".
	as     string
	asGV   schema.GroupVersion
	stream bool
}

// negotiateOutput picks the response media type from the Accept header.
func (c *codecs) negotiateOutput(r *http.Request) (output, error) {
	accept := r.Header.Get("Accept")
	pretty := r.URL.Query().Get("pretty") == "true"
	if accept == "" {
		accept = "*/*"
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		out := output{}
		if as := params["as"]; as != "" {
			switch as {
			case "Table", "PartialObjectMetadata", "PartialObjectMetadataList":
			default:
				continue
			}
			if params["g"] != metav1.GroupName || (params["v"] != "v1" && params["v"] != "v1beta1") {
				continue
			}
			out.as = as
			out.asGV = schema.GroupVersion{Group: metav1.GroupName, Version: params["v"]}
		}
		switch mt {
		case mediaJSON, "application/*", "*/*", "application/json;stream=watch":
			out.mediaType = mediaJSON
			out.enc = c.json
			if pretty {
				out.enc = c.jsonPretty
			}
		case mediaYAML:
			if out.as != "" {
				continue
			}
			out.mediaType = mediaYAML
			out.enc = c.yaml
		case mediaProtobuf:
			if out.as == "Table" {
				continue
			}
			out.mediaType = mediaProtobuf
			out.enc = c.protobuf
		default:
			continue
		}
		return out, nil
	}
	return output{}, newNotAcceptable(strings.Join([]string{mediaJSON, mediaYAML, mediaProtobuf}, ", "))
}

// decoderFor returns the decoder for a request body's content type. strict
// decoders report unknown and duplicate fields as strict decoding errors.
func (c *codecs) decoderFor(contentType string, strict bool) (runtime.Decoder, string, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mt, err = mediaJSON, nil
	}
	if err != nil {
		return nil, "", newUnsupportedMediaType(strings.Join([]string{mediaJSON, mediaYAML, mediaProtobuf}, ", "))
	}
	switch mt {
	case mediaJSON:
		if strict {
			return c.jsonStrict, mt, nil
		}
		return c.json, mt, nil
	case mediaYAML:
		if strict {
			return c.yamlStrict, mt, nil
		}
		return c.yaml, mt, nil
	case mediaProtobuf:
		return c.protobuf, mt, nil
	}
	return nil, "", newUnsupportedMediaType(strings.Join([]string{mediaJSON, mediaYAML, mediaProtobuf}, ", "))
}

// encode serializes obj with enc into a fresh buffer.
func encode(enc runtime.Encoder, obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	if err := enc.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	return buf.Bytes(), nil
}

// readBody reads at most maxBody bytes; a larger body is a 413.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, newBadRequest("reading request body: %v", err)
	}
	if len(data) > maxBody {
		return nil, newRequestEntityTooLarge()
	}
	return data, nil
}

const maxBody = 3 << 20
