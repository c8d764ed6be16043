// Package dbdist distributes drydock's vulnerability database through an
// OCI registry, for clusters that reach their own registry but not the
// internet.
//
// The artifact is an OCI 1.1 image manifest with artifactType
// ArtifactType, the empty config, and one layer per top-level ecosystem
// (PartMediaType): a database file holding only that ecosystem
// (vulndb.ExportEcosystem), zstd-compressed, annotated with the ecosystem
// and its uncompressed digest and size. The manifest's annotations carry
// the schema version, the creation time and, per ecosystem, the source and
// export dates, so "crane manifest" tells what a database holds without
// pulling it. A part's bytes depend only on its content, so an ecosystem
// that did not change keeps its layer digest from one push to the next.
//
// The signature is a referrer of that manifest (artifactType
// SignatureArtifactType): a DSSE envelope, signed with a drydock key
// (internal/attest), whose payload names the manifest digest and, per
// layer, the ecosystem, the compressed digest and the uncompressed digest
// and size. Pull trusts nothing before the signature verifies with a
// trusted key and names the manifest it fetched. It then downloads only the
// layers whose part it does not hold already (parts are kept, verified,
// beside the database), checking the compressed digest, the uncompressed
// digest and size of each, and builds a new database that vulndb swaps in
// atomically: a copy of the installed one with only the changed ecosystems
// replaced (vulndb.Patch), or all the parts assembled (vulndb.Assemble)
// when the installed database is not the one its record describes. An older signed database than the one
// installed is refused (a replayed old artifact would hide newer
// advisories). Artifacts of the first format (one layer, LayerMediaType,
// the whole database) are still pulled.
package dbdist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/vulndb"
)

// Media types and annotations of the artifact.
const (
	ArtifactType          = "application/vnd.drydock.vulndb.v1"
	LayerMediaType        = "application/vnd.drydock.vulndb.sqlite.v1+zstd"
	PartMediaType         = "application/vnd.drydock.vulndb.ecosystem.sqlite.v1+zstd"
	SignatureArtifactType = "application/vnd.drydock.vulndb.signature.v1"
	EnvelopeMediaType     = "application/vnd.dsse.envelope.v1+json"
	PayloadType           = "application/vnd.drydock.vulndb.statement.v1+json"

	AnnotationCreated            = "org.opencontainers.image.created"
	AnnotationTitle              = "org.opencontainers.image.title"
	AnnotationSchema             = "dev.drydock.vulndb.schema"
	AnnotationSources            = "dev.drydock.vulndb.sources"
	AnnotationUncompressedDigest = "dev.drydock.vulndb.uncompressed.digest"
	AnnotationUncompressedSize   = "dev.drydock.vulndb.uncompressed.size"
	AnnotationEcosystem          = "dev.drydock.vulndb.ecosystem"
	// AnnotationEcosystemPrefix + ecosystem is the ecosystem's export date.
	AnnotationEcosystemPrefix = "dev.drydock.vulndb.ecosystem."
)

// maxManifest and maxEnvelope bound what is read before anything is
// verified.
const (
	maxManifest = 4 << 20
	maxEnvelope = 1 << 20
)

// Statement is the signed payload.
type Statement struct {
	// Manifest is the database manifest's digest ("sha256:…").
	Manifest string `json:"manifest"`
	// Layers are the per-ecosystem parts, in manifest order.
	Layers []LayerStatement `json:"layers,omitempty"`
	// Layer is the compressed layer's digest, Uncompressed the database
	// file's, Size its length: the first, single-layer format.
	Layer        string    `json:"layer,omitempty"`
	Uncompressed string    `json:"uncompressed,omitempty"`
	Size         int64     `json:"size,omitempty"`
	Created      time.Time `json:"created"`
}

// LayerStatement is one signed part.
type LayerStatement struct {
	Ecosystem    string `json:"ecosystem"`
	Digest       string `json:"digest"`
	Uncompressed string `json:"uncompressed"`
	Size         int64  `json:"size"`
}

// Source is one ecosystem's row in the manifest annotation.
type Source struct {
	Ecosystem      string    `json:"ecosystem"`
	Source         string    `json:"source"`
	Records        int       `json:"records"`
	UpdatedAt      time.Time `json:"updatedAt"`
	NewestModified time.Time `json:"newestModified,omitzero"`
}

