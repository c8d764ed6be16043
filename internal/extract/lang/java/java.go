// Package java finds the Maven artifacts packaged in Java archives: jar, war
// and ear files, including the archives nested in them (Spring Boot fat jars'
// BOOT-INF/lib, web applications' WEB-INF/lib, an ear's modules) and the
// several artifacts a shaded jar merges.
//
// An archive is identified, in order of trust, by every
// META-INF/maven/<group>/<artifact>/pom.properties it holds, else by its
// META-INF/MANIFEST.MF, else by its file name ("name-1.2.3.jar").
//
// Archives are untrusted: nesting depth, the size of each nested archive, the
// total bytes inflated and the number of entries are all capped per top-level
// file, so a zip bomb or a jar nested a thousand times costs bounded memory and
// time and yields an error naming the limit.
package java

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

// Name is the extractor's stable identifier.
const Name = "lang/java"

// Default limits; see the Extractor fields.
const (
	DefaultMaxDepth      = 8
	DefaultMaxEntrySize  = 256 << 20
	DefaultMaxTotalBytes = 1 << 30
	DefaultMaxEntries    = 1 << 20
	DefaultMemoryLimit   = 4 << 20

	// maxMetaSize bounds a pom.properties or MANIFEST.MF; real ones are a
	// few KiB even for OSGi bundles with long Export-Package headers.
	maxMetaSize = 1 << 20
	// maxErrors bounds the errors kept per top-level file.
	maxErrors = 20
)

var (
	// ErrMalformed is wrapped when an archive or its metadata cannot be read.
	ErrMalformed = errors.New("malformed archive")
	// ErrTooLarge is wrapped when an entry, the bytes read or the number of
	// entries exceeds a limit.
	ErrTooLarge = errors.New("too large")
	// ErrTooDeep is wrapped when archives are nested beyond MaxDepth.
	ErrTooDeep = errors.New("archives nested too deep")
)

// Extractor reads Java archives. The zero value uses the default limits.
type Extractor struct {
	// MaxDepth is how many levels of archives inside the top-level file are
	// opened. Real applications nest two (ear → war → jar).
	MaxDepth int
	// MaxEntrySize bounds the uncompressed size of one nested archive.
	MaxEntrySize int64
	// MaxTotalBytes bounds the bytes of nested archives and metadata read per
	// top-level file, which bounds the work a zip bomb can cause, including
	// one whose entries all point at the same data.
	MaxTotalBytes int64
	// MaxEntries bounds the zip entries per top-level file, nested ones
	// included; each costs memory when its archive is opened.
	MaxEntries int
	// MemoryLimit is the size above which a compressed nested archive is
	// inflated to a temporary file instead of memory.
	MemoryLimit int64
}

var _ extract.Extractor = (*Extractor)(nil)

// New returns the Java archive extractor with the default limits.
func New() extract.Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return Name }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(p string, fi fs.FileInfo) bool {
	if fi != nil && !fi.Mode().IsRegular() {
		return false
	}
	return isArchive(p)
}

// isArchive reports whether name has a Java archive extension. Case is
// ignored: "LIB.JAR" is loaded by the JVM all the same.
func isArchive(name string) bool {
	ext := path.Ext(name)
	return strings.EqualFold(ext, ".jar") || strings.EqualFold(ext, ".war") || strings.EqualFold(ext, ".ear")
}

func (x *Extractor) limits() Extractor {
	l := *x
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = DefaultMaxEntrySize
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MemoryLimit <= 0 {
		l.MemoryLimit = DefaultMemoryLimit
	}
	return l
}

// Extract implements extract.Extractor. It returns the packages found even
// when some nested archive failed, together with an error naming each
// failure by its path inside the file ("app.jar!BOOT-INF/lib/x.jar").
func (x *Extractor) Extract(ctx context.Context, in *extract.Input) (pkgs []inventory.Package, err error) {
	w := &walker{
		lim:     x.limits(),
		ctx:     ctx,
		tempDir: in.TempDir,
		seen:    map[string]bool{},
	}
	w.bytesLeft, w.entriesLeft = w.lim.MaxTotalBytes, w.lim.MaxEntries
	// archive/zip is hardened, but a panic on a hostile archive must still
	// cost this file only, and keep what was found.
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = w.pkgs, errors.Join(w.joined(), extract.Recovered("java: read "+in.Path, r))
		}
	}()
	if err := w.archive(in.Reader, in.Size, in.Path, 0); err != nil {
		w.fail(in.Path, err)
	}
	return w.pkgs, w.joined()
}

