// Package layerfs reads image layers in one streaming pass each, keeps only
// the files some extractor wants, runs the extractors on them, and squashes
// the per-layer results in layer order (whiteouts, opaque directories,
// symlinks) into the view a container would see. It never writes a layer's
// files to disk under their own names, so no entry — "../" paths, absolute
// symlinks, hardlinks — can make it write outside its temp directory.
package layerfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

// Result is what one layer (or one directory) contributes.
type Result struct {
	// Files maps a wanted file's path to the packages found in it. A wanted
	// file in which nothing was found is present with no packages: it still
	// hides the same path in lower layers.
	Files map[string][]inventory.Package `json:"files,omitempty"`
	// Meta holds the content of small files the caller asked for (os-release).
	Meta map[string][]byte `json:"meta,omitempty"`
	// Symlinks near the root (where os-release and package databases are
	// reached through links like etc/os-release -> ../usr/lib/os-release).
	Symlinks map[string]string `json:"symlinks,omitempty"`
	// Whiteouts are paths this layer deletes from the layers below; Opaque
	// are directories whose lower content it hides.
	Whiteouts []string            `json:"whiteouts,omitempty"`
	Opaque    []string            `json:"opaque,omitempty"`
	Problems  []inventory.Problem `json:"problems,omitempty"`
	// ProblemsOmitted counts the problems beyond the Walker's MaxProblems,
	// which are not listed: a layer of a million hostile entries must not
	// become a million-line report.
	ProblemsOmitted int `json:"problemsOmitted,omitempty"`
	// Panics are the extractor panics recovered while walking, also listed
	// in Problems. They are bugs, kept apart so that tests and fuzz targets
	// can fail on them; they are not cached.
	Panics []*extract.PanicError `json:"-"`
}

// ErrLayer wraps failures to read a layer stream (truncated, corrupt or
// hostile tar).
var ErrLayer = errors.New("read layer")

// Walker holds the extractors and the limits for reading layers.
type Walker struct {
	Extractors []extract.Extractor
	// MetaRequired selects files whose raw content is kept in Result.Meta.
	MetaRequired func(path string) bool
	// MaxFileSize bounds a wanted file; larger ones are skipped and reported.
	MaxFileSize int64
	// MaxMetaSize bounds a Meta file.
	MaxMetaSize int64
	// MemoryLimit is the size above which a wanted file is spilled to a
	// temporary file instead of memory.
	MemoryLimit int64
	// TempDir is drydock's scratch directory.
	TempDir string
	// MaxWhiteouts bounds whiteout entries kept per layer.
	MaxWhiteouts int
	// MaxProblems bounds the problems listed per layer; the rest are
	// counted in Result.ProblemsOmitted.
	MaxProblems int
	// MaxSymlinks bounds the symlinks kept per layer (those near the root,
	// which the squashed view resolves paths through). A layer with more
	// is not analysed: dropping some would silently change what the
	// squashed view sees.
	MaxSymlinks int
}

// Defaults for Walker limits, in one place.
const (
	DefaultMaxFileSize  = 512 << 20
	DefaultMaxMetaSize  = 64 << 10
	DefaultMemoryLimit  = 16 << 20
	DefaultMaxWhiteouts = 1 << 20
	DefaultMaxProblems  = 1000
	DefaultMaxSymlinks  = 100_000
	symlinkMaxDepth     = 4
	// A problem's path and message are image-controlled (a tar name may be
	// a megabyte long): keep them short.
	maxProblemPath    = 512
	maxProblemMessage = 1024
)

// ErrTooManySymlinks means a layer holds more symlinks near the root than
// the Walker keeps.
var ErrTooManySymlinks = errors.New("too many symlinks")

func (w *Walker) maxProblems() int {
	if w.MaxProblems > 0 {
		return w.MaxProblems
	}
	return DefaultMaxProblems
}

func (w *Walker) maxSymlinks() int {
	if w.MaxSymlinks > 0 {
		return w.MaxSymlinks
	}
	return DefaultMaxSymlinks
}

