package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/singleflight"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/drydock/drydock/internal/registryauth"
)

// Config configures a Server. Verifier and Resolver are required.
type Config struct {
	Verifier Verifier
	// Evaluator defaults to RequirePass.
	Evaluator Evaluator
	Resolver  Resolver
	// Namespaces, when set, supplies namespace labels for selection, the
	// per-namespace mode label and policy input. Without it the
	// webhook configuration's namespaceSelector does the selecting.
	Namespaces NamespaceLabeler
	// Credentials, when set, makes every registry call of a review with
	// the workload's own pull credentials, and denies images they cannot
	// read (the Resolver must then implement AccessChecker).
	Credentials CredentialSource

	// Mode is the default mode (enforce when empty).
	Mode Mode
	// Selection defaults to SelectOptOut.
	Selection Selection
	// Namespace is drydock's own namespace, always exempt (default
	// drydock-system).
	Namespace string
	// ExemptNamespaces are never checked either.
	ExemptNamespaces []string
	// FailOpen admits (with a warning) images that could not be checked
	// because of an operational error. Definitive results (no valid
	// verdict, a policy deny) deny regardless.
	FailOpen bool
	// Insecure allows plain HTTP registries in image references.
	Insecure bool
	// MaxVerdictAge denies images whose deciding verdict was signed longer
	// ago, with or without a policy (0: DefaultMaxVerdictAge; negative: no
	// limit).
	MaxVerdictAge time.Duration

	// CacheSize bounds the verification cache (0 disables it).
	CacheSize int
	// CacheTTL is how long a verified verdict is reused; NegativeTTL how
	// long a definitive "not verified" is (0: not cached).
	CacheTTL, NegativeTTL time.Duration
	// TagTTL is how long a tag → digest resolution is reused (0: every
	// request asks the registry).
	TagTTL time.Duration
	// CacheKey identifies the verifier's configuration (trusted keys,
	// options) so that a changed configuration does not reuse old results.
	CacheKey string

	// RequestTimeout bounds one review (default 9 s, under the apiserver's
	// default 10 s webhook timeout).
	RequestTimeout time.Duration
	// MaxImages is how many distinct images one object may name (default
	// DefaultMaxImages); an object naming more is denied unchecked.
	MaxImages int
	// ReviewConcurrency is how many images of one review are checked at
	// once (default DefaultReviewConcurrency).
	ReviewConcurrency int
	// RegistryConcurrency is how many registry calls run at once per
	// registry host, across all reviews (default
	// DefaultRegistryConcurrency).
	RegistryConcurrency int
	// MaxRequestBytes bounds the body (default DefaultMaxRequestBytes).
	MaxRequestBytes int64

	// Metrics default to a fresh, unregistered set.
	Metrics *Metrics
	// Gatherer is served at /metrics (default prometheus.DefaultGatherer).
	Gatherer prometheus.Gatherer
	// Ready reports readiness for /readyz (nil: ready).
	Ready func() bool
	// Gate, when set, is asked before the images of a review are judged:
	// an error (a part the webhook was told to require, such as its
	// vulnerability database, is missing) denies every image with that
	// reason, whatever FailOpen says; only the warn and audit modes admit.
	Gate   func() error
	Logger *slog.Logger
}

// Server answers AdmissionReviews.
type Server struct {
	cfg   Config
	cache *Cache[verification]
	tags  *Cache[name.Digest]
	// pinErrs remembers why /mutate could not pin an image, so that
	// /validate, called next for the same object, can say why.
	pinErrs *Cache[string]
	// access remembers, per (digest, credentials identity), whether those
	// credentials can pull the digest: nil, or a definitive denial.
	access *Cache[error]
	ids    *registryauth.Identity
	flight singleflight.Group
	hosts  *hostLimiter
	m      *Metrics
	log    *slog.Logger
}

// pinErrsSize bounds the remembered pinning failures; they only improve a
// denial's message.
const pinErrsSize = 1024

// verification is a cached Verifier answer: a verdict, or a definitive
// error (wrapping ErrNotVerified).
type verification struct {
	verdict *Verdict
	err     error
}

