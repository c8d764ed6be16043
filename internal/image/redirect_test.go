package image

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRedirectLoopStops: a registry that redirects a manifest request to
// itself used to keep drydock looping forever (150,000 requests in 20 s).
func TestRedirectLoopStops(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path == "/v2/" {
			return
		}
		http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/a/b@sha256:" + strings.Repeat("a", 64)
	_, err := Open(ctx, "registry:"+ref)
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("err = %v, want the redirect limit", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("gave up only at the deadline, after %d requests", requests.Load())
	}
	if n := requests.Load(); n > 50 {
		t.Errorf("%d requests for one manifest", n)
	}
}
