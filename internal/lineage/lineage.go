// Package lineage finds which base images an image was built on (the base
// chain: app → runtime base → OS base, with the layers each contributed) and,
// given the tracked images and their bases, which images depend on a base.
//
// A base is found, in order of trust, from the OCI annotations
// org.opencontainers.image.base.name/base.digest, a base declared in
// configuration, the longest known base whose layer chain (diffIDs) is a
// prefix of the image's, and the FROM lines of a Dockerfile. Registry access
// goes only through image.Open with the options given.
package lineage

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/drydock/drydock/internal/image"
)

// Method says how a link of the chain was found.
type Method string

// Methods, most trusted first. The first link of a chain (the image itself)
// has MethodImage.
const (
	MethodImage      Method = "image"
	MethodFlag       Method = "flag" // named by the caller (--base)
	MethodAnnotation Method = "annotation"
	MethodDeclared   Method = "declared"
	MethodLayers     Method = "layers"
	MethodDockerfile Method = "dockerfile"
)

// Confidence says how sure the method is.
type Confidence string

// Confidence levels.
const (
	High   Confidence = "high"
	Medium Confidence = "medium"
	Low    Confidence = "low"
)

// MaxDepth is how many bases Resolve follows below the image.
const MaxDepth = 5

// Chain is an image and its bases, the image first.
type Chain struct {
	Links []Link `json:"links"`
}

// Link is one image of a chain.
type Link struct {
	// Ref is the reference as found (the image as asked; a base's tag or
	// name from the annotation, configuration, known-base list or FROM).
	Ref string `json:"ref"`
	// Digest is the manifest digest ("sha256:..."); empty when the base
	// could not be opened.
	Digest string `json:"digest,omitempty"`
	// Method and Confidence say how this link was found from the previous
	// one (MethodImage and empty confidence for the first link).
	Method     Method     `json:"method"`
	Confidence Confidence `json:"confidence,omitempty"`
	// Layers are the diffIDs this image added on top of the next link (all
	// of its layers for the last link).
	Layers []string `json:"layers"`
	// DiffIDs is this image's whole layer chain.
	DiffIDs []string `json:"-"`
	// Verified is true when this base's layers were checked to be a prefix
	// of the previous link's layers.
	Verified bool `json:"verified,omitempty"`
	// Note explains a lowered confidence or an unreadable base.
	Note string `json:"note,omitempty"`
}

// Base returns the image's immediate base link, or nil.
func (c *Chain) Base() *Link {
	if c == nil || len(c.Links) < 2 {
		return nil
	}
	return &c.Links[1]
}

type options struct {
	imageOpts  []image.Option
	declared   map[string]string
	known      []string
	dockerfile []byte
	buildArgs  map[string]string
	base       string
	depth      int
}

// Option configures Resolve.
type Option func(*options)

// WithImageOptions passes registry options (auth, transport, platform,
// insecure) to every image.Open.
func WithImageOptions(opts ...image.Option) Option {
	return func(o *options) { o.imageOpts = append(o.imageOpts, opts...) }
}

// WithDeclared gives bases declared in configuration: image repository
// ("registry.example.com/team/app", or the reference as written) → base
// reference. It applies at every level of the chain.
func WithDeclared(m map[string]string) Option { return func(o *options) { o.declared = m } }

// WithKnownBases lists base references whose layer chains are matched
// against the image's; the longest matching prefix wins.
func WithKnownBases(refs ...string) Option {
	return func(o *options) { o.known = append(o.known, refs...) }
}

// WithDockerfile gives the Dockerfile the image was built from (its content)
// and build arguments overriding its ARG defaults. It is used for the
// image's own base only, when no annotation or declared base exists and no
// known base matches a longer layer prefix than the FROM image. Confidence is
// low, or medium when the FROM image's layers are a prefix of the image's.
func WithDockerfile(content []byte, buildArgs map[string]string) Option {
	return func(o *options) { o.dockerfile, o.buildArgs = content, buildArgs }
}

// WithBase names the image's base explicitly (the --base flag); it overrides
// every other method for the image's own base.
func WithBase(ref string) Option { return func(o *options) { o.base = ref } }

// WithMaxDepth limits how many bases are followed (default MaxDepth).
func WithMaxDepth(n int) Option { return func(o *options) { o.depth = n } }

// info is what lineage needs from an opened image.
type info struct {
	ref         string
	repo        string
	digest      string
	diffIDs     []string
	annotations map[string]string
	layoutDir   string
}

type resolver struct {
	o     options
	cache map[string]*info
	errs  map[string]error
}

