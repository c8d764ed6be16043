package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// fakes ---------------------------------------------------------------------

type fakeResolver struct {
	tags  map[string]string // tag reference name → digest
	err   error
	calls atomic.Int64
}

func (f *fakeResolver) Resolve(_ context.Context, ref name.Reference) (name.Digest, error) {
	f.calls.Add(1)
	if f.err != nil {
		return name.Digest{}, f.err
	}
	d, ok := f.tags[ref.Name()]
	if !ok {
		return name.Digest{}, fmt.Errorf("MANIFEST_UNKNOWN: %s", ref.Name())
	}
	return ref.Context().Digest(d), nil
}

type fakeVerifier struct {
	mu       sync.Mutex
	verdicts map[string]*Verdict // digest → verdict
	err      error               // operational error for everything
	calls    atomic.Int64
}

func (f *fakeVerifier) Verify(_ context.Context, d name.Digest) (*Verdict, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.verdicts[d.DigestStr()]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("%w: no valid verdict for %s: none found", ErrNotVerified, d.DigestStr())
}

type fakeLabeler map[string]map[string]string

func (f fakeLabeler) NamespaceLabels(_ context.Context, ns string) (map[string]string, error) {
	return f[ns], nil
}

// denyProdWithoutTeam is a request-dependent rule: in namespaces labelled
// env=prod, the object must carry a team label.
type denyProdWithoutTeam struct{ calls atomic.Int64 }

func (e *denyProdWithoutTeam) Evaluate(ctx context.Context, req Request) (Decision, error) {
	e.calls.Add(1)
	if req.Kubernetes.NamespaceLabels["env"] == "prod" && req.Kubernetes.Labels["team"] == "" {
		return Decision{Reasons: []string{"prod workloads need a team label"}}, nil
	}
	return RequirePass{}.Evaluate(ctx, req)
}

func newTestServer(t testing.TB, mod func(*Config)) (*Server, *fakeResolver, *fakeVerifier) {
	t.Helper()
	res := &fakeResolver{tags: map[string]string{
		"registry.test/app:good":   digestA,
		"registry.test/app:bad":    digestB,
		"registry.test/app:nosign": "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
	}}
	ver := &fakeVerifier{verdicts: map[string]*Verdict{
		digestA: {Digest: digestA, Result: "pass", Created: time.Now()},
		digestB: {Digest: digestB, Result: "fail", Created: time.Now()},
	}}
	cfg := Config{Verifier: ver, Resolver: res, CacheSize: 100, CacheTTL: time.Minute, NegativeTTL: time.Minute,
		Metrics: NewMetrics(prometheus.NewRegistry())}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, res, ver
}

// review builders ------------------------------------------------------------

func podJSON(name string, labels map[string]string, images ...string) []byte {
	var cs []map[string]any
	for i, im := range images {
		cs = append(cs, map[string]any{"name": "c" + strconv.Itoa(i), "image": im})
	}
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "labels": labels},
		"spec":     map[string]any{"containers": cs},
	})
	return b
}

func reviewOf(ns, kind string, obj []byte) *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{
		UID: "uid-1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: kind},
		Namespace: ns, Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: obj},
	}
}

func reviewBody(req *admissionv1.AdmissionRequest) []byte {
	b, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req,
	})
	return b
}