// PushResult says what Push published.
type PushResult struct {
	Manifest, Signature name.Digest
	Bytes               int64 // compressed size of all layers
	Sources             []Source
	Layers              []LayerStatement
}

// Push publishes the database at dbPath to ref (a tag), one layer per
// ecosystem, and signs it. Layers the repository holds already are not
// uploaded again.
func Push(ctx context.Context, dbPath string, ref name.Tag, s *attest.Signer, opts ...remote.Option) (*PushResult, error) {
	ropts := append(opts, remote.WithContext(ctx))
	db, err := vulndb.Open(ctx, dbPath)
	if err != nil {
		return nil, fmt.Errorf("push database: %w", err)
	}
	st, err := db.Status(ctx)
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("push database: status: %w", err)
	}
	if len(st.Ecosystems) == 0 {
		return nil, fmt.Errorf("push database %s: it holds no ecosystem", dbPath)
	}
	// Parts are exported and compressed to temporary files first: a blob's
	// digest and size must be known before the upload, and the database is
	// never held in memory.
	work, err := os.MkdirTemp("", "drydock-vulndb-push-*")
	if err != nil {
		return nil, fmt.Errorf("push database: %w", err)
	}
	defer os.RemoveAll(work)
	repo := ref.Context()
	created := time.Now().UTC().Truncate(time.Second)
	ann := map[string]string{
		AnnotationCreated: created.Format(time.RFC3339),
		AnnotationSchema:  strconv.Itoa(st.SchemaVersion),
	}
	var (
		sources []Source
		layers  []v1.Descriptor
		signed  []LayerStatement
		total   int64
	)
	for i, e := range st.Ecosystems {
		sources = append(sources, Source{Ecosystem: e.Ecosystem, Source: e.Source, Records: e.Records, UpdatedAt: e.UpdatedAt.UTC(), NewestModified: e.NewestModified.UTC()})
		ann[AnnotationEcosystemPrefix+e.Ecosystem] = e.UpdatedAt.UTC().Format(time.RFC3339)
		part := filepath.Join(work, fmt.Sprintf("part-%d.sqlite", i))
		if err := vulndb.ExportEcosystem(ctx, dbPath, e.Ecosystem, part); err != nil {
			return nil, fmt.Errorf("push database: %w", err)
		}
		z, err := compress(part, part+".zst")
		if err != nil {
			return nil, fmt.Errorf("push database: %s: %w", e.Ecosystem, err)
		}
		os.Remove(part)
		if err := remote.WriteLayer(repo, &fileLayer{path: z.path, digest: z.digest, size: z.size}, ropts...); err != nil {
			return nil, fmt.Errorf("push database layer %s to %s: %w", e.Ecosystem, repo, err)
		}
		total += z.size
		layers = append(layers, v1.Descriptor{MediaType: PartMediaType, Digest: z.digest, Size: z.size, Annotations: map[string]string{
			AnnotationTitle: "vulndb-" + e.Ecosystem + ".sqlite", AnnotationEcosystem: e.Ecosystem,
			AnnotationUncompressedDigest: z.uncompressed, AnnotationUncompressedSize: strconv.FormatInt(z.usize, 10),
		}})
		signed = append(signed, LayerStatement{Ecosystem: e.Ecosystem, Digest: z.digest.String(), Uncompressed: z.uncompressed, Size: z.usize})
	}
	empty := static.NewLayer([]byte("{}"), types.OCIEmptyJSON)
	if err := remote.WriteLayer(repo, empty, ropts...); err != nil {
		return nil, fmt.Errorf("push config to %s: %w", repo, err)
	}
	sb, _ := json.Marshal(sources)
	ann[AnnotationSources] = string(sb)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        v1.Descriptor{MediaType: types.OCIEmptyJSON, Digest: mustDigest(empty), Size: 2, Data: []byte("{}")},
		Layers:        layers,
		Annotations:   ann,
	}
	raw, _ := json.Marshal(m)
	mh, _, _ := v1.SHA256(bytes.NewReader(raw))
	if err := remote.Put(ref, rawManifest{raw: raw, mt: types.OCIManifestSchema1}, ropts...); err != nil {
		return nil, fmt.Errorf("push database manifest to %s: %w", ref, err)
	}
	payload, _ := json.Marshal(Statement{Manifest: mh.String(), Layers: signed, Created: created})
	env, err := s.SignPayload(PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign database: %w", err)
	}
	sig, err := pushSignature(ctx, repo.Digest(mh.String()), int64(len(raw)), env, created, ropts)
	if err != nil {
		return nil, err
	}
	return &PushResult{Manifest: repo.Digest(mh.String()), Signature: sig, Bytes: total, Sources: sources, Layers: signed}, nil
}

