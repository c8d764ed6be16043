// Package image resolves what a user names — a registry reference, an OCI
// layout directory, an OCI or docker-archive tarball, or a root filesystem
// directory — into something the scanner can read: a go-containerregistry
// v1.Image for the chosen platform, or a directory.
package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/inventory"
)

// Source kinds, as recorded in inventory.Source.Kind.
const (
	KindRegistry = "registry"
	KindLayout   = "oci-layout"
	KindArchive  = "archive"
	KindRootfs   = "rootfs"
)

// OCI annotations that name an image's base.
const (
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// Sentinel errors callers branch on.
var (
	// ErrPlatformNotFound means an index has no image for the asked platform;
	// the error text lists the platforms it has.
	ErrPlatformNotFound = errors.New("platform not found in image index")
	// ErrBadSource means the source could not be understood at all.
	ErrBadSource = errors.New("unrecognised image source")
	// ErrAmbiguous means a layout or index holds several images for the
	// platform and none was named.
	ErrAmbiguous = errors.New("several images match")
	// ErrDigestMismatch means content did not hash to the digest naming it.
	ErrDigestMismatch = errors.New("digest mismatch")
)

// Image is an opened source. Exactly one of Image and RootDir is set.
type Image struct {
	Image   v1.Image
	RootDir string
	Source  inventory.Source
	// Annotations are the image manifest's annotations (and, for an index,
	// the index's, with the manifest's winning).
	Annotations map[string]string
	// Trusted layers have content verified by the transport already
	// (remote checks digests as it reads), so the scanner need not hash the
	// compressed stream a second time.
	CompressedVerified bool
	// Uncompressed layers should be read through Uncompressed(): docker
	// archives store plain tars and recompressing them would be waste.
	PreferUncompressed bool
	// LayoutDir is the OCI layout directory the image came from, if any: a
	// base image named by digest is often stored beside the image.
	LayoutDir string
	// OCIArchive is the OCI archive file the image came from, if any; a
	// base named by digest may be stored in it too (open FILE@DIGEST).
	OCIArchive string

	// layerKeys[n] is what layer n's cached analysis may be found by (see
	// LayerKey); nil when nothing the source commits to names its layers.
	layerKeys []LayerKey
	// archive is a local archive file's identity when opened, checked again
	// by Unchanged before an analysis keyed by it is stored.
	archive *fileIdentity
	// layoutBlobs is the layout directory (the user's, or an unpacked OCI
	// archive) whose blob files fill checks before reading them.
	layoutBlobs string

	cleanup func() error
}

// LayerKey is what a layer's cached analysis may be found by.
type LayerKey struct {
	// Space is LayerKeyBlob or LayerKeyFile.
	Space string
	// Digest is "sha256:<hex>".
	Digest string
}

// Layer key spaces.
const (
	// LayerKeyBlob: the digest of the layer blob as the manifest names it.
	// The manifest is checked against the image digest, and the scanner
	// hashes the blob against this digest while reading it.
	LayerKeyBlob = "blob"
	// LayerKeyFile: one layer of a local archive file, by the file's
	// identity (device, inode, size, change and modification times); the
	// file cannot change without its change time moving.
	LayerKeyFile = "file"
)

// LayerKey returns the key for layer n, or false when the layer has none
// (then its analysis is neither looked up nor stored). The key never
// comes from the config's claimed diffIDs: a config that lies about a
// diffID must not select another layer's analysis.
func (i *Image) LayerKey(n int) (LayerKey, bool) {
	if n < 0 || n >= len(i.layerKeys) || i.layerKeys[n].Digest == "" {
		return LayerKey{}, false
	}
	return i.layerKeys[n], true
}

// Unchanged reports whether keys of LayerKeyFile still name the bytes the
// scan read: the archive file has the identity it had when opened. It is
// always true for other sources.
func (i *Image) Unchanged() bool {
	if i.archive == nil {
		return true
	}
	now, err := identify(i.archive.path)
	return err == nil && now != nil && *now == *i.archive
}

// Close releases temporary files made while opening the source.
func (i *Image) Close() error {
	if i.cleanup != nil {
		return i.cleanup()
	}
	return nil
}

type options struct {
	platform v1.Platform
	// platformSet says the caller named the platform: a single-platform
	// image of another platform is then an error, not a silent substitute.
	platformSet bool
	insecure    bool
	keychain    authn.Keychain
	transport   http.RoundTripper
	tempDir     string
	userAgent   string
}

// Option configures Open.
type Option func(*options)

// WithPlatform picks the image for "os/arch[/variant]" from an index.
func WithPlatform(p v1.Platform) Option {
	return func(o *options) { o.platform, o.platformSet = p, true }
}

// WithInsecure allows plain HTTP to registries other than localhost.
func WithInsecure(insecure bool) Option { return func(o *options) { o.insecure = insecure } }

// WithKeychain replaces the default keychain (docker config.json and
// credential helpers).
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithTransport sets the HTTP transport for registry access.
func WithTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

// WithTempDir sets drydock's scratch directory for anything Open must
// write; it must be drydock's own. (Archives are read in place today.)
func WithTempDir(dir string) Option { return func(o *options) { o.tempDir = dir } }

// WithUserAgent sets the registry User-Agent.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

func defaults() options {
	return options{
		platform:  DefaultPlatform(),
		keychain:  authn.DefaultKeychain,
		transport: remote.DefaultTransport,
		tempDir:   os.TempDir(),
		userAgent: "drydock",
	}
}

// DefaultPlatform is linux on the host's architecture.
func DefaultPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("parse platform %q: %w", s, err)
	}
	if p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("parse platform %q: want os/arch[/variant]", s)
	}
	return *p, nil
}