// admit does what the apiserver does with both webhooks registered: /mutate,
// its JSON patch applied to the object, then /validate on the result.
func admit(t testing.TB, s *Server, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	ctx := context.Background()
	return admitWith(t, func(r *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse { return s.Mutate(ctx, r) },
		func(r *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse { return s.Validate(ctx, r) }, req)
}

// admitWith is admit through any pair of webhook calls (the handlers, over
// HTTP).
func admitWith(t testing.TB, mutate, validate func(*admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	m := mutate(req)
	if !m.Allowed {
		return m
	}
	if m.Patch != nil {
		var doc any
		if err := json.Unmarshal(req.Object.Raw, &doc); err != nil {
			t.Fatal(err)
		}
		var ops []PatchOp
		if err := json.Unmarshal(m.Patch, &ops); err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			if op.Op != "replace" {
				t.Fatalf("patch op %q, want replace", op.Op)
			}
			i := strings.LastIndex(op.Path, "/")
			parent, ok := pointer(t, doc, op.Path[:i]).(map[string]any)
			if !ok || parent[op.Path[i+1:]] == nil {
				t.Fatalf("patch path %s does not exist", op.Path)
			}
			parent[op.Path[i+1:]] = op.Value
		}
		patched := *req
		patched.Object.Raw, _ = json.Marshal(doc)
		req = &patched
	}
	return validate(req)
}

// tests ----------------------------------------------------------------------

func TestParseReview(t *testing.T) {
	good := reviewBody(reviewOf("default", "Pod", podJSON("p", nil, "x")))
	if rv, err := ParseReview(good); err != nil || rv.Request.UID != "uid-1" {
		t.Fatalf("good review: %v", err)
	}
	for name, body := range map[string]string{
		"empty":       "",
		"not json":    "{",
		"array":       "[]",
		"wrong kind":  `{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"x"}}`,
		"v1beta1":     `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`,
		"no request":  `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`,
		"no uid":      `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`,
		"bad request": `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"x"}`,
	} {
		if _, err := ParseReview([]byte(body)); !errors.Is(err, ErrBadReview) {
			t.Errorf("%s: err %v, want ErrBadReview", name, err)
		}
	}
	if _, err := DecodeReview(bytes.NewReader(good), int64(len(good)-1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized body: %v", err)
	}
}

// pointer resolves an RFC 6901 pointer in a decoded JSON document.
func pointer(t testing.TB, doc any, p string) any {
	t.Helper()
	for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		switch v := doc.(type) {
		case map[string]any:
			doc = v[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i >= len(v) {
				t.Fatalf("pointer %s: bad index %s", p, tok)
			}
			doc = v[i]
		default:
			t.Fatalf("pointer %s: cannot descend at %s", p, tok)
		}
	}
	return doc
}

func TestExtractImagesEveryKind(t *testing.T) {
	podSpec := map[string]any{
		"initContainers":      []any{map[string]any{"name": "setup", "image": "init:1"}},
		"containers":          []any{map[string]any{"name": "app", "image": "app:1"}, map[string]any{"name": "side", "image": "side:1"}},
		"ephemeralContainers": []any{map[string]any{"name": "debug", "image": "debug:1"}},
	}
	template := map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": "b"}}, "spec": podSpec}
	objs := map[string]map[string]any{
		"Pod":                   {"spec": podSpec},
		"ReplicationController": {"spec": map[string]any{"template": template}},
		"Deployment":            {"spec": map[string]any{"template": template}},
		"StatefulSet":           {"spec": map[string]any{"template": template}},
		"DaemonSet":             {"spec": map[string]any{"template": template}},
		"ReplicaSet":            {"spec": map[string]any{"template": template}},
		"Job":                   {"spec": map[string]any{"template": template}},
		"CronJob":               {"spec": map[string]any{"schedule": "* * * * *", "jobTemplate": map[string]any{"spec": map[string]any{"template": template}}}},
	}
	if len(objs) != len(Kinds) {
		t.Fatalf("test covers %d kinds, Kinds lists %d", len(objs), len(Kinds))
	}
	for _, k := range Kinds {
		o := objs[k.Kind]
		o["kind"], o["metadata"] = k.Kind, map[string]any{"name": "obj", "labels": map[string]any{"team": "x"}}
		raw, _ := json.Marshal(o)
		got, err := ExtractImages(k.Kind, raw)
		if err != nil {
			t.Fatalf("%s: %v", k.Kind, err)
		}
		if got.Name != "obj" || got.Labels["team"] != "x" {
			t.Errorf("%s: meta %q %v", k.Kind, got.Name, got.Labels)
		}
		var names []string
		var doc any
		_ = json.Unmarshal(raw, &doc)
		for _, ci := range got.Images {
			names = append(names, ci.Container+"="+ci.Image)
			if v := pointer(t, doc, ci.Path); v != ci.Image {
				t.Errorf("%s: path %s holds %v, want %s", k.Kind, ci.Path, v, ci.Image)
			}
		}
		if want := "init:setup=init:1 app=app:1 side=side:1 ephemeral:debug=debug:1"; strings.Join(names, " ") != want {
			t.Errorf("%s: images %q, want %q", k.Kind, strings.Join(names, " "), want)
		}
	}
	if _, err := ExtractImages("ConfigMap", []byte(`{}`)); !errors.Is(err, ErrUnsupportedKind) {
		t.Errorf("ConfigMap: %v", err)
	}
	if _, err := ExtractImages("Pod", []byte(`{"spec":{"containers":"x"}}`)); !errors.Is(err, ErrBadReview) {
		t.Errorf("bad pod: %v", err)
	}
}

func TestMutatePinsTagsToDigests(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	raw := podJSON("p", nil, "registry.test/app:good", "registry.test/app@"+digestB, "registry.test/app:missing")
	resp := s.Mutate(context.Background(), reviewOf("default", "Pod", raw))
	if !resp.Allowed || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("response %+v", resp)
	}
	var ops []PatchOp
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	want := []PatchOp{{Op: "replace", Path: "/spec/containers/0/image", Value: "registry.test/app:good@" + digestA}}
	if fmt.Sprint(ops) != fmt.Sprint(want) {
		t.Errorf("patch %+v, want %+v", ops, want)
	}
	// The pinned form parses as a digest reference of the same repository.
	d, err := name.NewDigest(ops[0].Value)
	if err != nil || d.DigestStr() != digestA || d.Context().Name() != "registry.test/app" {
		t.Errorf("pinned reference %q parses as %v, %v", ops[0].Value, d, err)
	}
	// Nothing to pin: no patch.
	resp = s.Mutate(context.Background(), reviewOf("default", "Pod", podJSON("p", nil, "registry.test/app@"+digestA)))
	if !resp.Allowed || resp.Patch != nil {
		t.Errorf("digest-only pod: %+v", resp)
	}
}

func TestValidateDecisions(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	for _, tc := range []struct {
		image, want string
		allow       bool
	}{
		{"registry.test/app:good", "", true},
		{"registry.test/app@" + digestA, "", true},
		{"registry.test/app:good@" + digestA, "", true},
		{"registry.test/app:bad", "verdict result is fail", false},
		{"registry.test/app:nosign", "no valid verdict", false},
		{"registry.test/app:missing", "not pinned to a digest: the mutating webhook could not resolve it: MANIFEST_UNKNOWN", false},
		{"Not A Reference", "invalid image reference", false},
	} {
		resp := admit(t, s, reviewOf("default", "Pod", podJSON("web", nil, tc.image)))
		if resp.Allowed != tc.allow {
			t.Errorf("%s: allowed %v, want %v (%+v)", tc.image, resp.Allowed, tc.allow, resp.Result)
			continue
		}
		if !tc.allow {
			msg := resp.Result.Message
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, tc.image) || !strings.Contains(msg, "Pod default/web") || resp.Result.Code != 403 {
				t.Errorf("%s: message %q (code %d) should name the object, image and %q", tc.image, msg, resp.Result.Code, tc.want)
			}
		}
	}
}

func TestUpdateChecksOnlyChangedImages(t *testing.T) {
	s, _, ver := newTestServer(t, nil)
	unsigned := "registry.test/app@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	update := func(oldImages, newImages []string) *admissionv1.AdmissionRequest {
		r := reviewOf("default", "Pod", podJSON("p", map[string]string{"new": "label"}, newImages...))
		r.Operation, r.OldObject = admissionv1.Update, runtime.RawExtension{Raw: podJSON("p", nil, oldImages...)}
		return r
	}
	// A label change on a pod whose (now unverifiable) image is unchanged.
	if r := s.Validate(context.Background(), update([]string{unsigned}, []string{unsigned})); !r.Allowed {
		t.Errorf("unchanged image denied on update: %+v", r.Result)
	}
	if n := ver.calls.Load(); n != 0 {
		t.Errorf("unchanged image verified %d times", n)
	}
	// A changed image is checked.
	if r := s.Validate(context.Background(), update([]string{"registry.test/app@" + digestA}, []string{unsigned})); r.Allowed {
		t.Error("new unsigned image admitted on update")
	}
	if r := admit(t, s, update([]string{unsigned}, []string{unsigned, "registry.test/app:good"})); !r.Allowed {
		t.Errorf("added signed image denied: %+v", r.Result)
	}
	if r := s.Mutate(context.Background(), update([]string{"registry.test/app:good"}, []string{"registry.test/app:good"})); r.Patch != nil {
		t.Errorf("unchanged tag re-pinned on update: %s", r.Patch)
	}
}

