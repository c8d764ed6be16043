// Command imagebuild assembles drydock's own OCI image from binaries built
// beforehand (scripts/image.sh cross-compiles them), without a container
// daemon, reproducibly: every timestamp is the commit time, tar entries are
// sorted with fixed owners and modes, and gzip output depends only on its
// input, so one commit gives one index digest.
//
//	imagebuild build  --binary linux/amd64=PATH ... --ca-bundle FILE ... (--push REF | --layout DIR)
//	imagebuild attach-sbom --subject REF@DIGEST --sbom FILE
//
// The image: an empty base with Debian's CA certificates and an /etc/passwd
// naming the non-root user 65532, pushed (or written) as a base image of its
// own, and drydock on top, as a multi-arch index annotated with its source,
// revision, creation time and base.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// UID and GID of the user the image runs as (distroless's "nonroot").
const nonRoot = 65532

// Annotation keys (OCI image spec, annotations.md).
const (
	annCreated    = "org.opencontainers.image.created"
	annSource     = "org.opencontainers.image.source"
	annRevision   = "org.opencontainers.image.revision"
	annVersion    = "org.opencontainers.image.version"
	annTitle      = "org.opencontainers.image.title"
	annRefName    = "org.opencontainers.image.ref.name"
	annBaseName   = "org.opencontainers.image.base.name"
	annBaseDigest = "org.opencontainers.image.base.digest"
	annLicenses   = "org.opencontainers.image.licenses"
)

