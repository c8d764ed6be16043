// Package dpkg reads the packages installed by dpkg on Debian and Ubuntu:
// the var/lib/dpkg/status database and the one-file-per-package
// var/lib/dpkg/status.d directory that distroless images ship instead.
package dpkg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

// Name is the extractor's stable identifier.
const Name = "os/dpkg"

const (
	statusPath = "var/lib/dpkg/status"
	statusDir  = "var/lib/dpkg/status.d"

	// MaxFileSize bounds the status file we read. A full Ubuntu desktop status
	// file is a few MiB; anything far beyond is not a dpkg database.
	MaxFileSize = 64 << 20
	// MaxLineSize bounds one line. Real lines are short except for long
	// Depends or Description lines of a few KiB.
	MaxLineSize = 1 << 20
	// MaxStanzaSize bounds the bytes of one package stanza.
	MaxStanzaSize = 4 << 20
	// maxErrors bounds how many stanza errors are kept, so that a hostile
	// file cannot grow the error without limit.
	maxErrors = 20
)

var (
	// ErrMalformed is wrapped by every error about a stanza that could not
	// be parsed. Extract still returns the packages of the good stanzas
	// alongside such an error.
	ErrMalformed = errors.New("malformed stanza")
	// ErrTooLarge is wrapped when the file, a line or a stanza exceeds the
	// limits above.
	ErrTooLarge = errors.New("too large")
)

// Extractor reads dpkg status files.
type Extractor struct{}

var _ extract.Extractor = (*Extractor)(nil)

// New returns the dpkg extractor.
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
	if p == statusPath {
		return true
	}
	dir, base := path.Split(p)
	// status.d holds the package's md5sums beside its stanza; those are
	// checksums, not stanzas.
	return dir == statusDir+"/" && base != "" && !strings.HasSuffix(base, ".md5sums")
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	if in.Size > MaxFileSize {
		return nil, fmt.Errorf("dpkg: read %s: %d bytes exceeds the %d byte limit: %w", in.Path, in.Size, MaxFileSize, ErrTooLarge)
	}
	// Files in status.d were written by the image builder, not by dpkg, and
	// carry no Status field: their presence means installed.
	statusD := path.Dir(in.Path) == statusDir
	// The limit guards against a Size that understates the content.
	r := io.LimitReader(io.NewSectionReader(in.Reader, 0, in.Size), MaxFileSize)
	pkgs, err := Parse(ctx, r, statusD)
	if err != nil {
		return pkgs, fmt.Errorf("dpkg: read %s: %w", in.Path, err)
	}
	return pkgs, nil
}

// stanza holds the fields of one paragraph that matter to us; the others are
// validated but not kept, which bounds memory to a few strings per package.
type stanza struct {
	line                               int
	pkg, status, version, arch, source string
	hasStatus                          bool
	bad                                bool
	size                               int
}