func TestNamespaceSelection(t *testing.T) {
	labels := fakeLabeler{
		"plain":    {},
		"ignored":  {LabelIgnore: "true"},
		"enforced": {LabelEnforce: "true"},
	}
	bad := podJSON("p", nil, "registry.test/app:nosign")
	for _, tc := range []struct {
		sel   Selection
		ns    string
		allow bool
	}{
		{SelectOptOut, "plain", false},
		{SelectOptOut, "ignored", true},
		{SelectOptOut, "enforced", false},
		{SelectOptOut, "drydock-system", true}, // own namespace, always
		{SelectOptOut, "kube-system", true},    // listed exempt
		{SelectOptIn, "plain", true},
		{SelectOptIn, "ignored", true},
		{SelectOptIn, "enforced", false},
		{SelectOptIn, "drydock-system", true},
	} {
		s, _, ver := newTestServer(t, func(c *Config) {
			c.Selection, c.Namespaces, c.ExemptNamespaces = tc.sel, labels, []string{"kube-system"}
			if tc.ns == "drydock-system" { // even labelled in, own namespace is exempt
				c.Namespaces = fakeLabeler{"drydock-system": {LabelEnforce: "true"}}
			}
		})
		resp := s.Validate(context.Background(), reviewOf(tc.ns, "Pod", bad))
		if resp.Allowed != tc.allow {
			t.Errorf("%s %s: allowed %v, want %v", tc.sel, tc.ns, resp.Allowed, tc.allow)
		}
		if tc.allow && ver.calls.Load() != 0 {
			t.Errorf("%s %s: skipped namespace still verified", tc.sel, tc.ns)
		}
		mresp := s.Mutate(context.Background(), reviewOf(tc.ns, "Pod", bad))
		if tc.allow && mresp.Patch != nil {
			t.Errorf("%s %s: skipped namespace mutated", tc.sel, tc.ns)
		}
	}
}

