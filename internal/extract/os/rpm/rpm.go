// Package rpm reads the packages installed by rpm on Red Hat, SUSE, Amazon
// Linux, CBL-Mariner and their kin, from all three database formats rpm has
// used: Berkeley DB (Packages), NDB (Packages.db) and SQLite (rpmdb.sqlite).
//
// The container formats and the header blobs are parsed here rather than by
// github.com/erikvarga/go-rpmdb: that library reads the database in
// goroutines of its own, so a panic on a corrupt file (there are several
// reachable index-out-of-range paths in its Berkeley DB reader) would kill
// the whole process beyond the reach of recover, an early error leaks the
// reading goroutine, and its NDB reader prints to stdout. The library is
// kept as the oracle the tests compare against.
package rpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

// Name is the extractor's stable identifier.
const Name = "os/rpm"

const (
	// MaxFileSize bounds the database we read. Full Fedora or RHEL
	// installations stay well under 200 MiB.
	MaxFileSize = 256 << 20
	// maxHeaderSize bounds one package header. rpm's own cap is 256 MiB, but
	// real installed headers are below a few MiB even for packages with tens
	// of thousands of files.
	maxHeaderSize = 64 << 20
	// maxErrors bounds how many per-package errors are kept.
	maxErrors = 20
)

var (
	// ErrMalformed is wrapped by errors about a database or a package header
	// that could not be read. Extract returns the packages it could read
	// alongside such an error.
	ErrMalformed = errors.New("malformed rpm database")
	// ErrTooLarge is wrapped when the database or a header exceeds the limits.
	ErrTooLarge = errors.New("too large")
)

// dbDirs are where rpm keeps its database: the classic location and the
// one newer Fedora, RHEL 9+ and openSUSE moved it to.
var dbDirs = []string{"var/lib/rpm/", "usr/lib/sysimage/rpm/"}

var dbFiles = map[string]bool{
	"Packages":     true, // Berkeley DB
	"Packages.db":  true, // NDB (SUSE)
	"rpmdb.sqlite": true, // SQLite (Fedora 33+, RHEL 9, CBL-Mariner 2)
}

// Extractor reads rpm databases.
type Extractor struct{}

var _ extract.Extractor = (*Extractor)(nil)

// New returns the rpm extractor.
func New() extract.Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return Name }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(p string, fi fs.FileInfo) bool {
	if fi != nil && fi.IsDir() {
		return false
	}
	for _, d := range dbDirs {
		if rest, ok := strings.CutPrefix(p, d); ok {
			return dbFiles[rest]
		}
	}
	return false
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) (pkgs []inventory.Package, err error) {
	if in.Size > MaxFileSize {
		return nil, fmt.Errorf("rpm: read %s: %d bytes exceeds the %d byte limit: %w", in.Path, in.Size, MaxFileSize, ErrTooLarge)
	}
	// Everything below runs on this goroutine, so a bug in our parsing or in
	// the SQLite driver on hostile input becomes an error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			pkgs = nil
			err = extract.Recovered("rpm: read "+in.Path, r)
		}
	}()
	pkgs, err = extractDB(ctx, in)
	if err != nil {
		return pkgs, fmt.Errorf("rpm: read %s: %w", in.Path, err)
	}
	return pkgs, nil
}

func extractDB(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in.Size == 0 {
		// rpm --initdb leaves empty files behind in some minimal images.
		return nil, nil
	}
	var magic [16]byte
	n, err := in.Reader.ReadAt(magic[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read database magic: %w", err)
	}
	c := &collector{}
	switch {
	case n == 16 && string(magic[:]) == sqliteMagic:
		err = readSQLite(ctx, in, c)
	case n >= 4 && binary.LittleEndian.Uint32(magic[:4]) == ndbHeaderMagic:
		err = readNDB(ctx, in.Reader, in.Size, c)
	case n == 16 && (binary.LittleEndian.Uint32(magic[12:]) == bdbHashMagic || binary.BigEndian.Uint32(magic[12:]) == bdbHashMagic):
		err = readBDB(ctx, in.Reader, in.Size, c)
	default:
		return nil, fmt.Errorf("detect database format: %w: neither SQLite, NDB nor Berkeley DB hash", ErrMalformed)
	}
	if err != nil {
		c.addErr(err)
	}
	if c.dropped > 0 {
		c.errs = append(c.errs, fmt.Errorf("%d more bad package headers", c.dropped))
	}
	return c.pkgs, errors.Join(c.errs...)
}

// sink receives what a database reader finds: header blobs, and errors about
// single records that do not stop the walk.
type sink interface {
	add(where string, blob []byte)
	addErr(err error)
}

// collector turns header blobs into packages, keeping the good ones when
// some are bad.
type collector struct {
	pkgs    []inventory.Package
	errs    []error
	dropped int
}

func (c *collector) addErr(err error) {
	if len(c.errs) < maxErrors {
		c.errs = append(c.errs, err)
	} else {
		c.dropped++
	}
}

// add parses one header blob; where names the record for error messages.
func (c *collector) add(where string, blob []byte) {
	h, err := parseHeader(blob)
	if err != nil {
		c.addErr(fmt.Errorf("parse header of %s: %w", where, err))
		return
	}
	// gpg-pubkey entries are imported signing keys, not software: no
	// advisory names them and they have no architecture or source.
	if h.name == "gpg-pubkey" {
		return
	}
	c.pkgs = append(c.pkgs, h.pkg())
}

func (h *header) pkg() inventory.Package {
	p := inventory.Package{
		Name:    h.name,
		Version: h.version,
		Type:    inventory.TypeRPM,
		Arch:    h.arch,
		Epoch:   h.epoch,
	}
	if h.release != "" {
		p.Version += "-" + h.release
	}
	if h.license != "" {
		// Kept whole: it is an expression ("GPLv2+ and LGPLv2+"), not a list.
		p.Licenses = []string{h.license}
	}
	p.SourceName, p.SourceVersion = parseSourceRPM(h.sourceRPM)
	return p
}

// parseSourceRPM splits "name-version-release.src.rpm" into the name and
// "version-release" (the form Package.Version uses). Names may hold dashes;
// version and release may not, so the split is from the right.
func parseSourceRPM(s string) (name, version string) {
	base, ok := strings.CutSuffix(s, ".rpm")
	if !ok {
		return "", ""
	}
	// The architecture of a source rpm is "src", or "nosrc" when it omits
	// some sources.
	dot := strings.LastIndexByte(base, '.')
	if dot < 0 {
		return "", ""
	}
	base = base[:dot]
	r := strings.LastIndexByte(base, '-')
	if r <= 0 || r == len(base)-1 {
		return "", ""
	}
	v := strings.LastIndexByte(base[:r], '-')
	if v <= 0 || v == r-1 {
		return "", ""
	}
	return base[:v], base[v+1:]
}
