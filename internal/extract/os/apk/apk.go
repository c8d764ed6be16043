// Package apk reads the packages installed by apk on Alpine, Wolfi and
// Chainguard images from lib/apk/db/installed.
package apk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

// Name is the extractor's stable identifier.
const Name = "os/apk"

const (
	installedPath = "lib/apk/db/installed"

	// MaxFileSize bounds the database we read. It lists every file of every
	// package, so large images reach a few MiB; far more is not an apk db.
	MaxFileSize = 64 << 20
	// MaxLineSize bounds one line; real lines are paths and short fields.
	MaxLineSize = 1 << 20
	// maxErrors bounds how many record errors are kept.
	maxErrors = 20
)

var (
	// ErrMalformed is wrapped by every error about a record that could not
	// be parsed. Extract still returns the packages of the good records
	// alongside such an error.
	ErrMalformed = errors.New("malformed record")
	// ErrTooLarge is wrapped when the file or a line exceeds the limits.
	ErrTooLarge = errors.New("too large")
)

// Extractor reads the apk installed database.
type Extractor struct{}

var _ extract.Extractor = (*Extractor)(nil)

// New returns the apk extractor.
func New() extract.Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return Name }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(p string, fi fs.FileInfo) bool {
	return p == installedPath && (fi == nil || !fi.IsDir())
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	if in.Size > MaxFileSize {
		return nil, fmt.Errorf("apk: read %s: %d bytes exceeds the %d byte limit: %w", in.Path, in.Size, MaxFileSize, ErrTooLarge)
	}
	r := io.LimitReader(io.NewSectionReader(in.Reader, 0, in.Size), MaxFileSize)
	pkgs, err := Parse(ctx, r)
	if err != nil {
		return pkgs, fmt.Errorf("apk: read %s: %w", in.Path, err)
	}
	return pkgs, nil
}

type record struct {
	line                                 int
	name, version, arch, origin, license string
	bad                                  bool
}

// Parse reads apk installed-database records ("X:value" lines, records
// separated by blank lines) from r. A malformed record is skipped and
// reported in the returned error, which wraps ErrMalformed; the packages of
// the other records are still returned.
func Parse(ctx context.Context, r io.Reader) ([]inventory.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize)

	var (
		pkgs    []inventory.Package
		errs    []error
		dropped int
		cur     *record
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
		rec := cur
		cur = nil
		if rec == nil || rec.bad {
			return
		}
		switch {
		case rec.name == "":
			addErr(fmt.Errorf("parse installed record at line %d: %w: no P: field", rec.line, ErrMalformed))
		case rec.version == "":
			addErr(fmt.Errorf("parse installed record at line %d: %w: package %q has no V: field", rec.line, ErrMalformed, rec.name))
		default:
			p := inventory.Package{
				Name:    rec.name,
				Version: rec.version,
				Type:    inventory.TypeAPK,
				Arch:    rec.arch,
			}
			// Subpackages are built from their origin's APKBUILD at the same
			// version, and Alpine's secdb names origins.
			if rec.origin != "" {
				p.SourceName = rec.origin
				p.SourceVersion = rec.version
			}
			if rec.license != "" {
				// Kept whole: newer databases hold an SPDX expression
				// ("MIT AND BSD-2-Clause") that splitting would misread.
				p.Licenses = []string{rec.license}
			}
			pkgs = append(pkgs, p)
		}
	}

	for sc.Scan() {
		lineNo++
		if lineNo%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return pkgs, fmt.Errorf("parse installed: %w", err)
			}
		}
		line := bytes.TrimRight(sc.Bytes(), " \t")
		if len(line) == 0 {
			finish()
			continue
		}
		if cur == nil {
			cur = &record{line: lineNo}
		}
		if cur.bad {
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			cur.bad = true
			addErr(fmt.Errorf("parse installed record at line %d: %w: want \"X:value\", got %q", lineNo, ErrMalformed, truncate(line)))
			continue
		}
		val := string(line[2:])
		switch line[0] {
		case 'P':
			if cur.name != "" {
				// apk itself starts a new package only after a blank line;
				// two names in one record means the file is damaged.
				cur.bad = true
				addErr(fmt.Errorf("parse installed record at line %d: %w: second P: field in record started at line %d", lineNo, ErrMalformed, cur.line))
				continue
			}
			cur.name = val
		case 'V':
			cur.version = val
		case 'A':
			cur.arch = val
		case 'o':
			cur.origin = val
		case 'L':
			cur.license = val
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("%w: %w: line exceeds %d bytes", ErrMalformed, ErrTooLarge, MaxLineSize)
		}
		addErr(fmt.Errorf("parse installed at line %d: %w", lineNo+1, err))
		cur = nil
	}
	finish()
	if dropped > 0 {
		errs = append(errs, fmt.Errorf("%d more malformed records", dropped))
	}
	return pkgs, errors.Join(errs...)
}

func truncate(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