func TestModes(t *testing.T) {
	reg := prometheus.NewRegistry()
	labels := fakeLabeler{"w": {LabelMode: "warn"}, "a": {LabelMode: "audit"}, "e": {LabelMode: "enforce"}, "x": {LabelMode: "bogus"}}
	for _, tc := range []struct {
		def     Mode
		ns      string
		allow   bool
		warning bool
	}{
		{ModeEnforce, "e", false, false},
		{ModeEnforce, "x", false, false}, // a bad label keeps the default
		{ModeEnforce, "w", true, true},
		{ModeEnforce, "a", true, false},
		{ModeWarn, "none", true, true},
		{ModeAudit, "none", true, false},
		{ModeWarn, "e", false, false}, // a namespace can be stricter
	} {
		s, _, _ := newTestServer(t, func(c *Config) {
			c.Mode, c.Namespaces, c.Metrics = tc.def, labels, NewMetrics(nil)
		})
		resp := admit(t, s, reviewOf(tc.ns, "Pod", podJSON("p", nil, "registry.test/app:bad", "registry.test/app:good")))
		if resp.Allowed != tc.allow || (len(resp.Warnings) > 0) != tc.warning {
			t.Errorf("mode %s ns %s: allowed %v warnings %q", tc.def, tc.ns, resp.Allowed, resp.Warnings)
		}
		if tc.warning && (len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "registry.test/app:bad") || !strings.Contains(resp.Warnings[0], "would deny")) {
			t.Errorf("mode %s ns %s: warnings %q should name only the failing image", tc.def, tc.ns, resp.Warnings)
		}
	}
	// Audit counts.
	s, _, _ := newTestServer(t, func(c *Config) { c.Mode, c.Metrics = ModeAudit, NewMetrics(reg) })
	s.Validate(context.Background(), reviewOf("d", "Pod", podJSON("p", nil, "registry.test/app:bad")))
	if n := counterValue(t, reg, "drydock_admission_decisions_total", map[string]string{"result": "audit", "mode": "audit"}); n != 1 {
		t.Errorf("audit decisions counted %v, want 1", n)
	}
}

