package registryauth

import "testing"

// FuzzTokenAnswers feeds what token endpoints may send (JWTs whose expiry
// is read, error bodies that are summarised) to their parsers: no panic,
// and an error summary stays short.
func FuzzTokenAnswers(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.sig", `{"error":"invalid_client","error_description":"AADSTS700016"}`)
	f.Add("a.b.c", `{"errors":[{"code":"UNAUTHORIZED","message":"x"}]}`)
	f.Add("", `{"__type":"InvalidSignatureException","message":"bad"}`)
	f.Fuzz(func(t *testing.T, jwt, body string) {
		jwtExpiry(jwt)
		s := errorText([]byte(body))
		if len(s) > 400 {
			t.Errorf("error summary of %d bytes", len(s))
		}
	})
}