// Parse reads deb822 stanzas from r and returns the installed packages. When
// assumeInstalled is true, stanzas without a Status field count as installed.
// A malformed stanza is skipped and reported in the returned error, which
// wraps ErrMalformed; the packages of the other stanzas are still returned.
func Parse(ctx context.Context, r io.Reader, assumeInstalled bool) ([]inventory.Package, error) {
	sc := bufio.NewScanner(r)
	// The buffer need only hold the longest line and grows to it; a large
	// first allocation per file is what 200,000 files in status.d pay for.
	sc.Buffer(make([]byte, 0, 4<<10), MaxLineSize)

	var (
		pkgs    []inventory.Package
		errs    []error
		dropped int
		cur     *stanza
		lastKey string
		lineNo  int
	)
	addErr := func(err error) {
		if len(errs) < maxErrors {
			errs = append(errs, err)
		} else {
			dropped++
		}
	}
	finish := func() {
		if cur == nil {
			return
		}
		s := cur
		cur = nil
		lastKey = ""
		if s.bad {
			return
		}
		p, err := s.pkgOf(assumeInstalled)
		if err != nil {
			addErr(err)
			return
		}
		if p != nil {
			pkgs = append(pkgs, *p)
		}
	}

	for sc.Scan() {
		lineNo++
		if lineNo%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return pkgs, fmt.Errorf("parse status: %w", err)
			}
		}
		line := sc.Bytes()
		// A line of only whitespace separates stanzas as an empty one does.
		if len(bytes.TrimSpace(line)) == 0 {
			finish()
			continue
		}
		if cur == nil {
			cur = &stanza{line: lineNo}
		}
		if cur.bad {
			continue
		}
		cur.size += len(line) + 1
		if cur.size > MaxStanzaSize {
			cur.bad = true
			addErr(fmt.Errorf("parse status stanza at line %d: %w: %w: stanza exceeds %d bytes", cur.line, ErrMalformed, ErrTooLarge, MaxStanzaSize))
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if lastKey == "" {
				cur.bad = true
				addErr(fmt.Errorf("parse status stanza at line %d: %w: continuation line without a field", lineNo, ErrMalformed))
			}
			// Continuations of the fields we keep (all single-line in
			// practice) are ignored: only Description and friends use them.
			continue
		}
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(key) == 0 || bytes.ContainsAny(key, " \t") {
			cur.bad = true
			addErr(fmt.Errorf("parse status stanza at line %d: %w: want \"Field: value\", got %q", lineNo, ErrMalformed, truncate(line)))
			continue
		}
		lastKey = string(key)
		v := string(bytes.TrimSpace(val))
		// Field names are case-insensitive in deb822.
		switch strings.ToLower(lastKey) {
		case "package":
			cur.pkg = v
		case "status":
			cur.status, cur.hasStatus = v, true
		case "version":
			cur.version = v
		case "architecture":
			cur.arch = v
		case "source":
			cur.source = v
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("%w: %w: line exceeds %d bytes", ErrMalformed, ErrTooLarge, MaxLineSize)
		}
		// The stanza being read is incomplete; the ones before it stand.
		addErr(fmt.Errorf("parse status at line %d: %w", lineNo+1, err))
		cur = nil
	}
	finish()

	if dropped > 0 {
		errs = append(errs, fmt.Errorf("%d more malformed stanzas", dropped))
	}
	return pkgs, errors.Join(errs...)
}

// pkgOf returns the package the stanza describes, or nil when the package is
// not installed (removed with config files left, half-installed, ...).
func (s *stanza) pkgOf(assumeInstalled bool) (*inventory.Package, error) {
	if s.hasStatus {
		// Status is "want flag state"; only the state says whether the files
		// are on disk, and a held package ("hold ok installed") is installed.
		f := strings.Fields(s.status)
		if len(f) != 3 {
			return nil, fmt.Errorf("parse status stanza at line %d: %w: Status %q is not \"want flag state\"", s.line, ErrMalformed, s.status)
		}
		if f[2] != "installed" {
			return nil, nil
		}
	} else if !assumeInstalled {
		// dpkg writes Status for every package in the status file; without it
		// we cannot tell an installed package from an available one.
		return nil, nil
	}
	if s.pkg == "" {
		return nil, fmt.Errorf("parse status stanza at line %d: %w: no Package field", s.line, ErrMalformed)
	}
	if s.version == "" {
		return nil, fmt.Errorf("parse status stanza at line %d: %w: package %q has no Version field", s.line, ErrMalformed, s.pkg)
	}
	p := &inventory.Package{
		Name:          s.pkg,
		Version:       s.version,
		Type:          inventory.TypeDeb,
		Arch:          s.arch,
		SourceName:    s.pkg,
		SourceVersion: s.version,
	}
	if s.source != "" {
		// "Source: name" or "Source: name (version)" when the binary
		// package's version differs from the source's (binNMUs, metapackages).
		name, rest, hasVer := strings.Cut(s.source, " ")
		p.SourceName = name
		if hasVer {
			rest = strings.TrimSpace(rest)
			if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") || len(rest) < 3 {
				return nil, fmt.Errorf("parse status stanza at line %d: %w: Source %q is not \"name (version)\"", s.line, ErrMalformed, s.source)
			}
			p.SourceVersion = strings.TrimSpace(rest[1 : len(rest)-1])
		}
	}
	return p, nil
}

func truncate(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