// New checks cfg and fills defaults.
func New(cfg Config) (*Server, error) {
	if cfg.Verifier == nil || cfg.Resolver == nil {
		return nil, errors.New("admission: a Verifier and a Resolver are required")
	}
	if _, ok := cfg.Resolver.(AccessChecker); cfg.Credentials != nil && !ok {
		return nil, errors.New("admission: with Credentials the Resolver must implement AccessChecker")
	}
	if cfg.Evaluator == nil {
		cfg.Evaluator = RequirePass{}
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeEnforce
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return nil, fmt.Errorf("admission: %w", err)
	}
	if cfg.Selection == "" {
		cfg.Selection = SelectOptOut
	}
	if _, err := ParseSelection(string(cfg.Selection)); err != nil {
		return nil, fmt.Errorf("admission: %w", err)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 9 * time.Second
	}
	if cfg.MaxImages <= 0 {
		cfg.MaxImages = DefaultMaxImages
	}
	if cfg.ReviewConcurrency <= 0 {
		cfg.ReviewConcurrency = DefaultReviewConcurrency
	}
	if cfg.RegistryConcurrency <= 0 {
		cfg.RegistryConcurrency = DefaultRegistryConcurrency
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{
		cfg:     cfg,
		cache:   NewCache[verification](cfg.CacheSize),
		tags:    NewCache[name.Digest](cfg.CacheSize),
		pinErrs: NewCache[string](pinErrsSize),
		access:  NewCache[error](cfg.CacheSize),
		ids:     registryauth.NewIdentity(),
		hosts:   newHostLimiter(cfg.RegistryConcurrency),
		m:       cfg.Metrics,
		log:     cfg.Logger,
	}, nil
}

// Handler serves /validate, /mutate, /healthz, /readyz and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /validate", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "validate", s.Validate) })
	mux.HandleFunc("POST /mutate", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "mutate", s.Mutate) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Ready != nil && !s.cfg.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}))
	return mux
}

type reviewFunc func(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse

func (s *Server) serve(w http.ResponseWriter, r *http.Request, webhook string, f reviewFunc) {
	start := time.Now()
	defer func() { s.m.Latency.WithLabelValues(webhook).Observe(time.Since(start).Seconds()) }()
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		s.m.Reviews.WithLabelValues(webhook, "bad_request").Inc()
		http.Error(w, fmt.Sprintf("%v: content type %q, want application/json", ErrBadReview, ct), http.StatusUnsupportedMediaType)
		return
	}
	rv, err := DecodeReview(http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes), s.cfg.MaxRequestBytes)
	if err != nil {
		s.m.Reviews.WithLabelValues(webhook, "bad_request").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	resp := f(ctx, rv.Request)
	outcome := "allowed"
	if !resp.Allowed {
		outcome = "denied"
	}
	s.m.Reviews.WithLabelValues(webhook, outcome).Inc()
	writeReview(w, rv, resp)
}

// scope is what the webhook learned about a request before looking at
// images.
type scope struct {
	skip   bool // exempt or not selected
	mode   Mode
	obj    *Object
	k8s    Kubernetes
	errMsg string // a malformed object: deny with this
	// creds are the workload's registry credentials (nil without
	// Config.Credentials); credsErr says why they could not be read.
	creds    *registryauth.Credentials
	credsErr string
}