type compressed struct {
	path         string
	digest       v1.Hash
	size         int64
	uncompressed string
	usize        int64
}

// compress writes src zstd-compressed to dst. One encoder goroutine and a
// fixed level make the output depend on the input alone, so an unchanged
// part keeps its digest.
func compress(src, dst string) (*compressed, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	uh, ch := sha256.New(), sha256.New()
	cw := &countingWriter{w: io.MultiWriter(out, ch)}
	zw, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	usize, err := io.Copy(zw, io.TeeReader(in, uh))
	if err != nil {
		zw.Close()
		return nil, fmt.Errorf("compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	return &compressed{path: dst, digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(ch.Sum(nil))}, size: cw.n,
		uncompressed: "sha256:" + hex.EncodeToString(uh.Sum(nil)), usize: usize}, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func pushSignature(ctx context.Context, subject name.Digest, subjectSize int64, env *attest.Envelope, created time.Time, ropts []remote.Option) (name.Digest, error) {
	repo := subject.Context()
	envBytes, err := json.Marshal(env)
	if err != nil {
		return name.Digest{}, err
	}
	layer := static.NewLayer(envBytes, EnvelopeMediaType)
	if err := remote.WriteLayer(repo, layer, ropts...); err != nil {
		return name.Digest{}, fmt.Errorf("push database signature to %s: %w", repo, err)
	}
	h, _ := v1.NewHash(subject.DigestStr())
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  SignatureArtifactType,
		Config:        v1.Descriptor{MediaType: types.OCIEmptyJSON, Digest: mustDigest(static.NewLayer([]byte("{}"), types.OCIEmptyJSON)), Size: 2, Data: []byte("{}")},
		Layers:        []v1.Descriptor{{MediaType: EnvelopeMediaType, Digest: mustDigest(layer), Size: int64(len(envBytes))}},
		Annotations:   map[string]string{AnnotationCreated: created.Format(time.RFC3339)},
		Subject:       &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: subjectSize},
	}
	raw, _ := json.Marshal(m)
	mh, _, _ := v1.SHA256(bytes.NewReader(raw))
	dst := repo.Digest(mh.String())
	if err := remote.Put(dst, rawManifest{raw: raw, mt: types.OCIManifestSchema1}, ropts...); err != nil {
		return name.Digest{}, fmt.Errorf("push database signature to %s: %w", repo, err)
	}
	return dst, nil
}

func mustDigest(l v1.Layer) v1.Hash {
	d, _ := l.Digest() // static layers: cannot fail
	return d
}

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// fileLayer is a compressed blob in a file, uploaded as it is.
type fileLayer struct {
	path   string
	digest v1.Hash
	size   int64
}

func (f *fileLayer) Digest() (v1.Hash, error)             { return f.digest, nil }
func (f *fileLayer) DiffID() (v1.Hash, error)             { return f.digest, nil }
func (f *fileLayer) Size() (int64, error)                 { return f.size, nil }
func (f *fileLayer) MediaType() (types.MediaType, error)  { return LayerMediaType, nil }
func (f *fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(f.path) }
func (f *fileLayer) Uncompressed() (io.ReadCloser, error) { return nil, errors.New("not needed") }

// PullResult says what Pull did.
type PullResult struct {
	Manifest  name.Digest
	KeyID     string
	Created   time.Time
	Unchanged bool  // the installed database is the signed one
	Bytes     int64 // layer bytes downloaded
	// Layers is how many layers the artifact has, Downloaded how many of
	// them were fetched (the others' parts were held already).
	Layers, Downloaded int
	Sources            []Source
}

// ErrUntrusted is wrapped by Pull when no signature by a trusted key
// vouches for the artifact, or what was downloaded is not what was signed.
var ErrUntrusted = errors.New("database artifact not trusted")