// SBOMArtifactType is the artifactType of the SBOM referrer.
const SBOMArtifactType = "application/vnd.cyclonedx+json"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: imagebuild build|attach-sbom [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = runBuild(ctx, os.Args[2:])
	case "attach-sbom":
		err = runAttach(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want build or attach-sbom", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

type buildOpts struct {
	binaries                  multi
	caBundle, caVersion       string
	created                   time.Time
	source, revision, version string
	push, layoutDir           string
	insecure                  bool
	tmp                       string
}

func runBuild(ctx context.Context, args []string) error {
	var o buildOpts
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.Var(&o.binaries, "binary", "OS/ARCH=PATH of a static drydock binary (repeatable)")
	fs.StringVar(&o.caBundle, "ca-bundle", "", "PEM bundle of CA certificates for /etc/ssl/certs/ca-certificates.crt")
	fs.StringVar(&o.caVersion, "ca-version", "", "version of the package the CA certificates come from (names the base)")
	epoch := fs.Int64("created", 0, "creation time, seconds since the epoch (the commit time)")
	fs.StringVar(&o.source, "source", "", "source repository URL")
	fs.StringVar(&o.revision, "revision", "", "source revision (commit)")
	fs.StringVar(&o.version, "version", "", "version")
	fs.StringVar(&o.push, "push", "", "push to this repository[:tag]")
	fs.StringVar(&o.layoutDir, "layout", "", "write to this OCI layout directory instead")
	fs.BoolVar(&o.insecure, "insecure", false, "plain-HTTP registry")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case len(o.binaries) == 0:
		return errors.New("--binary is required")
	case o.caBundle == "" || o.caVersion == "":
		return errors.New("--ca-bundle and --ca-version are required")
	case *epoch <= 0:
		return errors.New("--created is required (the commit time)")
	case (o.push == "") == (o.layoutDir == ""):
		return errors.New("one of --push or --layout is required")
	}
	o.created = time.Unix(*epoch, 0).UTC()
	tmp, err := os.MkdirTemp("", "drydock-imagebuild-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	o.tmp = tmp

	type platformImage struct {
		platform v1.Platform
		base     v1.Image
		image    v1.Image
	}
	var imgs []platformImage
	baseLayer, err := o.baseLayer()
	if err != nil {
		return err
	}
	sort.Strings(o.binaries)
	for _, b := range o.binaries {
		plat, path, ok := strings.Cut(b, "=")
		if !ok {
			return fmt.Errorf("--binary %q: want OS/ARCH=PATH", b)
		}
		p, err := v1.ParsePlatform(plat)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return fmt.Errorf("--binary %q: platform %q: want OS/ARCH", b, plat)
		}
		base, err := o.image(*p, []v1.Layer{baseLayer}, []string{"ca-certificates " + o.caVersion + ", /etc/passwd"}, false)
		if err != nil {
			return err
		}
		app, err := o.appLayer(path, p.Architecture)
		if err != nil {
			return err
		}
		img, err := o.image(*p, []v1.Layer{baseLayer, app}, []string{"ca-certificates " + o.caVersion + ", /etc/passwd", "drydock " + o.version}, true)
		if err != nil {
			return err
		}
		imgs = append(imgs, platformImage{platform: *p, base: base, image: img})
	}

	baseRef := ""
	var baseIdx, idx v1.ImageIndex = empty.Index, empty.Index
	baseIdx = mutate.IndexMediaType(baseIdx, types.OCIImageIndex)
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	repo := ""
	if o.push != "" {
		ref, err := name.ParseReference(o.push, o.nameOpts()...)
		if err != nil {
			return fmt.Errorf("--push %q: %w", o.push, err)
		}
		repo = ref.Context().Name()
	} else {
		repo = "drydock"
	}
	baseRef = repo + ":base-" + tagSafe(o.caVersion)
	for _, pi := range imgs {
		bd, err := pi.base.Digest()
		if err != nil {
			return err
		}
		img := mutate.Annotations(pi.image, map[string]string{annBaseName: baseRef, annBaseDigest: bd.String()}).(v1.Image)
		p := pi.platform
		baseIdx = mutate.AppendManifests(baseIdx, mutate.IndexAddendum{Add: pi.base, Descriptor: v1.Descriptor{Platform: &p}})
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	baseIdx = mutate.Annotations(baseIdx, o.annotations("drydock base: CA certificates and a non-root user", false)).(v1.ImageIndex)
	idx = mutate.Annotations(idx, o.annotations("drydock", true)).(v1.ImageIndex)

	if o.layoutDir != "" {
		return o.writeLayout(baseIdx, idx, baseRef)
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	bref, err := name.ParseReference(baseRef, o.nameOpts()...)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(bref, baseIdx, ropts...); err != nil {
		return fmt.Errorf("push %s: %w", bref, err)
	}
	ref, _ := name.ParseReference(o.push, o.nameOpts()...)
	if err := remote.WriteIndex(ref, idx, ropts...); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return report(os.Stdout, ref.Context().Name(), idx)
}

func (o *buildOpts) nameOpts() []name.Option {
	if o.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// report prints the index digest and each platform's manifest digest, one
// per line: "index REPO@DIGEST", "linux/amd64 REPO@DIGEST".
func report(w io.Writer, repo string, idx v1.ImageIndex) error {
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "index %s@%s\n", repo, d)
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, desc := range m.Manifests {
		fmt.Fprintf(w, "%s %s@%s\n", desc.Platform.String(), repo, desc.Digest)
	}
	return nil
}

func (o *buildOpts) writeLayout(baseIdx, idx v1.ImageIndex, baseRef string) error {
	p, err := layout.FromPath(o.layoutDir)
	if err != nil {
		if p, err = layout.Write(o.layoutDir, empty.Index); err != nil {
			return fmt.Errorf("--layout %s: %w", o.layoutDir, err)
		}
	}
	if err := p.ReplaceIndex(baseIdx, matchRefName(baseRef), layout.WithAnnotations(map[string]string{annRefName: baseRef})); err != nil {
		return fmt.Errorf("--layout %s: %w", o.layoutDir, err)
	}
	tag := "drydock:" + tagSafe(o.version)
	if err := p.ReplaceIndex(idx, matchRefName(tag), layout.WithAnnotations(map[string]string{annRefName: tag})); err != nil {
		return fmt.Errorf("--layout %s: %w", o.layoutDir, err)
	}
	return report(os.Stdout, o.layoutDir, idx)
}

func matchRefName(ref string) func(v1.Descriptor) bool {
	return func(d v1.Descriptor) bool { return d.Annotations[annRefName] == ref }
}

func (o *buildOpts) annotations(title string, withVersion bool) map[string]string {
	a := map[string]string{
		annCreated:  o.created.Format(time.RFC3339),
		annTitle:    title,
		annLicenses: "Apache-2.0",
	}
	if o.source != "" {
		a[annSource] = o.source
	}
	if o.revision != "" {
		a[annRevision] = o.revision
	}
	if withVersion && o.version != "" {
		a[annVersion] = o.version
	}
	return a
}

// image is one platform's image of layers, its config and history dated
// at the commit.
func (o *buildOpts) image(p v1.Platform, layers []v1.Layer, history []string, app bool) (v1.Image, error) {
	cfg := &v1.ConfigFile{
		Created:      v1.Time{Time: o.created},
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Config: v1.Config{
			User:       fmt.Sprintf("%d:%d", nonRoot, nonRoot),
			WorkingDir: "/",
			Env: []string{
				"PATH=/usr/local/bin",
				"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
				"HOME=/home/nonroot",
			},
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	if app {
		cfg.Config.Entrypoint = []string{"/usr/local/bin/drydock"}
		cfg.Config.Labels = map[string]string{}
		for k, v := range o.annotations("drydock", true) {
			cfg.Config.Labels[k] = v
		}
	}
	img, err := mutate.ConfigFile(mutate.MediaType(empty.Image, types.OCIManifestSchema1), cfg)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for i, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: o.created}, CreatedBy: history[i]}})
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	if app {
		img = mutate.Annotations(img, o.annotations("drydock", true)).(v1.Image)
	}
	return img, nil
}

// entry is one file of a layer.
type entry struct {
	name     string
	mode     int64
	uid, gid int
	dir      bool
	body     []byte // small files
	path     string // or a file on disk, streamed
}

func (o *buildOpts) baseLayer() (v1.Layer, error) {
	ca, err := os.ReadFile(o.caBundle)
	if err != nil {
		return nil, fmt.Errorf("--ca-bundle: %w", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("--ca-bundle %s: no PEM certificate", o.caBundle)
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonRoot, nonRoot)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonRoot)
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, body: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: ca},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: nonRoot, gid: nonRoot, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	return o.layer("base.tar", entries)
}

