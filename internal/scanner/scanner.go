// Package scanner turns an opened image into an inventory: it reads every
// layer once (or takes its analysis from the layer cache), squashes the
// layers, detects the OS, and marks which packages came from the base image.
package scanner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/extract/extractors"
	"github.com/drydock/drydock/internal/extract/osrelease"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/layerfs"
)

// Progress reports layer work as it happens, for a progress display.
type Progress struct {
	Total  int
	Done   int
	Cached int
	// Layer is the diffID just finished.
	Layer string
}

// Base is a known base image: its layer chain decides which layers of the
// scanned image are the base's.
type Base struct {
	Name    string
	Digest  string
	DiffIDs []v1.Hash
	// Method says how the base was found ("annotation", "flag").
	Method string
}

// BaseResolver fetches the layer chain of a base image named by the OCI base
// annotations of the scanned image.
type BaseResolver func(ctx context.Context, name, digest string) (*Base, error)

type options struct {
	extractors   []extract.Extractor
	cache        *layerfs.Cache
	tempDir      string
	progress     func(Progress)
	base         *Base
	baseResolver BaseResolver
	workers      int
	tool         string
	now          func() time.Time
	walker       layerfs.Walker
}

// Option configures Scan.
type Option func(*options)

// WithExtractors replaces the default extractors.
func WithExtractors(e []extract.Extractor) Option { return func(o *options) { o.extractors = e } }

// WithCache enables the per-layer cache.
func WithCache(c *layerfs.Cache) Option { return func(o *options) { o.cache = c } }

// WithTempDir sets drydock's scratch directory.
func WithTempDir(d string) Option { return func(o *options) { o.tempDir = d } }

// WithProgress receives a call after each layer.
func WithProgress(f func(Progress)) Option { return func(o *options) { o.progress = f } }

// WithBase names the base image explicitly (the --base flag); it wins over
// annotations.
func WithBase(b *Base) Option { return func(o *options) { o.base = b } }

// WithBaseResolver lets the scanner follow the image's base annotations.
func WithBaseResolver(r BaseResolver) Option { return func(o *options) { o.baseResolver = r } }

// WithWorkers sets how many layers are read at once.
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithTool sets the tool name recorded in the inventory.
func WithTool(s string) Option { return func(o *options) { o.tool = s } }

// WithClock fixes the generation time (tests, golden files).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLimits overrides the walker's size limits (zero keeps a default).
func WithLimits(maxFile, memory int64) Option {
	return func(o *options) { o.walker.MaxFileSize, o.walker.MemoryLimit = maxFile, memory }
}

func defaults() options {
	return options{
		extractors: extractors.Default(),
		tempDir:    os.TempDir(),
		workers:    2,
		tool:       "drydock",
		now:        time.Now,
	}
}

// Signature identifies the analysis a layer result came from: the walker's
// format and every extractor's name and version. Results made under another
// signature are never reused.
func Signature(exts []extract.Extractor) string {
	parts := []string{"layerfs/2", "osrelease/" + strings.Join(osrelease.Paths(), ",")}
	for _, e := range exts {
		parts = append(parts, fmt.Sprintf("%s@%d", e.Name(), e.Version()))
	}
	sort.Strings(parts[2:])
	sum := sha256.Sum256([]byte(strings.Join(parts, ";")))
	return hex.EncodeToString(sum[:8])
}