func (s *Server) scopeOf(ctx context.Context, req *admissionv1.AdmissionRequest) scope {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return scope{skip: true}
	}
	if req.Namespace == s.cfg.Namespace || slices.Contains(s.cfg.ExemptNamespaces, req.Namespace) {
		s.m.Decisions.WithLabelValues("exempt", string(s.cfg.Mode)).Inc()
		return scope{skip: true}
	}
	obj, err := ExtractImages(req.Kind.Kind, req.Object.Raw)
	if errors.Is(err, ErrUnsupportedKind) {
		return scope{skip: true}
	}
	if err != nil {
		return scope{errMsg: err.Error()}
	}
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		// Images the object had already were admitted then; checking them
		// again would let an expired verdict block unrelated updates (a
		// finalizer removed, a label changed, a scale). New pods are
		// CREATEs and are checked in full.
		if old, err := ExtractImages(req.Kind.Kind, req.OldObject.Raw); err == nil {
			had := map[string]bool{}
			for _, ci := range old.Images {
				had[ci.Image] = true
			}
			changed := obj.Images[:0:0]
			for _, ci := range obj.Images {
				if !had[ci.Image] {
					changed = append(changed, ci)
				}
			}
			obj.Images = changed
		}
		if len(obj.Images) == 0 {
			return scope{skip: true}
		}
	}
	sc := scope{mode: s.cfg.Mode, obj: obj, k8s: Kubernetes{
		Namespace: req.Namespace, Kind: obj.Kind, Name: obj.Name, Operation: string(req.Operation),
		Labels: obj.Labels, User: req.UserInfo.Username, Groups: req.UserInfo.Groups,
	}}
	if req.Name != "" {
		sc.k8s.Name = req.Name
	}
	if s.cfg.Namespaces != nil && req.Namespace != "" {
		labels, err := s.cfg.Namespaces.NamespaceLabels(ctx, req.Namespace)
		if err != nil {
			// Unknown labels: keep the default mode (enforce, in the closed
			// direction) and let the webhook configuration's selector stand.
			s.log.Warn("admission: namespace labels", "namespace", req.Namespace, "err", err)
		} else if labels != nil {
			sc.k8s.NamespaceLabels = labels
			if !Selected(s.cfg.Selection, labels) {
				s.m.Decisions.WithLabelValues("exempt", string(s.cfg.Mode)).Inc()
				return scope{skip: true}
			}
			if m, err := ParseMode(labels[LabelMode]); err == nil {
				sc.mode = m
			} else if labels[LabelMode] != "" {
				s.log.Warn("admission: ignoring bad mode label", "namespace", req.Namespace, "value", labels[LabelMode])
			}
		}
	}
	if s.cfg.Credentials != nil {
		c, err := s.cfg.Credentials.Credentials(ctx, registryauth.Workload{
			Namespace: req.Namespace, ServiceAccount: obj.ServiceAccount, PullSecrets: obj.PullSecrets})
		if err != nil {
			sc.credsErr = "cannot read the workload's pull credentials: " + err.Error()
			s.log.Warn("admission: pull credentials", "namespace", req.Namespace, "kind", sc.k8s.Kind, "name", sc.k8s.Name, "err", err)
		} else {
			sc.creds = &c
		}
	}
	return sc
}

// credentialed returns ctx carrying the workload's keychain and the
// identity of the credentials it presents to ref's registry ("" without
// Config.Credentials).
func (s *Server) credentialed(ctx context.Context, sc scope, ref name.Reference) (context.Context, string, error) {
	if s.cfg.Credentials == nil {
		return ctx, "", nil
	}
	if sc.creds == nil {
		return ctx, "", errors.New(sc.credsErr)
	}
	id, err := s.ids.Of(ctx, sc.creds.Keychain, ref.Context())
	if err != nil {
		return ctx, "", err
	}
	return registryauth.WithKeychain(ctx, sc.creds.Keychain), id, nil
}

// Selected reports whether a namespace with these labels is checked.
func Selected(sel Selection, labels map[string]string) bool {
	if sel == SelectOptIn {
		return labels[LabelEnforce] == "true"
	}
	return labels[LabelIgnore] != "true"
}

// distinct lists each image once, in the object's order.
func distinct(images []ContainerImage) []ContainerImage {
	var uniq []ContainerImage
	seen := map[string]bool{}
	for _, ci := range images {
		if !seen[ci.Image] {
			seen[ci.Image] = true
			uniq = append(uniq, ci)
		}
	}
	return uniq
}

// tooMany is the denial of an object naming n distinct images, more than
// MaxImages.
func (s *Server) tooMany(n int) string {
	return fmt.Sprintf("%s distinct images, more than the %d drydock checks per object (--max-images); none was checked",
		thousands(n), s.cfg.MaxImages)
}

// pinErrTTL is how long /validate can learn why /mutate did not pin an
// image; the apiserver calls it within one request of the other.
func (s *Server) pinErrTTL() time.Duration {
	return max(time.Minute, 2*s.cfg.RequestTimeout)
}

