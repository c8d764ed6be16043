package admission

// Attacks on the trust chain (issue 10) through the webhook's HTTP handlers,
// against go-containerregistry's in-process registry: a tag the mutating
// webhook could not pin must never be admitted (attack 3), and one review
// naming thousands of images must cause bounded work and a short answer
// (attack 5).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
)

// registryResolver resolves a tag with one HEAD request, as the command's
// resolver (attest.ResolveDigest) does.
type registryResolver struct{}

func (registryResolver) Resolve(ctx context.Context, ref name.Reference) (name.Digest, error) {
	desc, err := remote.Head(ref, remote.WithContext(ctx))
	if err != nil {
		return name.Digest{}, err
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

// registryVerifier stands in for attest's verifier (tested in
// internal/attest): it asks the registry for the digest's manifest (one
// HEAD, over plain HTTP: the test registry's scheme), so every verification
// is a registry round trip, and treats the digests in pass as carrying a
// valid passing verdict, any other as unsigned.
type registryVerifier struct{ pass map[string]bool }

func (v registryVerifier) Verify(ctx context.Context, d name.Digest) (*Verdict, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead,
		"http://"+d.Context().RegistryStr()+"/v2/"+d.Context().RepositoryStr()+"/manifests/"+d.DigestStr(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK && v.pass[d.DigestStr()]:
		return &Verdict{Digest: d.DigestStr(), Result: "pass", Created: time.Now()}, nil
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: no valid verdict: none found", ErrNotVerified)
	}
	return nil, fmt.Errorf("HEAD %s: %s", d, resp.Status)
}

// testRegistry is an in-process registry that counts requests in flight and
// can fail chosen ones.
type testRegistry struct {
	srv  *httptest.Server
	host string
	// failFirstTagHEAD makes the first HEAD of each tag's manifest fail
	// with 403, as a registry that errs on one request does; the next
	// succeeds.
	failFirstTagHEAD atomic.Bool
	// delay holds each request, so concurrent ones overlap.
	delay atomic.Int64 // time.Duration

	mu                  sync.Mutex
	headsSeen           map[string]int
	inFlight, maxFlight atomic.Int64
	total               atomic.Int64
	maxGoroutines       atomic.Int64
}

func newTestRegistry(t testing.TB) *testRegistry {
	t.Helper()
	r := &testRegistry{headsSeen: map[string]int{}}
	inner := registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := r.inFlight.Add(1)
		defer r.inFlight.Add(-1)
		r.total.Add(1)
		for m := r.maxFlight.Load(); n > m && !r.maxFlight.CompareAndSwap(m, n); m = r.maxFlight.Load() {
		}
		for g, m := int64(runtime.NumGoroutine()), r.maxGoroutines.Load(); g > m && !r.maxGoroutines.CompareAndSwap(m, g); m = r.maxGoroutines.Load() {
		}
		time.Sleep(time.Duration(r.delay.Load()))
		if r.failFirstTagHEAD.Load() && req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/manifests/") && !strings.Contains(req.URL.Path, "sha256:") {
			r.mu.Lock()
			r.headsSeen[req.URL.Path]++
			first := r.headsSeen[req.URL.Path] == 1
			r.mu.Unlock()
			if first {
				w.WriteHeader(http.StatusForbidden)
				return
			}
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

func (r *testRegistry) push(t testing.TB, repoTag string) name.Digest {
	t.Helper()
	tag, err := name.NewTag(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	return tag.Context().Digest(h.String())
}

// post sends one AdmissionReview to path and returns the response.
func post(t testing.TB, url, path string, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	resp, err := http.Post(url+path, "application/json", bytes.NewReader(reviewBody(req)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: status %d: %s", path, resp.StatusCode, b)
	}
	var rv admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &rv); err != nil || rv.Response == nil {
		t.Fatalf("%s: %v: %s", path, err, b)
	}
	return rv.Response
}

// serveHTTP runs the server's handlers on a loopback listener.
func serveHTTP(t testing.TB, s *Server) string {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

func admitHTTP(t testing.TB, url string, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	return admitWith(t,
		func(r *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
			return post(t, url, "/mutate", r)
		},
		func(r *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
			return post(t, url, "/validate", r)
		}, req)
}

func responseText(r *admissionv1.AdmissionResponse) string {
	text := strings.Join(r.Warnings, "\n")
	if r.Result != nil {
		text += "\n" + r.Result.Message
	}
	return text
}

// Attack 3: the registry fails /mutate's resolution of a tag (and only
// that request). The old webhook let the tag through unpinned, because
// /validate resolved it again, successfully, and admitted the tag, which
// may name other content by the time a node pulls it.
func TestUnpinnedTagIsNeverAdmitted(t *testing.T) {
	reg := newTestRegistry(t)
	good := reg.push(t, "team/app:good")
	reg.push(t, "team/app:unsigned")
	ver := registryVerifier{pass: map[string]bool{good.DigestStr(): true}}
	newServer := func(failOpen bool) *Server {
		s, err := New(Config{Verifier: ver, Resolver: registryResolver{}, FailOpen: failOpen, Insecure: true,
			CacheSize: 100, CacheTTL: time.Minute, Metrics: NewMetrics(prometheus.NewRegistry())})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	goodTag, unsignedTag := reg.host+"/team/app:good", reg.host+"/team/app:unsigned"

	// With the registry answering, the tag is pinned and admitted.
	url := serveHTTP(t, newServer(false))
	if r := admitHTTP(t, url, reviewOf("default", "Pod", podJSON("p", nil, goodTag))); !r.Allowed {
		t.Fatalf("healthy registry: signed tag denied: %s", responseText(r))
	}

	for _, tc := range []struct {
		name     string
		failOpen bool
		image    string
		allow    bool
		wants    []string
	}{
		{"fail closed", false, goodTag, false, []string{"drydock denied Pod default/p", goodTag,
			"not pinned to a digest: the mutating webhook could not resolve it", "403 Forbidden"}},
		{"failure policy ignore admits with a warning", true, goodTag, true, []string{"admitted on error (failure policy ignore)",
			"not pinned to a digest: the mutating webhook could not resolve it", "403 Forbidden"}},
		{"unsigned denied even when failing open", true, unsignedTag, false, []string{"no valid verdict"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg.mu.Lock()
			reg.headsSeen = map[string]int{}
			reg.mu.Unlock()
			reg.failFirstTagHEAD.Store(true)
			defer reg.failFirstTagHEAD.Store(false)
			url := serveHTTP(t, newServer(tc.failOpen))
			r := admitHTTP(t, url, reviewOf("default", "Pod", podJSON("p", nil, tc.image)))
			text := responseText(r)
			if r.Allowed != tc.allow {
				t.Fatalf("allowed %v, want %v: %s", r.Allowed, tc.allow, text)
			}
			for _, w := range tc.wants {
				if !strings.Contains(text, w) {
					t.Errorf("response %q does not say %q", text, w)
				}
			}
			reg.mu.Lock()
			heads := reg.headsSeen["/v2/team/app/manifests/"+strings.TrimPrefix(tc.image, reg.host+"/team/app:")]
			reg.mu.Unlock()
			if heads < 2 {
				t.Errorf("tag resolved %d times, want /mutate's failed try and /validate's", heads)
			}
		})
	}

	// Without the mutating webhook (only /validate registered), a tag is
	// denied even though it resolves to a signed digest now.
	s := newServer(false)
	r := post(t, serveHTTP(t, s), "/validate", reviewOf("default", "Pod", podJSON("p", nil, goodTag)))
	if r.Allowed || !strings.Contains(r.Result.Message, "the mutating webhook did not pin it") {
		t.Errorf("tag without /mutate: allowed %v: %s", r.Allowed, responseText(r))
	}
	// The same image by digest needs no pinning.
	if r := post(t, serveHTTP(t, s), "/validate", reviewOf("default", "Pod", podJSON("p", nil, goodTag+"@"+good.DigestStr()))); !r.Allowed {
		t.Errorf("pinned image denied: %s", responseText(r))
	}
}

func imagesOf(host string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s/team/app%d@sha256:%064x", host, i, i+1)
	}
	return out
}

// Attack 5: one review naming 3,000 images. The old webhook started a
// goroutine and registry requests per image all at once, ran past the
// apiserver's timeout and answered with a message of megabytes.
func TestFanOutIsBounded(t *testing.T) {
	const n = 3000
	reg := newTestRegistry(t)
	mk := func(t *testing.T, mod func(*Config)) *Server {
		cfg := Config{Verifier: registryVerifier{}, Resolver: registryResolver{}, Insecure: true,
			RequestTimeout: 2 * time.Minute, Metrics: NewMetrics(prometheus.NewRegistry())}
		if mod != nil {
			mod(&cfg)
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	reset := func() {
		reg.maxFlight.Store(0)
		reg.total.Store(0)
		reg.maxGoroutines.Store(0)
	}
	pod := reviewOf("default", "Pod", podJSON("many", nil, imagesOf(reg.host, n)...))

	t.Run("default limit denies unchecked", func(t *testing.T) {
		reset()
		s := mk(t, nil)
		url := serveHTTP(t, s)
		r := admitHTTP(t, url, pod)
		if r.Allowed || !strings.Contains(r.Result.Message, "3,000 distinct images, more than the 64 drydock checks per object (--max-images)") {
			t.Fatalf("allowed %v: %s", r.Allowed, responseText(r))
		}
		if len(r.Result.Message) > 300 {
			t.Errorf("message of %d bytes", len(r.Result.Message))
		}
		if got := reg.total.Load(); got != 0 {
			t.Errorf("%d registry requests for an object over the limit, want 0", got)
		}
	})

	for _, tc := range []struct {
		name                string
		review, perRegistry int
		mode                Mode
		wantMax             int64
	}{
		{"per-registry bound", 8, 4, ModeEnforce, 4},
		{"per-review bound", 2, 100, ModeEnforce, 2},
		{"warn mode", 8, 4, ModeWarn, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reset()
			reg.delay.Store(int64(200 * time.Microsecond))
			defer reg.delay.Store(0)
			s := mk(t, func(c *Config) {
				c.MaxImages, c.ReviewConcurrency, c.RegistryConcurrency, c.Mode = n, tc.review, tc.perRegistry, tc.mode
			})
			url := serveHTTP(t, s)
			r := admitHTTP(t, url, pod)
			if got := reg.maxFlight.Load(); got > tc.wantMax || got == 0 {
				t.Errorf("at most %d registry requests in flight, want 1..%d", got, tc.wantMax)
			}
			// Every image was checked: at least one request each.
			if got := reg.total.Load(); got < n {
				t.Errorf("%d registry requests for %d images", got, n)
			}
			if g := reg.maxGoroutines.Load(); g > 400 {
				t.Errorf("%d goroutines during the review: not bounded", g)
			}
			var text string
			var size int
			if tc.mode == ModeWarn {
				if !r.Allowed || len(r.Warnings) != maxListed+1 {
					t.Fatalf("warn mode: allowed %v with %d warnings", r.Allowed, len(r.Warnings))
				}
				text = strings.Join(r.Warnings, "\n")
				size = len(text)
				if last := r.Warnings[maxListed]; last != "drydock: … and 2,990 more" {
					t.Errorf("last warning %q", last)
				}
			} else {
				if r.Allowed {
					t.Fatal("3,000 unsigned images admitted")
				}
				text = r.Result.Message
				size = len(text)
				if !strings.HasSuffix(text, "; … and 2,990 more") {
					t.Errorf("message does not end with the count: …%s", text[max(0, len(text)-80):])
				}
				if !strings.Contains(text, imagesOf(reg.host, 1)[0]) || !strings.Contains(text, "no valid verdict") {
					t.Errorf("message does not name the first image and why: %.300s", text)
				}
			}
			if size > 8<<10 {
				t.Errorf("answer of %d bytes for %d images", size, n)
			}
			if s.hosts.len() != 0 {
				t.Errorf("%d registry hosts still held after the review", s.hosts.len())
			}
		})
	}
}

// The per-registry bound is shared: concurrent reviews together stay under
// it.
func TestRegistryBoundIsSharedAcrossReviews(t *testing.T) {
	reg := newTestRegistry(t)
	reg.delay.Store(int64(2 * time.Millisecond))
	s, err := New(Config{Verifier: registryVerifier{}, Resolver: registryResolver{}, Insecure: true,
		RegistryConcurrency: 3, ReviewConcurrency: 8, RequestTimeout: time.Minute, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	url := serveHTTP(t, s)
	var wg sync.WaitGroup
	for i := range 4 {
		imgs := imagesOf(reg.host, 60)[i*15 : (i+1)*15]
		wg.Go(func() {
			if r := post(t, url, "/validate", reviewOf("default", "Pod", podJSON("p", nil, imgs...))); r.Allowed {
				t.Error("unsigned images admitted")
			}
		})
	}
	wg.Wait()
	if got := reg.maxFlight.Load(); got > 3 || got == 0 {
		t.Errorf("%d registry requests in flight across reviews, want 1..3", got)
	}
}

// A review that runs out of time while waiting for a registry slot is
// denied with the reason, and never waits past its deadline.
func TestRegistryWaitEndsWithTheReview(t *testing.T) {
	l := newHostLimiter(1)
	release, err := l.acquire(context.Background(), "r.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx, "r.test"); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "--registry-concurrency") {
		t.Errorf("wait past the deadline: %v", err)
	}
	release()
	if l.len() != 0 {
		t.Errorf("%d hosts kept after release", l.len())
	}
}

func TestMessageBounds(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {2990, "2,990"}, {1234567, "1,234,567"}, {-4500, "-4,500"}} {
		if got := thousands(tc.n); got != tc.want {
			t.Errorf("thousands(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"héllo wörld", 8, "héll…"},
		{"ééééé", 6, "é…"}, // never cuts a rune in two
		{"short", 8, "short"},
	} {
		if got := clip(tc.in, tc.n); got != tc.want || len(got) > tc.n {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	long := strings.Repeat("x", 5000)
	o := outcome{ci: ContainerImage{Image: long, Container: long}, reason: long}
	if m := o.message(); len(m) > 2*maxMessage {
		t.Errorf("one image's message is %d bytes", len(m))
	}
	var msgs []string
	for i := range 25 {
		msgs = append(msgs, fmt.Sprint(i))
	}
	got := listed(msgs, "p: ")
	if len(got) != maxListed+1 || got[maxListed] != "p: … and 15 more" || got[0] != "0" {
		t.Errorf("listed: %q", got)
	}
	if got := listed(msgs[:3], ""); len(got) != 3 {
		t.Errorf("short list changed: %q", got)
	}
}