// Scan reads img into an inventory. Failures to read a layer are errors;
// failures to parse one file are Problems in the inventory.
func Scan(ctx context.Context, img *image.Image, opts ...Option) (*inventory.Inventory, error) {
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	o.walker.Extractors = o.extractors
	o.walker.MetaRequired = osrelease.Required
	o.walker.TempDir = o.tempDir

	inv := &inventory.Inventory{
		SchemaVersion: inventory.SchemaVersion,
		Source:        img.Source,
		Tool:          o.tool,
		Generated:     o.now().UTC(),
		Packages:      []inventory.Package{},
	}
	var layers []layerfs.Layer
	if img.RootDir != "" {
		res, err := o.walker.WalkDir(ctx, img.RootDir)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", img.RootDir, err)
		}
		layers = []layerfs.Layer{{Index: 0, Result: res}}
		inv.Problems = append(inv.Problems, res.Problems...)
		inv.Problems = appendOmitted(inv.Problems, res, "")
	} else {
		var err error
		layers, err = scanLayers(ctx, img, inv, &o)
		if err != nil {
			return nil, err
		}
	}

	tree := layerfs.Squash(layers)
	inv.Packages = onePerPythonInstall(preferInstalled(tree.Packages()))
	if inv.Packages == nil {
		inv.Packages = []inventory.Package{}
	}
	osInfo, err := osrelease.Detect(tree.MetaFiles(osrelease.Paths()))
	switch {
	case err != nil:
		inv.Problems = append(inv.Problems, inventory.Problem{Stage: "os", Message: err.Error()})
	case osInfo != nil:
		inv.OS = osInfo
	}
	if img.RootDir == "" {
		applyBase(ctx, img, inv, &o)
	}
	inventory.AssignPURLs(inv)
	return inv, nil
}

func scanLayers(ctx context.Context, img *image.Image, inv *inventory.Inventory, o *options) ([]layerfs.Layer, error) {
	ls, err := img.Image.Layers()
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	cf, err := img.Image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(ls) {
		return nil, fmt.Errorf("config lists %d diff_ids for %d layers", len(cf.RootFS.DiffIDs), len(ls))
	}
	history := nonEmptyHistory(cf.History)
	sig := Signature(o.extractors)
	out := make([]layerfs.Layer, len(ls))
	inv.Layers = make([]inventory.Layer, len(ls))
	for i, l := range ls {
		diffID := cf.RootFS.DiffIDs[i]
		if !layerfs.ValidDigest(diffID.String()) {
			return nil, fmt.Errorf("layer %d: %w: %q", i, layerfs.ErrBadDigest, diffID.String())
		}
		il := inventory.Layer{Index: i, DiffID: diffID.String()}
		if d, err := l.Digest(); err == nil {
			il.Digest = d.String()
		}
		if s, err := l.Size(); err == nil {
			il.Size = s
		}
		if i < len(history) {
			il.CreatedBy = history[i]
		}
		inv.Layers[i] = il
		out[i] = layerfs.Layer{Index: i, DiffID: diffID.String()}
	}

	var (
		mu       sync.Mutex
		done     int
		cached   int
		firstErr error
	)
	report := func(i int, fromCache bool) {
		mu.Lock()
		defer mu.Unlock()
		done++
		if fromCache {
			cached++
		}
		if o.progress != nil {
			o.progress(Progress{Total: len(ls), Done: done, Cached: cached, Layer: out[i].DiffID})
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	workers := max(1, min(o.workers, len(ls)))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				res, fromCache, err := scanLayer(ctx, img, i, ls[i], cf.RootFS.DiffIDs[i], sig, o)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("layer %d (%s): %w", i, out[i].DiffID, err)
					cancel()
				}
				out[i].Result = res
				inv.Layers[i].Cached = fromCache
				mu.Unlock()
				if err == nil {
					report(i, fromCache)
				}
			}
		}()
	}
feed:
	for i := range ls {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		for _, p := range out[i].Result.Problems {
			p.Layer = out[i].DiffID
			inv.Problems = append(inv.Problems, p)
		}
		inv.Problems = appendOmitted(inv.Problems, out[i].Result, out[i].DiffID)
	}
	return out, nil
}

// appendOmitted says how many of a layer's problems were counted but not
// listed.
func appendOmitted(ps []inventory.Problem, res *layerfs.Result, layer string) []inventory.Problem {
	if res.ProblemsOmitted == 0 {
		return ps
	}
	return append(ps, inventory.Problem{Stage: "layer", Layer: layer,
		Message: fmt.Sprintf("… and %d more problems in this layer, not listed", res.ProblemsOmitted)})
}