// problem records pr unless the layer already lists MaxProblems; then it
// only counts it.
func (w *Walker) problem(res *Result, pr inventory.Problem) {
	if len(res.Problems) >= w.maxProblems() {
		res.ProblemsOmitted++
		return
	}
	pr.Path = shorten(pr.Path, maxProblemPath)
	pr.Message = shorten(pr.Message, maxProblemMessage)
	res.Problems = append(res.Problems, pr)
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// symlink records a symlink near the root, failing the layer when there
// are more than MaxSymlinks.
func (w *Walker) symlink(res *Result, p, target string) error {
	if strings.Count(p, "/") >= symlinkMaxDepth {
		return nil
	}
	if _, ok := res.Symlinks[p]; !ok && len(res.Symlinks) >= w.maxSymlinks() {
		return fmt.Errorf("%w: %w: more than %d symlinks within %d levels of the root; layer not analysed", ErrLayer, ErrTooManySymlinks, w.maxSymlinks(), symlinkMaxDepth)
	}
	res.Symlinks[p] = target
	return nil
}

func (w *Walker) limits() (maxFile, maxMeta, mem int64, maxWh int) {
	maxFile, maxMeta, mem, maxWh = w.MaxFileSize, w.MaxMetaSize, w.MemoryLimit, w.MaxWhiteouts
	if maxFile <= 0 {
		maxFile = DefaultMaxFileSize
	}
	if maxMeta <= 0 {
		maxMeta = DefaultMaxMetaSize
	}
	if mem <= 0 {
		mem = DefaultMemoryLimit
	}
	if maxWh <= 0 {
		maxWh = DefaultMaxWhiteouts
	}
	return
}

func newResult() *Result {
	return &Result{Files: map[string][]inventory.Package{}, Meta: map[string][]byte{}, Symlinks: map[string]string{}}
}

// CleanPath turns a tar entry name into a root-relative slash path. It
// reports false for names that climb above the root ("../x", "a/../../x"):
// such entries are never honoured.
func CleanPath(name string) (string, bool) {
	name = strings.TrimLeft(name, "/")
	depth := 0
	for _, part := range strings.Split(name, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", false
			}
		default:
			depth++
		}
	}
	p := path.Clean("/" + name)[1:]
	return p, true
}

// WalkTar reads one uncompressed layer tar. On a read error it returns what
// it found so far together with an error wrapping ErrLayer.
func (w *Walker) WalkTar(ctx context.Context, r io.Reader) (*Result, error) {
	maxFile, maxMeta, mem, maxWh := w.limits()
	res := newResult()
	sc := &scratch{base: w.TempDir}
	defer sc.remove()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrLayer, err)
		}
		p, ok := CleanPath(h.Name)
		if !ok {
			w.problem(res, inventory.Problem{Stage: "layer", Path: h.Name, Message: "entry climbs above the image root; ignored"})
			continue
		}
		if p == "" {
			continue
		}
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		if strings.HasPrefix(base, ".wh.") {
			if len(res.Whiteouts)+len(res.Opaque) >= maxWh {
				return res, fmt.Errorf("%w: more than %d whiteouts", ErrLayer, maxWh)
			}
			if base == ".wh..wh..opq" {
				res.Opaque = append(res.Opaque, dir)
			} else {
				res.Whiteouts = append(res.Whiteouts, path.Join(dir, strings.TrimPrefix(base, ".wh.")))
			}
			continue
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			if err := w.symlink(res, p, h.Linkname); err != nil {
				return res, err
			}
			w.forget(res, p)
		case tar.TypeLink:
			w.hardlink(ctx, res, p, h)
		case tar.TypeReg: // archive/tar reports old-style TypeRegA entries as TypeReg
			delete(res.Symlinks, p)
			fi := h.FileInfo()
			if err := w.file(ctx, res, sc, p, fi, tr, maxFile, maxMeta, mem); err != nil {
				return res, err
			}
		case tar.TypeDir:
			delete(res.Symlinks, p)
		}
	}
}

// forget drops what this layer captured at p: a later entry for the same
// path replaces an earlier one.
func (w *Walker) forget(res *Result, p string) {
	delete(res.Files, p)
	delete(res.Meta, p)
}