// Pull fetches the database at ref, verifies its signature with keys and
// its digests, and installs it at dbPath atomically, downloading only the
// ecosystems whose part changed. The old database stays on any error.
func Pull(ctx context.Context, dbPath string, ref name.Reference, keys *attest.Keys, opts ...remote.Option) (*PullResult, error) {
	ropts := append(opts, remote.WithContext(ctx))
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, fmt.Errorf("pull database %s: %w", ref, err)
	}
	raw := desc.Manifest
	if len(raw) > maxManifest {
		return nil, fmt.Errorf("pull database %s: manifest of %d bytes", ref, len(raw))
	}
	mh, _, _ := v1.SHA256(bytes.NewReader(raw))
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != mh.String() {
		return nil, fmt.Errorf("%w: %s: the registry served a manifest with digest %s", ErrUntrusted, ref, mh)
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("pull database %s: manifest: %w", ref, err)
	}
	whole := len(m.Layers) == 1 && m.Layers[0].MediaType == LayerMediaType
	if m.ArtifactType != ArtifactType || !(whole || len(m.Layers) > 0 && allParts(m.Layers)) {
		return nil, fmt.Errorf("pull database %s: not a drydock vulnerability database (artifactType %q, want %q)", ref, m.ArtifactType, ArtifactType)
	}
	subject := ref.Context().Digest(mh.String())
	st, keyID, err := verifySignature(ctx, subject, keys, ropts)
	if err != nil {
		return nil, err
	}
	res := &PullResult{Manifest: subject, KeyID: keyID, Created: st.Created, Layers: len(m.Layers)}
	_ = json.Unmarshal([]byte(m.Annotations[AnnotationSources]), &res.Sources) // informational only
	if whole {
		return res, pullWhole(ctx, dbPath, subject, &m, st, res, ropts)
	}
	return res, pullParts(ctx, dbPath, subject, &m, st, res, ropts)
}

func allParts(ls []v1.Descriptor) bool {
	for _, l := range ls {
		if l.MediaType != PartMediaType {
			return false
		}
	}
	return true
}

// refuseOlder refuses an artifact signed before the installed one.
func refuseOlder(subject name.Digest, st *Statement, inst *installed) error {
	if st.Created.Before(inst.Created) {
		return fmt.Errorf("%w: %s was signed %s, before the installed database (%s): refusing to go back",
			ErrUntrusted, subject, st.Created.Format(time.RFC3339), inst.Created.Format(time.RFC3339))
	}
	return nil
}

// pullWhole installs an artifact of the first format: one layer, the
// whole database.
func pullWhole(ctx context.Context, dbPath string, subject name.Digest, m *v1.Manifest, st *Statement, res *PullResult, ropts []remote.Option) error {
	l := m.Layers[0]
	if st.Layer == "" || st.Layer != l.Digest.String() || st.Uncompressed != l.Annotations[AnnotationUncompressedDigest] {
		return fmt.Errorf("%w: %s: the signed layer is not the manifest's", ErrUntrusted, subject)
	}
	inst, _ := readInstalled(dbPath)
	if inst != nil && inst.matches(dbPath) {
		if err := refuseOlder(subject, st, inst); err != nil {
			return err
		}
		if inst.Uncompressed == st.Uncompressed {
			res.Unchanged = true
			return nil
		}
	}
	err := vulndb.Install(ctx, dbPath, func(w io.Writer) error {
		n, err := fetchLayer(subject, l, st.Uncompressed, st.Size, w, ropts)
		res.Bytes += n
		return err
	})
	if err != nil {
		return err
	}
	res.Downloaded = 1
	return writeInstalled(dbPath, installed{Manifest: subject.DigestStr(), Uncompressed: st.Uncompressed, Created: st.Created})
}

