package image

import (
	"fmt"
	"net/http"
)

// maxRedirects is how many redirects one registry request may follow, as
// many as net/http's own default policy allows.
const maxRedirects = 10

// limitRedirects caps redirect chains. go-containerregistry installs its own
// CheckRedirect (refusing redirects to private addresses), which replaces
// net/http's limit of 10, so a registry redirecting a request to itself
// kept drydock looping forever. Each hop of a chain reaches the transport
// with Response set to the redirect that caused it, so the chain can be
// counted here.
type limitRedirects struct{ next http.RoundTripper }

var _ http.RoundTripper = limitRedirects{}

func (l limitRedirects) RoundTrip(req *http.Request) (*http.Response, error) {
	n := 0
	for r := req; r.Response != nil && r.Response.Request != nil; r = r.Response.Request {
		n++
		if n > maxRedirects {
			return nil, fmt.Errorf("registry %s: stopped after %d redirects (a redirect loop?)", req.URL.Host, maxRedirects)
		}
	}
	return l.next.RoundTrip(req)
}