// Mutate pins tag references to the digest they resolve to. What it cannot
// pin it leaves alone and remembers why: /validate, which the apiserver
// calls after every mutating webhook, denies any image that is not pinned.
func (s *Server) Mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	sc := s.scopeOf(ctx, req)
	if sc.errMsg != "" {
		return denied(400, sc.errMsg)
	}
	resp := &admissionv1.AdmissionResponse{Allowed: true}
	if sc.skip {
		return resp
	}
	uniq := distinct(sc.obj.Images)
	if len(uniq) > s.cfg.MaxImages {
		// /validate denies the object; resolving every tag here would be
		// the very fan-out the bound is for.
		s.log.Info("admission: not pinning: too many images", "namespace", req.Namespace, "kind", sc.k8s.Kind, "name", sc.k8s.Name, "images", len(uniq), "max", s.cfg.MaxImages)
		return resp
	}
	pinned := make([]string, len(uniq))
	forEach(len(uniq), s.cfg.ReviewConcurrency, func(i int) {
		ci := uniq[i]
		ref, err := s.parse(ci.Image)
		if err != nil {
			return // /validate denies it with the reason
		}
		if _, ok := ref.(name.Digest); ok {
			return
		}
		cctx, id, err := s.credentialed(ctx, sc, ref)
		var d name.Digest
		if err == nil {
			d, err = s.resolve(cctx, ref, id)
		}
		if err != nil {
			s.pinErrs.Put(ci.Image, clip(errText(ctx, err), maxMessage), s.pinErrTTL())
			s.log.Warn("admission: cannot pin; /validate will deny", "image", ci.Image, "err", err)
			return
		}
		pinned[i] = PinnedReference(ci.Image, d)
	})
	to := map[string]string{}
	for i, ci := range uniq {
		if pinned[i] != "" {
			to[ci.Image] = pinned[i]
		}
	}
	var pins []Pin
	for _, ci := range sc.obj.Images {
		if p, ok := to[ci.Image]; ok {
			pins = append(pins, Pin{Path: ci.Path, Image: p})
		}
	}
	if len(pins) > 0 {
		sort.Slice(pins, func(i, j int) bool { return pins[i].Path < pins[j].Path })
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = Patch(pins), &pt
	}
	return resp
}

// PinnedReference is image with the digest appended: "repo:tag@sha256:…"
// (the tag stays for readers; runtimes pull by digest).
func PinnedReference(image string, d name.Digest) string {
	return image + "@" + d.DigestStr()
}

// outcome is the decision on one image, or on the whole object.
type outcome struct {
	ci          ContainerImage
	object      bool // about the object, not one image (too many images)
	digest      string
	allow       bool
	operational bool // could not decide: the failure policy applies
	reason      string
}

func (o outcome) message() string {
	if o.object {
		return o.reason
	}
	msg := fmt.Sprintf("image %q (container %s", clip(o.ci.Image, maxMessage/2), clip(o.ci.Container, 64))
	if o.digest != "" && !strings.Contains(o.ci.Image, o.digest) {
		msg += ", " + o.digest
	}
	return msg + "): " + clip(o.reason, maxMessage)
}

// Validate decides.
func (s *Server) Validate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	sc := s.scopeOf(ctx, req)
	if sc.errMsg != "" {
		return denied(400, sc.errMsg)
	}
	if sc.skip {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	// One decision per distinct image; the order of the object is kept.
	uniq := distinct(sc.obj.Images)
	var outs []outcome
	var gateErr error
	if s.cfg.Gate != nil {
		gateErr = s.cfg.Gate()
	}
	if gateErr != nil {
		for _, ci := range uniq {
			outs = append(outs, outcome{ci: ci, reason: gateErr.Error()})
		}
	} else if len(uniq) > s.cfg.MaxImages {
		outs = []outcome{{object: true, reason: s.tooMany(len(uniq))}}
	} else {
		outs = make([]outcome, len(uniq))
		forEach(len(uniq), s.cfg.ReviewConcurrency, func(i int) {
			o := s.decide(ctx, uniq[i], sc)
			// Registry errors can be long (one per candidate verdict):
			// keep enough for the log, not all of it for every image.
			o.reason = clip(o.reason, 8*maxMessage)
			outs[i] = o
		})
	}

	resp := &admissionv1.AdmissionResponse{Allowed: true}
	var denials, warnings []string
	for _, o := range outs {
		msg := o.message()
		switch {
		case o.allow:
			s.m.Decisions.WithLabelValues("allow", string(sc.mode)).Inc()
		case o.operational && s.cfg.FailOpen:
			s.m.Decisions.WithLabelValues("error", string(sc.mode)).Inc()
			warnings = append(warnings, "drydock: admitted on error (failure policy ignore): "+msg)
			s.log.Warn("admission: admitted on error (fail open)", "namespace", req.Namespace, "kind", sc.k8s.Kind, "name", sc.k8s.Name, "image", o.ci.Image, "reason", o.reason)
		case sc.mode == ModeWarn:
			s.m.Decisions.WithLabelValues("warn", string(sc.mode)).Inc()
			warnings = append(warnings, "drydock would deny "+msg)
		case sc.mode == ModeAudit:
			s.m.Decisions.WithLabelValues("audit", string(sc.mode)).Inc()
			s.log.Info("admission: audit deny", "namespace", req.Namespace, "kind", sc.k8s.Kind, "name", sc.k8s.Name, "image", o.ci.Image, "digest", o.digest, "reason", o.reason)
		default:
			result := "deny"
			if o.operational {
				result = "error"
			}
			s.m.Decisions.WithLabelValues(result, string(sc.mode)).Inc()
			denials = append(denials, msg)
		}
	}
	resp.Warnings = listed(warnings, "drydock: ")
	if len(denials) > 0 {
		what := sc.k8s.Kind
		if sc.k8s.Name != "" {
			what += " " + req.Namespace + "/" + sc.k8s.Name
		}
		return denied(403, "drydock denied "+what+": "+strings.Join(listed(denials, ""), "; "))
	}
	return resp
}

