// Package python finds installed Python distributions from their core
// metadata files: *.dist-info/METADATA (wheels, pip installs), and the
// setuptools forms *.egg-info/PKG-INFO, a single *.egg-info file holding the
// same content (distutils installs, Debian's python3-* packages) and
// *.egg/EGG-INFO/PKG-INFO (unzipped eggs). They are read wherever they are,
// not only under site-packages or dist-packages: virtualenvs, /opt trees
// and vendored copies install the same files elsewhere.
package python

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

// Name is the extractor's stable identifier.
const Name = "lang/python"

const (
	// MaxFileSize bounds a metadata file. The headers are small, but the
	// body holds the project's README, which reaches a few hundred KiB.
	MaxFileSize = 32 << 20
	// MaxLineSize bounds one line; only the headers are read line by line.
	MaxLineSize = 1 << 20
	// maxLicenseLen is the longest License value taken as a license name.
	// Many projects paste the whole license text into the field, which
	// names nothing.
	maxLicenseLen = 200
	// maxClassifierLicenses bounds licenses taken from classifiers.
	maxClassifierLicenses = 8
)

var (
	// ErrTooLarge is wrapped when the file or a line exceeds the limits.
	ErrTooLarge = errors.New("too large")
	// ErrMalformed is wrapped when the headers lack Name or Version, which
	// every metadata version requires.
	ErrMalformed = errors.New("malformed metadata")
)

// Extractor reads Python distribution metadata.
type Extractor struct{}

var _ extract.Extractor = (*Extractor)(nil)

// New returns the Python extractor.
func New() extract.Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return Name }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor. It accepts, at any depth,
// X.dist-info/METADATA, X.egg-info/PKG-INFO, X.egg/EGG-INFO/PKG-INFO and a
// file named X.egg-info.
func (*Extractor) Required(p string, fi fs.FileInfo) bool {
	if fi != nil && fi.IsDir() {
		return false
	}
	dir, base := splitLast(p)
	switch base {
	case "METADATA":
		return hasStem(dir, ".dist-info")
	case "PKG-INFO":
		if hasStem(dir, ".egg-info") {
			return true
		}
		grand, egg := splitLast(dir)
		return egg == "EGG-INFO" && hasStem(grand, ".egg")
	}
	return len(base) > len(".egg-info") && strings.HasSuffix(base, ".egg-info")
}

// hasStem reports whether the last element of dir ends in suffix after a
// non-empty stem.
func hasStem(dir, suffix string) bool {
	_, last := splitLast(dir)
	return len(last) > len(suffix) && strings.HasSuffix(last, suffix)
}

func splitLast(p string) (dir, base string) {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	if in.Size > MaxFileSize {
		return nil, fmt.Errorf("python: read %s: %d bytes exceeds the %d byte limit: %w", in.Path, in.Size, MaxFileSize, ErrTooLarge)
	}
	r := io.LimitReader(io.NewSectionReader(in.Reader, 0, in.Size), MaxFileSize)
	p, err := Parse(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("python: read %s: %w", in.Path, err)
	}
	p.Path = in.Path
	return []inventory.Package{*p}, nil
}

// Parse reads the RFC 822-style headers of a core metadata file (METADATA
// or PKG-INFO, any Metadata-Version) up to the blank line that starts the
// body.
func Parse(ctx context.Context, r io.Reader) (*inventory.Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("parse metadata: %w", err)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 16<<10), MaxLineSize)
	var (
		name, version, licenseExpr, license string
		licenseLines                        int
		classifierLicenses                  []string
		field                               string
	)
	for sc.Scan() {
		line := sc.Text()
		// Only an empty line ends the headers: old distutils wrote
		// whitespace-only continuation lines inside Description.
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Continuation of the previous field. A License that goes on
			// over several lines is license text, not a name.
			if field == "license" {
				licenseLines++
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			field = ""
			continue
		}
		field = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		switch field {
		case "name":
			name = v
		case "version":
			version = v
		case "license-expression":
			licenseExpr = v
		case "license":
			license, licenseLines = v, 1
		case "classifier":
			if l, ok := classifierLicense(v); ok && len(classifierLicenses) < maxClassifierLicenses {
				classifierLicenses = append(classifierLicenses, l)
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("%w: header line exceeds %d bytes", ErrTooLarge, MaxLineSize)
		}
		return nil, fmt.Errorf("parse metadata headers: %w", err)
	}
	if name == "" || version == "" {
		return nil, fmt.Errorf("parse metadata headers: %w: Name %q, Version %q", ErrMalformed, name, version)
	}
	norm := NormalizeName(name)
	p := &inventory.Package{
		Name:    norm,
		Version: version,
		Type:    inventory.TypePyPI,
		PURL:    packageurl.NewPackageURL(packageurl.TypePyPi, "", norm, version, nil, "").ToString(),
	}
	switch {
	case licenseExpr != "":
		// Metadata 2.4's SPDX expression supersedes the free-text field.
		p.Licenses = []string{licenseExpr}
	case license != "" && licenseLines == 1 && len(license) <= maxLicenseLen && !strings.EqualFold(license, "UNKNOWN"):
		p.Licenses = []string{license}
	default:
		p.Licenses = classifierLicenses
	}
	return p, nil
}

// classifierLicense reads "License :: OSI Approved :: MIT License" as "MIT
// License". "License :: OSI Approved" alone names no license.
func classifierLicense(c string) (string, bool) {
	parts := strings.Split(c, "::")
	if len(parts) < 2 || strings.TrimSpace(parts[0]) != "License" {
		return "", false
	}
	last := strings.TrimSpace(parts[len(parts)-1])
	if last == "" || last == "OSI Approved" {
		return "", false
	}
	return last, true
}

// NormalizeName normalises a distribution name as PEP 503 does (lowercase,
// every run of "-", "_" and "." becomes one "-"), which is also the form
// the purl spec and OSV's PyPI ecosystem use.
func NormalizeName(n string) string {
	var b strings.Builder
	b.Grow(len(n))
	sep := false
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}