func (w *Walker) wanted(p string, fi fs.FileInfo) (exts []extract.Extractor, meta bool) {
	for _, e := range w.Extractors {
		if e.Required(p, fi) {
			exts = append(exts, e)
		}
	}
	meta = w.MetaRequired != nil && w.MetaRequired(p)
	return exts, meta
}

func (w *Walker) hardlink(ctx context.Context, res *Result, p string, h *tar.Header) {
	exts, meta := w.wanted(p, h.FileInfo())
	w.forget(res, p)
	if len(exts) == 0 && !meta {
		return
	}
	target, ok := CleanPath(h.Linkname)
	if !ok {
		w.problem(res, inventory.Problem{Stage: "layer", Path: p, Message: "hardlink target climbs above the image root; ignored"})
		return
	}
	// A hardlink's content is its target's; tar streams it only once, so
	// reuse what was found at the target when it was wanted too.
	found := false
	if pkgs, ok := res.Files[target]; ok && len(exts) > 0 {
		cp := make([]inventory.Package, len(pkgs))
		for i, pk := range pkgs {
			pk.Path = p
			cp[i] = pk
		}
		res.Files[p] = cp
		found = true
	}
	if b, ok := res.Meta[target]; ok && meta {
		res.Meta[p] = b
		found = true
	}
	if !found {
		w.problem(res, inventory.Problem{Stage: "layer", Path: p, Message: fmt.Sprintf("hardlink to %s, whose content was not kept; not analysed", target)})
	}
}

func (w *Walker) file(ctx context.Context, res *Result, sc *scratch, p string, fi fs.FileInfo, r io.Reader, maxFile, maxMeta, mem int64) error {
	w.forget(res, p)
	exts, meta := w.wanted(p, fi)
	if len(exts) == 0 && !meta {
		return nil
	}
	size := fi.Size()
	exts, r, err := sniff(p, exts, r, size)
	if err != nil {
		return fmt.Errorf("%w: read %s: %w", ErrLayer, p, err)
	}
	if len(exts) == 0 && !meta {
		return nil
	}
	if meta && size <= maxMeta && len(exts) == 0 {
		b, err := io.ReadAll(io.LimitReader(r, size))
		if err != nil {
			return fmt.Errorf("%w: read %s: %w", ErrLayer, p, err)
		}
		res.Meta[p] = b
		return nil
	}
	if size > maxFile {
		res.Files[p] = nil
		w.problem(res, inventory.Problem{Stage: "extract", Path: p,
			Message: fmt.Sprintf("file is %d bytes, over the %d byte limit; not analysed", size, maxFile)})
		return nil
	}
	content, cleanup, err := w.capture(r, size, mem)
	if err != nil {
		return fmt.Errorf("%w: read %s: %w", ErrLayer, p, err)
	}
	defer cleanup()
	if meta && size <= maxMeta {
		b := make([]byte, size)
		if _, err := content.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: read %s: %w", ErrLayer, p, err)
		}
		res.Meta[p] = b
	}
	if len(exts) > 0 {
		res.Files[p] = w.extract(ctx, res, sc, exts, p, fi, content, size)
	}
	return nil
}

// sniff shows the file's first bytes to the extractors that decide by
// content and drops those that decline. The bytes read are put back in
// front of the stream, so the rest of the walk sees the whole file.
func sniff(p string, exts []extract.Extractor, r io.Reader, size int64) ([]extract.Extractor, io.Reader, error) {
	var sniffers int
	for _, e := range exts {
		if _, ok := e.(extract.Sniffer); ok {
			sniffers++
		}
	}
	if sniffers == 0 {
		return exts, r, nil
	}
	head := make([]byte, min(size, extract.SniffLen))
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, r, err
	}
	kept := exts[:0:0]
	for _, e := range exts {
		if s, ok := e.(extract.Sniffer); !ok || s.Sniff(p, head) {
			kept = append(kept, e)
		}
	}
	return kept, io.MultiReader(bytes.NewReader(head), r), nil
}

