package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultMaxRequestBytes bounds an AdmissionReview body. The apiserver
// limits objects to about 3 MiB and a review carries the object and the old
// object.
const DefaultMaxRequestBytes = 7 << 20

// ErrBadReview means the body is not an admission.k8s.io/v1 AdmissionReview
// request; the handlers answer 400 with the error text.
var ErrBadReview = errors.New("malformed AdmissionReview")

// DecodeReview reads an admission.k8s.io/v1 AdmissionReview request of at
// most max bytes from r. Every failure wraps ErrBadReview and says what is
// wrong.
func DecodeReview(r io.Reader, max int64) (*admissionv1.AdmissionReview, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read body: %w", ErrBadReview, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrBadReview, max)
	}
	return ParseReview(data)
}

// ParseReview decodes an AdmissionReview request from data.
func ParseReview(data []byte) (*admissionv1.AdmissionReview, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrBadReview)
	}
	var rv admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &rv); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// Name the JSON field, not Go's types ("into Go value of type
			// v1.AdmissionReview").
			where := "the review"
			if te.Field != "" {
				where = "field " + te.Field
			}
			return nil, fmt.Errorf("%w: %s holds a JSON %s of the wrong kind", ErrBadReview, where, te.Value)
		}
		return nil, fmt.Errorf("%w: %s", ErrBadReview, strings.TrimPrefix(err.Error(), "json: "))
	}
	if rv.APIVersion != "admission.k8s.io/v1" || rv.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("%w: apiVersion %q kind %q, want admission.k8s.io/v1 AdmissionReview", ErrBadReview, rv.APIVersion, rv.Kind)
	}
	if rv.Request == nil {
		return nil, fmt.Errorf("%w: no request", ErrBadReview)
	}
	if rv.Request.UID == "" {
		return nil, fmt.Errorf("%w: request has no uid", ErrBadReview)
	}
	return &rv, nil
}

// writeReview answers with resp for the request rv.
func writeReview(w http.ResponseWriter, rv *admissionv1.AdmissionReview, resp *admissionv1.AdmissionResponse) {
	resp.UID = rv.Request.UID
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: resp,
	}
	b, err := json.Marshal(&out)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func denied(code int32, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{
		Allowed: false,
		Result:  &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: metav1.StatusReasonForbidden, Message: msg},
	}
}