func (s *Server) parse(image string) (name.Reference, error) {
	var opts []name.Option
	if s.cfg.Insecure {
		opts = append(opts, name.Insecure)
	}
	return name.ParseReference(image, opts...)
}

// resolve resolves a tag with the credentials in ctx, whose identity is id:
// a tag is cached per identity, so a workload without access learns
// nothing from another's resolution.
func (s *Server) resolve(ctx context.Context, ref name.Reference, id string) (name.Digest, error) {
	key := ref.Name() + "\x00" + id
	if d, ok := s.tags.Get(key); ok {
		return d, nil
	}
	v, err, _ := s.flight.Do("tag\x00"+key, func() (any, error) {
		release, err := s.hosts.acquire(ctx, ref.Context().RegistryStr())
		if err != nil {
			return nil, err
		}
		defer release()
		return s.cfg.Resolver.Resolve(ctx, ref)
	})
	if err != nil {
		return name.Digest{}, err
	}
	d := v.(name.Digest)
	s.tags.Put(key, d, s.cfg.TagTTL)
	return d, nil
}

func (s *Server) verify(ctx context.Context, d name.Digest) (*Verdict, error) {
	key := d.Name() + "\x00" + s.cfg.CacheKey
	if v, ok := s.cache.Get(key); ok {
		s.m.Cache.WithLabelValues("hit").Inc()
		return v.verdict, v.err
	}
	s.m.Cache.WithLabelValues("miss").Inc()
	v, err, _ := s.flight.Do("verify\x00"+key, func() (any, error) {
		release, err := s.hosts.acquire(ctx, d.Context().RegistryStr())
		if err != nil {
			s.m.Verifications.WithLabelValues("error").Inc()
			return nil, err
		}
		defer release()
		vd, err := s.cfg.Verifier.Verify(ctx, d)
		switch {
		case err == nil:
			s.m.Verifications.WithLabelValues("verified").Inc()
			s.cache.Put(key, verification{verdict: vd}, s.cfg.CacheTTL)
		case errors.Is(err, ErrNotVerified):
			s.m.Verifications.WithLabelValues("not_verified").Inc()
			s.cache.Put(key, verification{err: err}, s.cfg.NegativeTTL)
		default:
			s.m.Verifications.WithLabelValues("error").Inc()
		}
		return vd, err
	})
	vd, _ := v.(*Verdict)
	return vd, err
}