// walker holds the state of one top-level file: budgets, results, errors.
type walker struct {
	lim         Extractor
	ctx         context.Context
	tempDir     string
	bytesLeft   int64
	entriesLeft int
	pkgs        []inventory.Package
	seen        map[string]bool
	errs        []error
	dropped     int
}

func (w *walker) fail(chain string, err error) {
	if len(w.errs) >= maxErrors {
		w.dropped++
		return
	}
	w.errs = append(w.errs, fmt.Errorf("java: read %s: %w", chain, err))
}

func (w *walker) joined() error {
	errs := w.errs
	if w.dropped > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("java: %d more errors", w.dropped))
	}
	return errors.Join(errs...)
}

func (w *walker) add(p inventory.Package) {
	key := p.Namespace + ":" + p.Name + ":" + p.Version
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	p.Type = inventory.TypeMaven
	p.PURL = inventory.PURL(p, nil)
	w.pkgs = append(w.pkgs, p)
}

// archive reads the zip in r, named chain, at the given nesting depth (0 for
// the top-level file). An error means the archive itself could not be read;
// failures of nested archives are recorded and do not stop it.
func (w *walker) archive(r io.ReaderAt, size int64, chain string, depth int) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	// archive/zip allocates every directory entry up front, so the count is
	// checked before opening: a forged directory must not cost gigabytes.
	if n, ok := entryCount(r, size); ok && n > uint64(w.entriesLeft) {
		return fmt.Errorf("%d zip entries exceed the remaining budget of %d: %w", n, w.entriesLeft, ErrTooLarge)
	}
	zr, err := zip.NewReader(r, size)
	// Entry names are never used as file paths here, so names that would be
	// unsafe to extract are harmless.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return fmt.Errorf("%w: open zip: %w", ErrMalformed, err)
	}
	if len(zr.File) > w.entriesLeft {
		return fmt.Errorf("%d zip entries exceed the remaining budget of %d: %w", len(zr.File), w.entriesLeft, ErrTooLarge)
	}
	w.entriesLeft -= len(zr.File)

	var poms, nested []*zip.File
	var manifest *zip.File
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		switch {
		case isPomProperties(f.Name):
			poms = append(poms, f)
		case strings.EqualFold(f.Name, "META-INF/MANIFEST.MF"):
			manifest = f
		case isArchive(f.Name):
			nested = append(nested, f)
		}
	}
	w.identify(chain, poms, manifest)

	for _, f := range nested {
		sub := chain + "!" + f.Name
		if depth+1 > w.lim.MaxDepth {
			w.fail(sub, fmt.Errorf("nested more than %d archives deep: %w", w.lim.MaxDepth, ErrTooDeep))
			continue
		}
		if err := w.nested(f, r, size, sub, depth+1); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			w.fail(sub, err)
		}
	}
	return nil
}

// identify adds the packages the archive's own metadata names.
func (w *walker) identify(chain string, poms []*zip.File, manifest *zip.File) {
	found := false
	for _, f := range poms {
		b, err := w.readMeta(f)
		if err != nil {
			w.fail(chain+"!"+f.Name, err)
			continue
		}
		if p, ok := fromPomProperties(f.Name, b); ok {
			w.add(p)
			found = true
		}
	}
	if found {
		return
	}
	var fromManifest inventory.Package
	if manifest != nil {
		b, err := w.readMeta(manifest)
		if err != nil {
			w.fail(chain+"!"+manifest.Name, err)
		} else {
			fromManifest = parseManifest(b)
		}
	}
	// A manifest naming group, artifact and version beats the file name,
	// which never names the group; a partial one only fills in when the name
	// says nothing.
	if fromManifest.Namespace != "" && fromManifest.Name != "" && fromManifest.Version != "" {
		w.add(fromManifest)
		return
	}
	base := chain
	if i := strings.LastIndexByte(base, '!'); i >= 0 {
		base = base[i+1:]
	}
	if p, ok := fromFileName(path.Base(base)); ok {
		w.add(p)
		return
	}
	if fromManifest.Name != "" && fromManifest.Version != "" {
		w.add(fromManifest)
	}
}

// spend takes n bytes from the per-file budget.
func (w *walker) spend(n uint64) error {
	if n > uint64(w.bytesLeft) {
		return fmt.Errorf("reading %d more bytes would exceed the %d byte budget for the file: %w", n, w.lim.MaxTotalBytes, ErrTooLarge)
	}
	w.bytesLeft -= int64(n)
	return nil
}