// Resolve finds ref's base chain.
func Resolve(ctx context.Context, ref string, opts ...Option) (*Chain, error) {
	o := options{depth: MaxDepth}
	for _, opt := range opts {
		opt(&o)
	}
	r := &resolver{o: o, cache: map[string]*info{}, errs: map[string]error{}}
	img, err := r.open(ctx, ref)
	if err != nil {
		return nil, err
	}
	chain := &Chain{Links: []Link{{Ref: ref, Digest: img.digest, Method: MethodImage, DiffIDs: img.diffIDs}}}
	seen := map[string]bool{img.digest: true}
	cur := img
	for level := 0; level < o.depth; level++ {
		link, base, err := r.findBase(ctx, cur, level == 0)
		if err != nil {
			return nil, err
		}
		if link == nil {
			break
		}
		if link.Digest != "" && seen[link.Digest] {
			chain.Links[len(chain.Links)-1].Note = fmt.Sprintf("base %s@%s is already in the chain; stopped", link.Ref, link.Digest)
			break
		}
		seen[link.Digest] = true
		chain.Links = append(chain.Links, *link)
		if base == nil {
			break
		}
		cur = base
	}
	// Attribute layers: each link contributed what its base did not have.
	for i := range chain.Links {
		l := &chain.Links[i]
		if i+1 < len(chain.Links) && chain.Links[i+1].DiffIDs != nil {
			n := commonPrefix(l.DiffIDs, chain.Links[i+1].DiffIDs)
			l.Layers = slices.Clone(l.DiffIDs[n:])
		} else {
			l.Layers = slices.Clone(l.DiffIDs)
		}
		if l.Layers == nil {
			l.Layers = []string{}
		}
	}
	return chain, nil
}

// findBase finds cur's base. The returned info is nil when the base could not
// be opened (the link then has no digest and a note).
func (r *resolver) findBase(ctx context.Context, cur *info, top bool) (*Link, *info, error) {
	if top && r.o.base != "" {
		l, b := r.candidate(ctx, cur, r.o.base, "", MethodFlag)
		return l, b, nil
	}
	if name := cur.annotations[image.AnnotationBaseName]; name != "" || cur.annotations[image.AnnotationBaseDigest] != "" {
		l, b := r.candidate(ctx, cur, name, cur.annotations[image.AnnotationBaseDigest], MethodAnnotation)
		return l, b, nil
	}
	if d := r.declared(cur); d != "" {
		l, b := r.candidate(ctx, cur, d, "", MethodDeclared)
		return l, b, nil
	}
	ml, mb, err := r.layerMatch(ctx, cur)
	if err != nil {
		return nil, nil, err
	}
	if top && r.o.dockerfile != nil {
		df, err := ParseDockerfile(r.o.dockerfile, r.o.buildArgs)
		if err != nil {
			return nil, nil, fmt.Errorf("dockerfile: %w", err)
		}
		if df.Scratch {
			if ml != nil {
				return ml, mb, nil
			}
			return nil, nil, nil
		}
		l, b := r.candidate(ctx, cur, df.Base, "", MethodDockerfile)
		// A layer match is more trusted, unless the FROM image's layers
		// are a longer prefix of the image (the known bases stop short).
		if ml == nil || (l.Verified && len(l.DiffIDs) > len(ml.DiffIDs)) {
			return l, b, nil
		}
	}
	return ml, mb, nil
}

func (r *resolver) declared(cur *info) string {
	if len(r.o.declared) == 0 {
		return ""
	}
	for _, k := range []string{cur.ref, cur.repo} {
		if k == "" {
			continue
		}
		if v, ok := r.o.declared[k]; ok {
			return v
		}
	}
	// Keys may be written unnormalised ("team/app" for docker.io/team/app).
	for k, v := range r.o.declared {
		if pr, err := image.ParseReference(k, false); err == nil && pr.Context().Name() == cur.repo {
			return v
		}
	}
	return ""
}

