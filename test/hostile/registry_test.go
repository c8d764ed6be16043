package hostile

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestHostileRegistry puts a misbehaving HTTP handler in front of
// go-containerregistry's in-process registry (standing in for a registry
// speaking the OCI distribution protocol) and runs drydock sbom against it.
func TestHostileRegistry(t *testing.T) {
	backend := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var mode atomic.Value
	mode.Store("")
	var otherManifest atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := mode.Load().(string)
		isBlob := strings.Contains(r.URL.Path, "/blobs/sha256:")
		isManifest := strings.Contains(r.URL.Path, "/manifests/")
		switch {
		case m == "redirect-loop" && isManifest:
			http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
			return
		case m == "truncated" && isBlob && r.Method == http.MethodGet:
			rec := httptest.NewRecorder()
			backend.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			w.Header().Set("Content-Length", itoa(len(body)))
			w.WriteHeader(rec.Code)
			w.Write(body[:len(body)/2])
			// Hang up early: the client sees a short body.
			if hj, ok := w.(http.Hijacker); ok {
				conn, _, err := hj.Hijack()
				if err == nil {
					conn.Close()
				}
			}
			return
		case m == "wrong-digest" && isManifest && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "sha256:"):
			// Asked for one digest, answer with another image's manifest.
			b := otherManifest.Load().([]byte)
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Content-Length", itoa(len(b)))
			w.Write(b)
			return
		case m == "slow":
			time.Sleep(300 * time.Millisecond)
			if isBlob && r.Method == http.MethodGet {
				// Drip the blob out slowly.
				rec := httptest.NewRecorder()
				backend.ServeHTTP(rec, r)
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				b := rec.Body.Bytes()
				for len(b) > 0 {
					n := min(len(b), 256)
					w.Write(b[:n])
					w.(http.Flusher).Flush()
					b = b[n:]
					time.Sleep(5 * time.Millisecond)
				}
				return
			}
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	img, _ := random.Image(4096, 2)
	ref, _ := name.ParseReference(host+"/hostile/app:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	other, _ := random.Image(1024, 1)
	otherRaw, _ := other.RawManifest()
	otherManifest.Store(otherRaw)
	dg, _ := img.Digest()
	byDigest := host + "/hostile/app@" + dg.String()

	cases := []struct {
		mode, ref string
		code      int
		msg       string
	}{
		{"redirect-loop", byDigest, 2, `stopped after 10 redirects`},
		{"truncated", byDigest, 2, `(?i)unexpected EOF|truncated|short|digest|closed`},
		{"wrong-digest", byDigest, 2, `(?i)digest`},
		{"slow", byDigest, 0, ""},
	}
	for _, tc := range cases {
		t.Run("registry-"+tc.mode, func(t *testing.T) {
			mode.Store(tc.mode)
			defer mode.Store("")
			e := newEnv(t)
			o := e.run(t, 3*time.Minute, "sbom", tc.ref, "-f", "json", "--progress", "never")
			if tc.code == 0 {
				record(t, o, "ok: patient with a slow registry")
				if o.code != 0 {
					t.Errorf("exit %d: %s", o.code, o.stderr)
				}
				return
			}
			record(t, o, "")
			expectError(t, o, tc.code, tc.msg)
			expectRSS(t, o, 200)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