func (w *walker) readMeta(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > maxMetaSize {
		return nil, fmt.Errorf("%d bytes exceed the %d byte limit for metadata: %w", f.UncompressedSize64, maxMetaSize, ErrTooLarge)
	}
	if err := w.spend(f.UncompressedSize64); err != nil {
		return nil, err
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: open entry: %w", ErrMalformed, err)
	}
	defer rc.Close()
	// archive/zip fails a read that runs past the declared size; the limit
	// holds even so.
	b, err := io.ReadAll(io.LimitReader(rc, maxMetaSize))
	if err != nil {
		return nil, fmt.Errorf("%w: read entry: %w", ErrMalformed, err)
	}
	return b, nil
}

// nested opens the archive entry f of the archive in parent and walks it.
func (w *walker) nested(f *zip.File, parent io.ReaderAt, parentSize int64, chain string, depth int) error {
	n := f.UncompressedSize64
	if n > uint64(w.lim.MaxEntrySize) {
		return fmt.Errorf("%d bytes exceed the %d byte limit for a nested archive: %w", n, w.lim.MaxEntrySize, ErrTooLarge)
	}
	if err := w.spend(n); err != nil {
		return err
	}
	size := int64(n)
	// Spring Boot requires nested jars to be stored uncompressed; those are
	// read in place, without a copy.
	if f.Method == zip.Store && f.Flags&0x1 == 0 && f.CompressedSize64 == n {
		off, err := f.DataOffset()
		if err != nil {
			return fmt.Errorf("%w: locate entry: %w", ErrMalformed, err)
		}
		if off < 0 || off > parentSize || size > parentSize-off {
			return fmt.Errorf("%w: entry data lies outside its archive", ErrMalformed)
		}
		return w.archive(io.NewSectionReader(parent, off, size), size, chain, depth)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%w: open entry: %w", ErrMalformed, err)
	}
	defer rc.Close()
	if size <= w.lim.MemoryLimit {
		b := make([]byte, size)
		if _, err := io.ReadFull(rc, b); err != nil {
			return fmt.Errorf("%w: inflate entry: %w", ErrMalformed, err)
		}
		return w.archive(bytes.NewReader(b), size, chain, depth)
	}
	tmp, err := os.CreateTemp(w.tempDir, "nested-*.jar")
	if err != nil {
		return fmt.Errorf("spill nested archive: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	// CopyN stops at the declared size whatever the stream holds.
	ew := &errWriter{w: tmp}
	if _, err := io.CopyN(ew, rc, size); err != nil {
		if ew.err != nil {
			return fmt.Errorf("spill nested archive: %w", err)
		}
		return fmt.Errorf("%w: inflate entry: %w", ErrMalformed, err)
	}
	return w.archive(tmp, size, chain, depth)
}

// errWriter remembers write errors, to tell a full disk from a bad archive
// when both end a copy.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// isPomProperties matches META-INF/maven/<group>/<artifact>/pom.properties.
func isPomProperties(name string) bool {
	parts := strings.Split(name, "/")
	return len(parts) == 5 && parts[0] == "META-INF" && parts[1] == "maven" &&
		parts[2] != "" && parts[3] != "" && parts[4] == "pom.properties"
}

// fromPomProperties reads the coordinates Maven wrote at build time. The
// directory names are the same coordinates and fill in missing keys.
func fromPomProperties(name string, b []byte) (inventory.Package, bool) {
	props := parseProperties(b)
	parts := strings.Split(name, "/")
	g, a, v := props["groupId"], props["artifactId"], props["version"]
	if g == "" {
		g = parts[2]
	}
	if a == "" {
		a = parts[3]
	}
	// An unexpanded "${project.version}" names no version.
	if v == "" || strings.Contains(v, "${") || strings.Contains(g, "${") || strings.Contains(a, "${") {
		return inventory.Package{}, false
	}
	return inventory.Package{Namespace: g, Name: a, Version: v}, true
}

// parseProperties reads the subset of the java.util.Properties format that
// Maven writes, plus continuation lines and escapes for hand-edited files.
func parseProperties(b []byte) map[string]string {
	props := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxMetaSize+1)
	var logical strings.Builder
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if logical.Len() == 0 && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		// An odd number of trailing backslashes continues the line.
		trail := len(line) - len(strings.TrimRight(line, `\`))
		if trail%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continue
		}
		logical.WriteString(line)
		k, v := splitProperty(logical.String())
		logical.Reset()
		if k != "" {
			props[k] = v
		}
	}
	if logical.Len() > 0 {
		if k, v := splitProperty(logical.String()); k != "" {
			props[k] = v
		}
	}
	return props
}

func splitProperty(line string) (key, value string) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' {
			break
		}
		i++
	}
	if i > len(line) {
		i = len(line)
	}
	key, rest := line[:i], line[i:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return unescape(key), strings.TrimRight(unescape(rest), " \t\r")
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 <= len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			b.WriteByte('u')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// parseManifest reads the main section of a JAR manifest and returns what it
// says about the archive's Maven coordinates, following the heuristics Trivy
// uses: the group is Implementation-Vendor-Id, else the Bundle-SymbolicName
// without its last element; the artifact is Implementation-Title when it
// looks like an identifier, else the symbolic name's last element.
func parseManifest(b []byte) inventory.Package {
	h := map[string]string{}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxMetaSize+1)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			// The main section ends at the first blank line; the per-entry
			// sections after it describe single classes.
			break
		}
		if line[0] == ' ' {
			if last != "" {
				h[last] += line[1:]
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			last = ""
			continue
		}
		last = strings.ToLower(strings.TrimSpace(k))
		h[last] = strings.TrimSpace(v)
	}
	for k, v := range h {
		h[k] = strings.TrimSpace(v)
	}
	bsn, _, _ := strings.Cut(h["bundle-symbolicname"], ";") // drop ";singleton:=true"
	bsn = strings.TrimSpace(bsn)
	var bsnGroup, bsnName string
	if i := strings.LastIndexByte(bsn, '.'); i > 0 && i < len(bsn)-1 {
		bsnGroup, bsnName = bsn[:i], bsn[i+1:]
	}

	var p inventory.Package
	p.Namespace = h["implementation-vendor-id"]
	if p.Namespace == "" {
		p.Namespace = bsnGroup
	}
	if t := h["implementation-title"]; identifier(t) {
		p.Name = t
	} else {
		p.Name = bsnName
	}
	p.Version = h["implementation-version"]
	if p.Version == "" {
		p.Version = h["bundle-version"]
	}
	for _, s := range []*string{&p.Namespace, &p.Name, &p.Version} {
		if !identifier(*s) {
			*s = ""
		}
	}
	return p
}

// identifier reports whether s could be a Maven coordinate element: human
// titles ("Apache Commons Lang") are not.
func identifier(s string) bool {
	return s != "" && len(s) <= 256 && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '$' || r == '/' || r == '\\' || r == ':'
	})
}

// fileNameRE splits "artifact-1.2.3.jar" at the last hyphen followed by a
// digit, so that "log4j-1.2-api-2.17.1.jar" is log4j-1.2-api version 2.17.1.
var fileNameRE = regexp.MustCompile(`^([A-Za-z0-9._-]*[A-Za-z0-9._])-(\d[^\s/]*)\.(?i:jar|war|ear)$`)

// fromFileName reads the artifact and version from an archive's file name,
// the last resort: it never names the group.
func fromFileName(name string) (inventory.Package, bool) {
	m := fileNameRE.FindStringSubmatch(name)
	if m == nil {
		return inventory.Package{}, false
	}
	return inventory.Package{Name: m[1], Version: m[2]}, true
}

// entryCount reads the number of entries a zip's end-of-central-directory
// record (or its zip64 form) declares, locating it the way archive/zip does.
// ok is false when no record is found; archive/zip then reports the error.
func entryCount(r io.ReaderAt, size int64) (n uint64, ok bool) {
	const (
		endLen       = 22
		locatorLen   = 20
		zip64EndLen  = 56
		maxCommentSz = 0xffff
	)
	if size < endLen {
		return 0, false
	}
	tail := min(size, endLen+maxCommentSz)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && !errors.Is(err, io.EOF) {
		return 0, false
	}
	i := -1
	for j := len(buf) - endLen; j >= 0; j-- {
		if string(buf[j:j+4]) == "PK\x05\x06" {
			// As in archive/zip, the last signature counts, and a comment
			// length running past the end makes the archive invalid.
			if l := int(binary.LittleEndian.Uint16(buf[j+20:])); j+endLen+l > len(buf) {
				return 0, false
			}
			i = j
			break
		}
	}
	if i < 0 {
		return 0, false
	}
	n = uint64(binary.LittleEndian.Uint16(buf[i+10:]))
	if n != 0xffff {
		return n, true
	}
	locOff := size - tail + int64(i) - locatorLen
	if locOff < 0 {
		return n, true
	}
	loc := make([]byte, locatorLen)
	if _, err := r.ReadAt(loc, locOff); err != nil || string(loc[:4]) != "PK\x06\x07" {
		return n, true
	}
	off := binary.LittleEndian.Uint64(loc[8:])
	if size < zip64EndLen || off > uint64(size-zip64EndLen) {
		return n, true
	}
	rec := make([]byte, zip64EndLen)
	if _, err := r.ReadAt(rec, int64(off)); err != nil || string(rec[:4]) != "PK\x06\x06" {
		return n, true
	}
	return binary.LittleEndian.Uint64(rec[32:]), true
}