// capture holds a file's content in memory, or in a temp file when large,
// so memory stays bounded whatever the layer holds.
func (w *Walker) capture(r io.Reader, size, mem int64) (io.ReaderAt, func(), error) {
	if size <= mem {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, func() {}, err
		}
		return bytes.NewReader(b), func() {}, nil
	}
	f, err := os.CreateTemp(w.TempDir, "file-")
	if err != nil {
		return nil, func() {}, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := io.CopyN(f, r, size); err != nil {
		cleanup()
		return nil, func() {}, err
	}
	return f, cleanup, nil
}

func (w *Walker) extract(ctx context.Context, res *Result, sc *scratch, exts []extract.Extractor, p string, fi fs.FileInfo, content io.ReaderAt, size int64) []inventory.Package {
	pkgs := []inventory.Package{}
	tmp, err := sc.get()
	if err != nil {
		w.problem(res, inventory.Problem{Stage: "extract", Path: p, Message: err.Error()})
		return pkgs
	}
	for _, e := range exts {
		found, err := safeExtract(ctx, e, &extract.Input{Path: p, Info: fi, Reader: content, Size: size, TempDir: tmp})
		if pe, ok := extract.AsPanic(err); ok {
			res.Panics = append(res.Panics, pe)
		}
		if err != nil {
			w.problem(res, inventory.Problem{Stage: "extract", Path: p, Extractor: e.Name(), Message: oneLine(err)})
		}
		for _, pk := range found {
			pk.Path = p
			pkgs = append(pkgs, pk)
		}
	}
	return pkgs
}

// scratch is the one directory a walk hands its extractors for scratch
// files, made when first needed and removed when the walk ends. Extractors
// name their files uniquely and remove them; one directory per walk rather
// than per file and extractor keeps a layer of 200,000 small wanted files
// (var/lib/dpkg/status.d) from costing 400,000 directory operations.
type scratch struct {
	base, dir string
}

func (s *scratch) get() (string, error) {
	if s.dir != "" {
		return s.dir, nil
	}
	d, err := os.MkdirTemp(s.base, "extract-")
	if err != nil {
		return "", err
	}
	s.dir = d
	return d, nil
}

func (s *scratch) remove() {
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// oneLine joins the lines of an error (errors.Join puts one error per line)
// so that a problem stays one line in every report.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// safeExtract turns an extractor panic into an error: one bad file must not
// take the whole scan down.
func safeExtract(ctx context.Context, e extract.Extractor, in *extract.Input) (pkgs []inventory.Package, err error) {
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = nil, extract.Recovered(e.Name()+": read "+in.Path, r)
		}
	}()
	return e.Extract(ctx, in)
}

// WalkDir reads a root filesystem directory as if it were one layer. Symlinks
// are recorded, never followed, so a link pointing outside the root is
// harmless.
func (w *Walker) WalkDir(ctx context.Context, root string) (*Result, error) {
	maxFile, maxMeta, mem, _ := w.limits()
	res := newResult()
	sc := &scratch{base: w.TempDir}
	defer sc.remove()
	err := filepath.WalkDir(root, func(full string, d fs.DirEntry, err error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, rerr := filepath.Rel(root, full)
		if rerr != nil {
			return rerr
		}
		p := filepath.ToSlash(rel)
		if err != nil {
			w.problem(res, inventory.Problem{Stage: "layer", Path: p, Message: err.Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == "." {
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if t, err := os.Readlink(full); err == nil {
				if err := w.symlink(res, p, t); err != nil {
					return err
				}
			}
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				w.problem(res, inventory.Problem{Stage: "layer", Path: p, Message: err.Error()})
				return nil
			}
			exts, meta := w.wanted(p, fi)
			if len(exts) == 0 && !meta {
				return nil
			}
			f, err := os.Open(full)
			if err != nil {
				w.problem(res, inventory.Problem{Stage: "layer", Path: p, Message: err.Error()})
				return nil
			}
			defer f.Close()
			if err := w.file(ctx, res, sc, p, fi, f, maxFile, maxMeta, mem); err != nil {
				w.problem(res, inventory.Problem{Stage: "layer", Path: p, Message: err.Error()})
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("walk %s: %w", root, err)
	}
	sort.Strings(res.Whiteouts)
	return res, nil
}