// candidate opens a base named by name (and pinned by digest when given) and
// checks it against cur.
func (r *resolver) candidate(ctx context.Context, cur *info, name, digest string, m Method) (*Link, *info) {
	l := &Link{Ref: name, Digest: digest, Method: m}
	ref := name
	var b *info
	var err error
	if digest != "" {
		if name == "" {
			l.Confidence = Low
			l.Note = "base digest annotation without a base name; cannot fetch it"
			return l, nil
		}
		if cur.layoutDir != "" {
			b, err = r.open(ctx, "oci:"+cur.layoutDir+"@"+digest)
		}
		if b == nil {
			ref, err = pinned(name, digest)
			if err == nil {
				b, err = r.open(ctx, ref)
			}
		}
	} else {
		b, err = r.open(ctx, ref)
	}
	if err != nil {
		l.Note = "base not readable: " + err.Error()
		switch {
		case m == MethodAnnotation && digest != "":
			l.Confidence = Medium
		default:
			l.Confidence = Low
		}
		return l, nil
	}
	if digest != "" && b.digest != digest {
		l.Confidence = Low
		l.Note = fmt.Sprintf("annotated digest %s but the registry served %s", digest, b.digest)
		l.Digest, l.DiffIDs = b.digest, b.diffIDs
		return l, b
	}
	l.Digest, l.DiffIDs = b.digest, b.diffIDs
	l.Verified = isPrefix(b.diffIDs, cur.diffIDs)
	switch m {
	case MethodAnnotation:
		switch {
		case l.Verified && digest != "":
			l.Confidence = High
		case l.Verified:
			l.Confidence = Medium
			l.Note = "annotation names a tag without a digest; the tag may have moved"
		default:
			l.Confidence = Low
		}
	case MethodFlag:
		l.Confidence = High
		if !l.Verified {
			l.Confidence = Low
		}
	case MethodDeclared:
		l.Confidence = Medium
		if !l.Verified {
			l.Confidence = Low
		}
	case MethodDockerfile:
		l.Confidence = Low
		if l.Verified {
			l.Confidence = Medium
			l.Note = "the FROM image's layers are a prefix of the image's today; the tag may move"
		}
	}
	if !l.Verified && l.Note == "" {
		l.Note = fmt.Sprintf("base layers are not a prefix of the image's (%d of %d match); the base tag may have moved", commonPrefix(b.diffIDs, cur.diffIDs), len(b.diffIDs))
	}
	return l, b
}

// layerMatch picks the known base with the longest layer chain that is a
// proper prefix of cur's.
func (r *resolver) layerMatch(ctx context.Context, cur *info) (*Link, *info, error) {
	var best *info
	bestRef := ""
	var also []string
	for _, ref := range r.o.known {
		b, err := r.open(ctx, ref)
		if err != nil {
			continue // an unreadable known base cannot match; others may
		}
		if b.digest == cur.digest || len(b.diffIDs) == 0 || len(b.diffIDs) >= len(cur.diffIDs) || !isPrefix(b.diffIDs, cur.diffIDs) {
			continue
		}
		switch {
		case best == nil || len(b.diffIDs) > len(best.diffIDs):
			best, bestRef, also = b, ref, nil
		case len(b.diffIDs) == len(best.diffIDs) && b.digest != best.digest:
			also = append(also, ref)
		}
	}
	if best == nil {
		return nil, nil, nil
	}
	l := &Link{Ref: bestRef, Digest: best.digest, Method: MethodLayers, Confidence: High, DiffIDs: best.diffIDs, Verified: true}
	if len(also) > 0 {
		l.Note = "the same layers also match " + strings.Join(also, ", ")
	}
	return l, best, nil
}

func (r *resolver) open(ctx context.Context, ref string) (*info, error) {
	if i, ok := r.cache[ref]; ok {
		return i, nil
	}
	if err, ok := r.errs[ref]; ok {
		return nil, err
	}
	i, err := openInfo(ctx, ref, r.o.imageOpts)
	if err != nil {
		r.errs[ref] = err
		return nil, err
	}
	r.cache[ref] = i
	return i, nil
}

func openInfo(ctx context.Context, ref string, opts []image.Option) (*info, error) {
	img, err := image.Open(ctx, ref, opts...)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	if img.Image == nil {
		return nil, fmt.Errorf("%s is a directory, not an image; it has no layers to trace", ref)
	}
	cf, err := img.Image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config of %s: %w", ref, err)
	}
	i := &info{ref: ref, repo: img.Source.Name, digest: img.Source.Digest, annotations: img.Annotations, layoutDir: img.LayoutDir}
	for _, d := range cf.RootFS.DiffIDs {
		i.diffIDs = append(i.diffIDs, d.String())
	}
	return i, nil
}

// pinned turns a base name and digest into repo@digest.
func pinned(name, digest string) (string, error) {
	r, err := image.ParseReference(name, false)
	if err != nil {
		return "", err
	}
	return r.Context().Name() + "@" + digest, nil
}

func isPrefix(prefix, of []string) bool {
	return len(prefix) <= len(of) && commonPrefix(prefix, of) == len(prefix)
}

func commonPrefix(a, b []string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