// decide runs resolve → verify → evaluate for one image. An image that is
// not pinned to a digest is never allowed: /mutate pins every tag it can
// resolve, so a tag here means what was checked may not be what runs. It is
// still resolved and verified, so that an unsigned or failing image is
// denied as such, and so that --failure-policy ignore admits (with a
// warning) only images that would otherwise have passed.
func (s *Server) decide(ctx context.Context, ci ContainerImage, sc scope) outcome {
	k := sc.k8s
	o := outcome{ci: ci}
	if ci.Image == "" {
		o.reason = "no image"
		return o
	}
	ref, err := s.parse(ci.Image)
	if err != nil {
		o.reason = "invalid image reference: " + err.Error()
		return o
	}
	ctx, id, err := s.credentialed(ctx, sc, ref)
	if err != nil {
		o.operational = true
		o.reason = err.Error()
		return o
	}
	d, pinned := ref.(name.Digest)
	if !pinned {
		if d, err = s.resolve(ctx, ref, id); err != nil {
			if registryauth.IsDenied(err) && sc.creds != nil {
				o.reason = noAccess(sc.creds.Source, err)
				return o
			}
			o.operational = true
			o.reason = s.notPinned(ci.Image, errText(ctx, err))
			return o
		}
	}
	o.digest = d.DigestStr()
	if s.cfg.Credentials != nil {
		if err := s.canRead(ctx, d, id); err != nil {
			if errors.Is(err, registryauth.ErrDenied) {
				o.reason = noAccess(sc.creds.Source, err)
				return o
			}
			o.operational = true
			o.reason = "cannot check that the workload's credentials can pull the image: " + errText(ctx, err)
			return o
		}
	}
	vd, err := s.verify(ctx, d)
	if err != nil {
		if errors.Is(err, ErrNotVerified) {
			o.reason = err.Error()
			return o
		}
		o.operational = true
		o.reason = "cannot verify the verdict: " + errText(ctx, err)
		return o
	}
	if reason := s.verdictTooOld(vd); reason != "" {
		o.reason = reason
		return o
	}
	dec, err := s.cfg.Evaluator.Evaluate(ctx, Request{Image: ci.Image, Container: ci.Container, Digest: d, Verdict: vd, Kubernetes: k})
	if err != nil {
		o.operational = true
		o.reason = "policy evaluation failed: " + errText(ctx, err)
		return o
	}
	o.allow = dec.Allow
	switch {
	case dec.Allow && !pinned:
		o.allow, o.operational = false, true
		o.reason = s.notPinned(ci.Image, "")
	case dec.Allow:
		o.reason = "allowed"
	case len(dec.Reasons) > 0:
		o.reason = "policy denied: " + strings.Join(dec.Reasons, "; ")
	default:
		o.reason = "policy denied"
	}
	return o
}

// noAccess is the denial of an image the workload's credentials cannot
// pull.
func noAccess(source string, err error) string {
	msg := strings.TrimPrefix(err.Error(), registryauth.ErrDenied.Error()+": ")
	msg = strings.TrimPrefix(msg, "attest: ")
	return "the workload's pull credentials cannot read this image (" + source +
		"): add an imagePullSecret for this registry to the workload or its service account; the registry answered: " + msg
}

// canRead checks, once per (digest, credentials identity) and TTL, that the
// credentials in ctx can pull d. The verdict of a digest is public once
// verified, but only a workload that can pull the image may run it:
// another workload's cached verification never stands in for this check.
func (s *Server) canRead(ctx context.Context, d name.Digest, id string) error {
	key := d.Name() + "\x00" + id
	if err, ok := s.access.Get(key); ok {
		return err
	}
	_, err, _ := s.flight.Do("access\x00"+key, func() (any, error) {
		release, err := s.hosts.acquire(ctx, d.Context().RegistryStr())
		if err != nil {
			return nil, err
		}
		defer release()
		err = s.cfg.Resolver.(AccessChecker).CanRead(ctx, d)
		switch {
		case err == nil:
			s.access.Put(key, nil, s.cfg.CacheTTL)
		case errors.Is(err, registryauth.ErrDenied):
			s.access.Put(key, err, s.cfg.NegativeTTL)
		}
		return nil, err
	})
	return err
}

// notPinned says why an image reached /validate without a digest: the
// reason /mutate recorded, else /validate's own resolution error, else
// that /mutate did not run for it.
func (s *Server) notPinned(image, resolveErr string) string {
	const p = "not pinned to a digest: "
	if why, ok := s.pinErrs.Get(image); ok {
		return p + "the mutating webhook could not resolve it: " + why
	}
	if resolveErr != "" {
		return p + "the mutating webhook could not resolve it, and neither could /validate: cannot resolve the tag to a digest: " + resolveErr
	}
	return p + "the mutating webhook did not pin it (is drydock's MutatingWebhookConfiguration installed for this resource?), so what was checked may not be what runs"
}

func errText(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return "timed out (" + err.Error() + ")"
	}
	return err.Error()
}