// fetchLayer streams layer l of subject's repository, decompressed, into
// w, and checks the compressed digest and size the manifest gives and the
// uncompressed digest and size the signature gives. It returns the
// compressed bytes read.
func fetchLayer(subject name.Digest, l v1.Descriptor, uncompressed string, size int64, w io.Writer, ropts []remote.Option) (int64, error) {
	blob, err := remote.Layer(subject.Context().Digest(l.Digest.String()), ropts...)
	if err != nil {
		return 0, fmt.Errorf("pull database layer: %w", err)
	}
	rc, err := blob.Compressed()
	if err != nil {
		return 0, fmt.Errorf("pull database layer: %w", err)
	}
	defer rc.Close()
	ch := sha256.New()
	cr := &countingReader{r: io.LimitReader(rc, l.Size+1), h: ch}
	zr, err := zstd.NewReader(cr, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	uh := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, uh), io.LimitReader(zr, size+1))
	if err != nil {
		return cr.n, fmt.Errorf("%w: database layer %s: %w", ErrUntrusted, l.Digest, err)
	}
	// Drain what the decoder left, so the compressed digest covers it all.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return cr.n, fmt.Errorf("pull database layer: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(ch.Sum(nil)); got != l.Digest.String() || cr.n != l.Size {
		return cr.n, fmt.Errorf("%w: database layer digest %s (%d bytes), signed %s (%d bytes)", ErrUntrusted, got, cr.n, l.Digest, l.Size)
	}
	if got := "sha256:" + hex.EncodeToString(uh.Sum(nil)); got != uncompressed || n != size {
		return cr.n, fmt.Errorf("%w: database file digest %s (%d bytes), signed %s (%d bytes)", ErrUntrusted, got, n, uncompressed, size)
	}
	return cr.n, nil
}

type countingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	return n, err
}

// verifySignature finds a signature referrer of subject that a trusted
// key signed and that names subject; the newest such statement wins.
func verifySignature(ctx context.Context, subject name.Digest, keys *attest.Keys, ropts []remote.Option) (*Statement, string, error) {
	idx, err := remote.Referrers(subject, ropts...)
	if err != nil {
		return nil, "", fmt.Errorf("pull database %s: list signatures: %w", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, "", fmt.Errorf("pull database %s: list signatures: %w", subject, err)
	}
	var (
		best  *Statement
		bestK string
		why   []string
	)
	for _, d := range im.Manifests {
		// Some registries report the config's media type instead of the
		// manifest's artifactType; the manifest itself is checked below.
		if d.ArtifactType != SignatureArtifactType && d.ArtifactType != string(types.OCIEmptyJSON) {
			continue
		}
		st, k, err := checkSignature(subject, d.Digest, keys, ropts)
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		if best == nil || st.Created.After(best.Created) {
			best, bestK = st, k
		}
	}
	if best == nil {
		if len(why) == 0 {
			why = []string{"no signature found"}
		}
		sort.Strings(why)
		return nil, "", fmt.Errorf("%w: %s: no valid signature by a trusted key (%s)", ErrUntrusted, subject, strings.Join(why, "; "))
	}
	return best, bestK, nil
}

func checkSignature(subject name.Digest, d v1.Hash, keys *attest.Keys, ropts []remote.Option) (*Statement, string, error) {
	desc, err := remote.Get(subject.Context().Digest(d.String()), ropts...)
	if err != nil {
		return nil, "", fmt.Errorf("signature %s: %w", d, err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil || m.ArtifactType != SignatureArtifactType || len(m.Layers) != 1 || m.Layers[0].MediaType != EnvelopeMediaType || m.Layers[0].Size > maxEnvelope {
		return nil, "", fmt.Errorf("signature %s: not a drydock database signature", d)
	}
	blob, err := remote.Layer(subject.Context().Digest(m.Layers[0].Digest.String()), ropts...)
	if err != nil {
		return nil, "", fmt.Errorf("signature %s: %w", d, err)
	}
	rc, err := blob.Compressed()
	if err != nil {
		return nil, "", fmt.Errorf("signature %s: %w", d, err)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxEnvelope))
	rc.Close()
	if err != nil {
		return nil, "", fmt.Errorf("signature %s: %w", d, err)
	}
	env, err := attest.DecodeEnvelope(b)
	if err != nil {
		return nil, "", fmt.Errorf("signature %s: %w", d, err)
	}
	if env.PayloadType != PayloadType {
		return nil, "", fmt.Errorf("signature %s: payload type %q", d, env.PayloadType)
	}
	payload, keyID, err := attest.VerifyEnvelope(env, keys)
	if err != nil {
		return nil, "", fmt.Errorf("signature %s: %w", d, err)
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, "", fmt.Errorf("signature %s: payload: %w", d, err)
	}
	if st.Manifest != subject.DigestStr() {
		return nil, "", fmt.Errorf("signature %s: signs %s, not this manifest", d, st.Manifest)
	}
	return &st, keyID, nil
}