// Open resolves src. Explicit prefixes choose the kind: "registry:", "oci:",
// "archive:" (also "docker-archive:" and "oci-archive:"), "rootfs:" (also
// "dir:"), "containers-storage:" (buildah/podman's store, copied out with
// buildah or podman) and "docker:" (also "docker-daemon:"; a Docker daemon,
// through docker save). Without one, an existing path is a layout (a directory holding
// oci-layout), an archive (a file) or a rootfs (any other directory), and
// anything else is a registry reference.
func Open(ctx context.Context, src string, opts ...Option) (*Image, error) {
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	kind, ref := classify(src)
	var img *Image
	var err error
	switch kind {
	case kindMissing:
		return nil, fmt.Errorf("open %s: %w (a local path; to name a registry image that looks like one, write registry:%s)", src, os.ErrNotExist, src)
	case KindRegistry:
		img, err = openRemote(ctx, ref, &o)
	case KindLayout:
		img, err = openLayout(ref, src, &o)
	case KindArchive:
		img, err = openArchive(ctx, ref, src, &o)
	case KindContainersStorage:
		img, err = openContainersStorage(ctx, ref, src, &o)
	case KindDocker:
		img, err = openDocker(ctx, ref, src, &o)
	case KindRootfs:
		fi, err := os.Stat(ref)
		if err != nil {
			return nil, fmt.Errorf("open rootfs %s: %w", ref, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("open rootfs %s: %w: not a directory", ref, ErrBadSource)
		}
		return &Image{RootDir: ref, Source: inventory.Source{Kind: KindRootfs, Ref: src}}, nil
	default:
		return nil, fmt.Errorf("open %s: %w", src, ErrBadSource)
	}
	if err != nil {
		return nil, err
	}
	// An index was searched for the platform already; a single image is
	// what it is, and must not stand in for another platform.
	if o.platformSet && img.Source.Platform != "" && !samePlatform(o.platform, img.Source.Platform) {
		have := img.Source.Platform
		img.Close()
		return nil, fmt.Errorf("open %s: %w: want %s, have [%s]", src, ErrPlatformNotFound, platformString(o.platform), have)
	}
	return img, nil
}

// samePlatform reports whether an image of platform have ("os/arch[/variant]")
// answers for want; a want without a variant takes any variant.
func samePlatform(want v1.Platform, have string) bool {
	p, err := v1.ParsePlatform(have)
	if err != nil {
		return false
	}
	return p.OS == want.OS && p.Architecture == want.Architecture && (want.Variant == "" || p.Variant == want.Variant)
}

// kindMissing is a source that names a local path (by its form) that does
// not exist: it is never looked up in a registry.
const kindMissing = "missing"

// looksLocal reports whether src can only mean a local path: it starts
// like one ("./", "../", "/", "~") or ends like an archive or a JSON file.
// "myapp.tar" is a valid repository name, but nobody means Docker Hub's
// library/myapp.tar by it.
func looksLocal(src string) bool {
	for _, p := range []string{"./", "../", "/", "~", "."} {
		if strings.HasPrefix(src, p) {
			return true
		}
	}
	lower := strings.ToLower(src)
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".json", ".zip"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// Classify says which kind of source src names (KindRegistry, KindLayout,
// ...) and returns it without its prefix, as Open would read it.
func Classify(src string) (kind, ref string) { return classify(src) }

func classify(src string) (kind, ref string) {
	for _, p := range []struct{ prefix, kind string }{
		{"registry:", KindRegistry}, {"docker://", KindRegistry},
		{"oci:", KindLayout}, {"oci-dir:", KindLayout},
		{"docker-archive:", KindArchive}, {"oci-archive:", KindArchive}, {"archive:", KindArchive},
		{"rootfs:", KindRootfs}, {"dir:", KindRootfs},
		{"containers-storage:", KindContainersStorage},
		// After "docker://" (a registry) and "docker-archive:".
		{"docker-daemon:", KindDocker}, {"docker:", KindDocker},
	} {
		if strings.HasPrefix(src, p.prefix) {
			return p.kind, strings.TrimPrefix(src, p.prefix)
		}
	}
	fi, err := os.Stat(src)
	if err != nil {
		if looksLocal(src) {
			return kindMissing, src
		}
		return KindRegistry, src
	}
	if !fi.IsDir() {
		return KindArchive, src
	}
	if _, err := os.Stat(src + "/oci-layout"); err == nil {
		return KindLayout, src
	}
	return KindRootfs, src
}

// pickPlatform chooses the manifest for want from an index manifest, or says
// which platforms exist.
func pickPlatform(im *v1.IndexManifest, want v1.Platform) (v1.Descriptor, error) {
	var avail []string
	var candidates []v1.Descriptor
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.OS == "unknown" { // attestation manifests in buildx indexes
			continue
		}
		avail = append(avail, platformString(*d.Platform))
		if d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture {
			candidates = append(candidates, d)
		}
	}
	var picked []v1.Descriptor
	for _, d := range candidates {
		if want.Variant == "" || d.Platform.Variant == want.Variant {
			picked = append(picked, d)
		}
	}
	if len(picked) == 1 {
		return picked[0], nil
	}
	if len(picked) > 1 {
		var names []string
		for _, d := range picked {
			if n := d.Annotations["org.opencontainers.image.ref.name"]; n != "" {
				names = append(names, n)
			} else {
				names = append(names, d.Digest.String())
			}
		}
		sort.Strings(names)
		return v1.Descriptor{}, fmt.Errorf("%w: %d images for %s; name one (%s)", ErrAmbiguous, len(picked), platformString(want), strings.Join(names, ", "))
	}
	// An index of one image without platform data is what single-image
	// layouts and archives look like: take it.
	if len(im.Manifests) == 1 && im.Manifests[0].Platform == nil {
		return im.Manifests[0], nil
	}
	sort.Strings(avail)
	return v1.Descriptor{}, fmt.Errorf("%w: want %s, have [%s]", ErrPlatformNotFound, platformString(want), strings.Join(avail, ", "))
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func fill(img *Image, i v1.Image, platform string) error {
	img.Image = i
	d, err := i.Digest()
	if err != nil {
		return fmt.Errorf("image digest: %w", err)
	}
	img.Source.Digest = d.String()
	// Layouts and archives do not check what they read against the digests
	// that name it; check here so that every source is held to the same bar.
	raw, err := i.RawManifest()
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	if h, _, err := v1.SHA256(bytes.NewReader(raw)); err != nil || h != d {
		return fmt.Errorf("%w: manifest content does not match its digest %s", ErrDigestMismatch, d)
	}
	m, err := i.Manifest()
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	if err := checkBlob(img.layoutBlobs, m.Config, maxConfigBytes); err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	for n, l := range m.Layers {
		// A missing layer fails when read (unless its analysis is cached);
		// one that is there must be a regular file of the stated size.
		if err := checkBlob(img.layoutBlobs, l, -1); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("layer %d: %w", n, err)
		}
	}
	rawCfg, err := i.RawConfigFile()
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if h, _, err := v1.SHA256(bytes.NewReader(rawCfg)); err != nil || h != m.Config.Digest {
		return fmt.Errorf("%w: config content does not match its digest %s", ErrDigestMismatch, m.Config.Digest)
	}
	if m.Config.Size != int64(len(rawCfg)) {
		return fmt.Errorf("%w: config is %d bytes, the manifest says %d", ErrDigestMismatch, len(rawCfg), m.Config.Size)
	}
	if img.Annotations == nil {
		img.Annotations = map[string]string{}
	}
	for k, v := range m.Annotations {
		img.Annotations[k] = v
	}
	cf, err := i.ConfigFile()
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	cd, err := i.ConfigName()
	if err != nil {
		return fmt.Errorf("config digest: %w", err)
	}
	img.Source.ConfigDigest = cd.String()
	img.Source.Created = cf.Created.Time
	img.Source.Labels = cf.Config.Labels
	if platform == "" && cf.OS != "" {
		platform = platformString(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant})
	}
	img.Source.Platform = platform
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("image %s: config lists %d diff_ids but manifest has %d layers", d, len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	img.layerKeys = make([]LayerKey, len(m.Layers))
	for n, l := range m.Layers {
		// A source read through its uncompressed form (docker archives)
		// has no blob digest that the scanner checks: it keys its layers
		// otherwise, or not at all.
		if l.Digest.Algorithm == "sha256" && !img.PreferUncompressed {
			img.layerKeys[n] = LayerKey{Space: LayerKeyBlob, Digest: l.Digest.String()}
		}
	}
	return nil
}

func remoteOptions(ctx context.Context, o *options) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.keychain),
		remote.WithTransport(limitRedirects{o.transport}),
		remote.WithUserAgent(o.userAgent),
		remote.WithPlatform(o.platform),
	}
}