// scanLayer analyses layer n, or takes its analysis from the cache. The
// cache is looked up only by what the manifest commits to (the blob digest,
// or a local archive's identity), never by the diffID the config claims;
// the entry says which diffID the blob was verified to have, and a config
// claiming another one is caught here exactly as reading the layer would
// catch it.
func scanLayer(ctx context.Context, img *image.Image, n int, l v1.Layer, diffID v1.Hash, sig string, o *options) (*layerfs.Result, bool, error) {
	key, keyed := img.LayerKey(n)
	ck := layerfs.Key{Space: key.Space, Digest: key.Digest}
	if o.cache != nil && keyed {
		e, _, err := o.cache.Get(ck, sig)
		if err == nil && e != nil {
			if e.DiffID != diffID.String() {
				return nil, false, fmt.Errorf("%w: the layer %s uncompresses to %s (verified when it was first read), config says %s",
					ErrDigestMismatch, keyName(key), e.DiffID, diffID)
			}
			return e.Result, true, nil
		}
	}
	s, err := openLayer(l, diffID, !img.CompressedVerified, img.PreferUncompressed)
	if err != nil {
		return nil, false, err
	}
	defer s.Close()
	res, err := o.walker.WalkTar(ctx, s)
	if err != nil {
		return nil, false, err
	}
	if err := s.Finish(); err != nil {
		return nil, false, err
	}
	if key.Space == image.LayerKeyBlob && !s.blobVerified(key.Digest) {
		// The bytes read were not checked against the key (a source read
		// through its uncompressed form): do not file them under it.
		keyed = false
	}
	if o.cache != nil && keyed && img.Unchanged() {
		// A failed cache write costs a rescan later, nothing more.
		_ = o.cache.Put(ck, sig, &layerfs.Entry{DiffID: diffID.String(), Result: res})
	}
	return res, false, nil
}

func keyName(k image.LayerKey) string {
	if k.Space == image.LayerKeyBlob {
		return "blob " + k.Digest
	}
	return "archive layer"
}

// nonEmptyHistory returns the created_by of history entries that made a
// layer, aligned with the layers.
func nonEmptyHistory(h []v1.History) []string {
	var out []string
	for _, e := range h {
		if !e.EmptyLayer {
			out = append(out, e.CreatedBy)
		}
	}
	return out
}

// applyBase finds the base (flag, then annotations) and marks layers and
// packages as base or app.
func applyBase(ctx context.Context, img *image.Image, inv *inventory.Inventory, o *options) {
	base := o.base
	if base == nil {
		name, digest := img.Annotations[image.AnnotationBaseName], img.Annotations[image.AnnotationBaseDigest]
		if name == "" && digest == "" {
			return
		}
		inv.Source.BaseName, inv.Source.BaseDigest, inv.Source.BaseMethod = name, digest, "annotation"
		if o.baseResolver == nil {
			inv.Problems = append(inv.Problems, inventory.Problem{Stage: "base", Message: "image names a base in its annotations but base lookup is disabled"})
			return
		}
		b, err := o.baseResolver(ctx, name, digest)
		if err != nil {
			inv.Problems = append(inv.Problems, inventory.Problem{Stage: "base", Message: fmt.Sprintf("resolve base %s@%s: %v", name, digest, err)})
			return
		}
		base = b
		if base.Method == "" {
			base.Method = "annotation"
		}
	}
	inv.Source.BaseName, inv.Source.BaseDigest, inv.Source.BaseMethod = base.Name, base.Digest, base.Method
	n := 0
	for n < len(base.DiffIDs) && n < len(inv.Layers) && base.DiffIDs[n].String() == inv.Layers[n].DiffID {
		n++
	}
	if n < len(base.DiffIDs) {
		inv.Problems = append(inv.Problems, inventory.Problem{Stage: "base", Message: fmt.Sprintf(
			"the base %s has %d layers but only the first %d are the bottom of this image: the image was built on another version of it", base.Name, len(base.DiffIDs), n)})
	}
	inv.Source.BaseLayers = n
	for i := range inv.Layers {
		inv.Layers[i].Origin = originOf(i, n)
	}
	for i := range inv.Packages {
		inv.Packages[i].Origin = originOf(inv.Packages[i].LayerIndex, n)
	}
}

func originOf(layerIndex, baseLayers int) inventory.Origin {
	if layerIndex < baseLayers {
		return inventory.OriginBase
	}
	return inventory.OriginApp
}