func (o *buildOpts) appLayer(binary, arch string) (v1.Layer, error) {
	fi, err := os.Stat(binary)
	if err != nil {
		return nil, fmt.Errorf("--binary: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("--binary %s: not a regular file", binary)
	}
	return o.layer("app-"+arch+".tar", []entry{
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: "usr/local/bin/drydock", mode: 0o755, path: binary},
	})
}

// layer writes entries, sorted by name, as a tar file in the temporary
// directory and returns a gzip layer streamed from it.
func (o *buildOpts) layer(file string, entries []entry) (v1.Layer, error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	path := filepath.Join(o.tmp, file)
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: o.created, Format: tar.FormatPAX,
		}
		var body io.Reader
		switch {
		case e.dir:
			h.Typeflag = tar.TypeDir
		case e.path != "":
			src, err := os.Open(e.path)
			if err != nil {
				return nil, err
			}
			defer src.Close()
			fi, err := src.Stat()
			if err != nil {
				return nil, err
			}
			h.Typeflag, h.Size, body = tar.TypeReg, fi.Size(), src
		default:
			h.Typeflag, h.Size, body = tar.TypeReg, int64(len(e.body)), bytes.NewReader(e.body)
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer %s: %w", file, err)
		}
		if body != nil {
			if _, err := io.Copy(tw, body); err != nil {
				return nil, fmt.Errorf("layer %s: %s: %w", file, e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression))
}

// tagSafe maps a version to the tag alphabet.
func tagSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

// runAttach pushes a CycloneDX SBOM as an OCI 1.1 referrer of subject (on
// registries without the referrers API, go-containerregistry keeps the
// referrers tag up to date).
func runAttach(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("attach-sbom", flag.ContinueOnError)
	subject := fs.String("subject", "", "REPO@DIGEST the SBOM describes")
	sbom := fs.String("sbom", "", "CycloneDX JSON file")
	insecure := fs.Bool("insecure", false, "plain-HTTP registry")
	epoch := fs.Int64("created", 0, "creation time annotation, seconds since the epoch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *subject == "" || *sbom == "" {
		return errors.New("--subject and --sbom are required")
	}
	var nopts []name.Option
	if *insecure {
		nopts = append(nopts, name.Insecure)
	}
	d, err := name.NewDigest(*subject, nopts...)
	if err != nil {
		return fmt.Errorf("--subject %q: want REPO@DIGEST: %w", *subject, err)
	}
	body, err := os.ReadFile(*sbom)
	if err != nil {
		return fmt.Errorf("--sbom: %w", err)
	}
	var probe struct {
		BOMFormat string `json:"bomFormat"`
	}
	if err := json.Unmarshal(body, &probe); err != nil || probe.BOMFormat != "CycloneDX" {
		return fmt.Errorf("--sbom %s: not a CycloneDX JSON document", *sbom)
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	sub, err := remote.Head(d, ropts...)
	if err != nil {
		return fmt.Errorf("subject %s: %w", d, err)
	}
	cfg := static.NewLayer([]byte("{}"), types.OCIEmptyJSON)
	layer := static.NewLayer(body, types.MediaType(SBOMArtifactType))
	for _, l := range []v1.Layer{cfg, layer} {
		if err := remote.WriteLayer(d.Context(), l, ropts...); err != nil {
			return fmt.Errorf("push SBOM blob: %w", err)
		}
	}
	desc := func(l v1.Layer, mt types.MediaType) v1.Descriptor {
		dg, _ := l.Digest()
		sz, _ := l.Size()
		return v1.Descriptor{MediaType: mt, Digest: dg, Size: sz}
	}
	created := time.Now().UTC()
	if *epoch > 0 {
		created = time.Unix(*epoch, 0).UTC()
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIManifestSchema1,
		"artifactType":  SBOMArtifactType,
		"config":        desc(cfg, types.OCIEmptyJSON),
		"layers":        []v1.Descriptor{desc(layer, types.MediaType(SBOMArtifactType))},
		"subject":       v1.Descriptor{MediaType: sub.MediaType, Size: sub.Size, Digest: sub.Digest},
		"annotations":   map[string]string{annCreated: created.Format(time.RFC3339), "dev.drydock.sbom.generator": "drydock sbom"},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	dst := d.Context().Digest(h.String())
	if err := remote.Put(dst, rawManifest(raw), ropts...); err != nil {
		return fmt.Errorf("push SBOM manifest: %w", err)
	}
	fmt.Printf("sbom %s for %s\n", dst, d)
	return nil
}

type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