func counterValue(t *testing.T, g prometheus.Gatherer, metric string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestFailurePolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failOpen bool
		resErr   error
		verErr   error
		image    string
		allow    bool
		want     string
	}{
		{"registry down closed", false, errors.New("dial tcp: connection refused"), nil, "registry.test/app:good", false, "not pinned to a digest: the mutating webhook could not resolve it: dial tcp: connection refused"},
		{"registry down open", true, errors.New("dial tcp: connection refused"), nil, "registry.test/app:good", true, "failure policy ignore"},
		{"verify error closed", false, nil, errors.New("referrers: 500"), "registry.test/app@" + digestA, false, "cannot verify the verdict: referrers: 500"},
		{"verify error open", true, nil, errors.New("referrers: 500"), "registry.test/app@" + digestA, true, "failure policy ignore"},
		{"unsigned denies even when open", true, nil, nil, "registry.test/app:nosign", false, "no valid verdict"},
		{"failed verdict denies even when open", true, nil, nil, "registry.test/app:bad", false, "verdict result is fail"},
	} {
		s, res, ver := newTestServer(t, func(c *Config) { c.FailOpen = tc.failOpen })
		res.err, ver.err = tc.resErr, tc.verErr
		resp := admit(t, s, reviewOf("default", "Pod", podJSON("p", nil, tc.image)))
		text := strings.Join(resp.Warnings, "\n")
		if resp.Result != nil {
			text += resp.Result.Message
		}
		if resp.Allowed != tc.allow || !strings.Contains(text, tc.want) {
			t.Errorf("%s: allowed %v, text %q; want %v with %q", tc.name, resp.Allowed, text, tc.allow, tc.want)
		}
	}
}

func TestCacheTTLAndBound(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewCache[int](2)
	c.now = func() time.Time { return now }
	c.Put("a", 1, time.Minute)
	c.Put("b", 2, time.Second)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatal("a missing")
	}
	now = now.Add(2 * time.Second)
	if _, ok := c.Get("b"); ok {
		t.Error("b outlived its TTL")
	}
	c.Put("b", 2, time.Minute)
	c.Get("a")                 // a is now most recent
	c.Put("c", 3, time.Minute) // evicts b
	if _, ok := c.Get("b"); ok {
		t.Error("least recently used entry not evicted")
	}
	if _, ok := c.Get("a"); !ok {
		t.Error("recently used entry evicted")
	}
	if c.Len() > 2 {
		t.Errorf("len %d over bound", c.Len())
	}
	for i := range 1000 {
		c.Put(strconv.Itoa(i), i, time.Minute)
	}
	if c.Len() != 2 {
		t.Errorf("len %d after many puts, want 2", c.Len())
	}
	c.Put("zero-ttl", 1, 0)
	if _, ok := c.Get("zero-ttl"); ok {
		t.Error("zero TTL cached")
	}
	off := NewCache[int](0)
	off.Put("a", 1, time.Minute)
	if _, ok := off.Get("a"); ok {
		t.Error("disabled cache cached")
	}
}

func TestCachedAllowDoesNotBypassRequestDeny(t *testing.T) {
	ev := &denyProdWithoutTeam{}
	s, _, ver := newTestServer(t, func(c *Config) {
		c.Evaluator = ev
		c.Namespaces = fakeLabeler{"dev": {"env": "dev"}, "prod": {"env": "prod"}}
	})
	img := "registry.test/app@" + digestA
	if r := s.Validate(context.Background(), reviewOf("dev", "Pod", podJSON("p", nil, img))); !r.Allowed {
		t.Fatalf("dev: %+v", r.Result)
	}
	// Same digest, cached verification, but this request breaks a rule.
	r := s.Validate(context.Background(), reviewOf("prod", "Pod", podJSON("p", nil, img)))
	if r.Allowed || !strings.Contains(r.Result.Message, "prod workloads need a team label") {
		t.Fatalf("prod without team: allowed %v %+v", r.Allowed, r.Result)
	}
	if r := s.Validate(context.Background(), reviewOf("prod", "Pod", podJSON("p", map[string]string{"team": "a"}, img))); !r.Allowed {
		t.Fatalf("prod with team: %+v", r.Result)
	}
	if n := ver.calls.Load(); n != 1 {
		t.Errorf("verifier called %d times, want 1 (cached)", n)
	}
	if n := ev.calls.Load(); n != 3 {
		t.Errorf("evaluator called %d times, want 3 (every request)", n)
	}
}

func TestNegativeCacheAndErrorsNotCached(t *testing.T) {
	s, _, ver := newTestServer(t, nil)
	img := "registry.test/app@sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	for range 3 {
		s.Validate(context.Background(), reviewOf("d", "Pod", podJSON("p", nil, img)))
	}
	if n := ver.calls.Load(); n != 1 {
		t.Errorf("negative result verified %d times, want 1", n)
	}
	s, _, ver = newTestServer(t, nil)
	ver.err = errors.New("timeout")
	for range 3 {
		s.Validate(context.Background(), reviewOf("d", "Pod", podJSON("p", nil, img)))
	}
	if n := ver.calls.Load(); n != 3 {
		t.Errorf("operational error verified %d times, want 3 (never cached)", n)
	}
}

func TestHTTPHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, _, _ := newTestServer(t, func(c *Config) { c.Metrics, c.Gatherer = NewMetrics(reg), reg })
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	post := func(path, ct string, body []byte) (*http.Response, []byte) {
		resp, err := http.Post(ts.URL+path, ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := post("/validate", "application/json", []byte(`{"kind":"nope"}`))
	if resp.StatusCode != 400 || !strings.Contains(string(body), "malformed AdmissionReview") {
		t.Errorf("malformed: %d %s", resp.StatusCode, body)
	}
	resp, _ = post("/validate", "text/plain", []byte(`x`))
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", resp.StatusCode)
	}
	resp, body = post("/validate", "application/json", reviewBody(reviewOf("default", "Pod", podJSON("p", nil, "registry.test/app:nosign"))))
	var rv admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &rv); err != nil || resp.StatusCode != 200 {
		t.Fatalf("validate: %d %v %s", resp.StatusCode, err, body)
	}
	if rv.APIVersion != "admission.k8s.io/v1" || rv.Kind != "AdmissionReview" || rv.Response.UID != "uid-1" || rv.Response.Allowed {
		t.Errorf("validate response %s", body)
	}
	resp, body = post("/mutate", "application/json", reviewBody(reviewOf("default", "Pod", podJSON("p", nil, "registry.test/app:good"))))
	if err := json.Unmarshal(body, &rv); err != nil || !rv.Response.Allowed || !strings.Contains(string(rv.Response.Patch), digestA) {
		t.Errorf("mutate: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		r, err := http.Get(ts.URL + p)
		if err != nil || r.StatusCode != 200 {
			t.Errorf("%s: %v %v", p, r, err)
		}
	}
	r, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, m := range []string{"drydock_admission_decisions_total", "drydock_admission_decision_seconds_bucket", "drydock_admission_cache_lookups_total", `outcome="bad_request"`} {
		if !bytes.Contains(mb, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	big := bytes.Repeat([]byte(" "), DefaultMaxRequestBytes+10)
	if resp, _ := post("/validate", "application/json", big); resp.StatusCode != 400 {
		t.Errorf("oversized body: %d", resp.StatusCode)
	}
	notReady, _, _ := newTestServer(t, func(c *Config) { c.Ready = func() bool { return false } })
	rec := httptest.NewRecorder()
	notReady.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("readyz when not ready: %d", rec.Code)
	}
}

func FuzzAdmissionReview(f *testing.F) {
	f.Add(reviewBody(reviewOf("default", "Pod", podJSON("p", nil, "registry.test/app:good"))))
	f.Add(reviewBody(reviewOf("default", "CronJob", []byte(`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"image":"registry.test/app:bad"}]}}}}}}`))))
	f.Add(reviewBody(reviewOf("default", "Deployment", []byte(`{"spec":{"template":{"spec":{"initContainers":[{"image":""}]}}}}`))))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Pod"},"operation":"CREATE","object":null}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Job"},"operation":"UPDATE","object":[1]}}`))
	f.Add([]byte(`null`))
	s, _, _ := newTestServer(f, nil)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/validate", "/mutate"} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case 400:
				if !strings.Contains(rec.Body.String(), "malformed AdmissionReview") {
					t.Fatalf("400 without a clear message: %s", rec.Body)
				}
			case 200:
				var rv admissionv1.AdmissionReview
				if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil || rv.Response == nil || rv.Response.UID == "" {
					t.Fatalf("200 with a bad review: %v %s", err, rec.Body)
				}
			default:
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkValidateCached is the webhook's CPU cost per review when the
// verification is cached: decode, extract, evaluate, encode.
func BenchmarkValidateCached(b *testing.B) {
	s, _, _ := newTestServer(b, nil)
	h := s.Handler()
	body := reviewBody(reviewOf("default", "Pod", podJSON("p", map[string]string{"app": "x"}, "registry.test/app@"+digestA)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/validate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"allowed":true`) {
			b.Fatal(rec.Body.String())
		}
	}
}