// RemoteOptions are the registry options Open uses, for callers that talk to
// the same registry (pushing attestations, resolving bases).
func RemoteOptions(ctx context.Context, opts ...Option) []remote.Option {
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	return remoteOptions(ctx, &o)
}

// ParseReference parses a registry reference, allowing plain HTTP when
// insecure is set (localhost and 127.0.0.1 are plain HTTP anyway).
func ParseReference(ref string, insecure bool) (name.Reference, error) {
	var nopts []name.Option
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("parse reference %q: %w", ref, err)
	}
	return r, nil
}

// SameRegistry reports whether the references a and b name the same
// registry host; false when either does not parse.
func SameRegistry(a, b string) bool {
	ra, err := name.ParseReference(strings.TrimPrefix(strings.TrimPrefix(a, "registry:"), "docker://"))
	if err != nil {
		return false
	}
	rb, err := name.ParseReference(b)
	if err != nil {
		return false
	}
	return ra.Context().RegistryStr() == rb.Context().RegistryStr()
}

func openRemote(ctx context.Context, ref string, o *options) (*Image, error) {
	r, err := ParseReference(ref, o.insecure)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, remoteOptions(ctx, o)...)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", r, err)
	}
	img := &Image{
		Source: inventory.Source{
			Kind: KindRegistry,
			Ref:  ref,
			Name: r.Context().Name(),
		},
		CompressedVerified: true,
		Annotations:        map[string]string{},
	}
	platform := ""
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", r, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", r, err)
		}
		for k, v := range im.Annotations {
			img.Annotations[k] = v
		}
		img.Source.IndexDigest = desc.Digest.String()
		d, err := pickPlatform(im, o.platform)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", r, err)
		}
		i, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("read image %s@%s: %w", r.Context(), d.Digest, err)
		}
		if d.Platform != nil {
			platform = platformString(*d.Platform)
		}
		return img, fill(img, i, platform)
	}
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("fetch %s: %w: media type %s is neither an image nor an index", r, ErrBadSource, desc.MediaType)
	}
	i, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", r, err)
	}
	return img, fill(img, i, platform)
}
