// Package php finds the PHP packages Composer installed into a project's
// vendor directory, from vendor/composer/installed.json: a top-level array
// of packages in Composer 1, an object {"packages": [...], "dev": ...,
// "dev-package-names": [...]} in Composer 2, which also says which packages
// are dev-only.
//
// Versions are kept as written ("version"), except that a leading "v" on a
// tag ("v5.4.0") is dropped where Composer itself normalised it away, which
// its "version_normalized" field records ("5.4.0.0"): advisories for
// Packagist name versions without it. Branch versions ("dev-main",
// "2.x-dev") are kept as written.
package php

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/extract/jsontok"
	"github.com/drydock/drydock/internal/inventory"
)

// Name is the extractor's stable identifier.
const Name = "lang/php"

// MaxFileSize bounds installed.json. It carries each package's description
// and autoload rules, a few KiB each; the file is streamed, so memory
// follows the package count.
const MaxFileSize = 256 << 20

var (
	// ErrTooLarge is wrapped when the file exceeds MaxFileSize.
	ErrTooLarge = errors.New("too large")
	// ErrMalformed is wrapped when the file is not an installed.json.
	ErrMalformed = errors.New("malformed installed.json")
)

const installed = "vendor/composer/installed.json"

// Extractor reads Composer's installed.json.
type Extractor struct{}

var _ extract.Extractor = (*Extractor)(nil)

// New returns the Composer extractor.
func New() extract.Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return Name }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor: .../vendor/composer/installed.json.
func (*Extractor) Required(p string, fi fs.FileInfo) bool {
	if fi != nil && fi.IsDir() {
		return false
	}
	return p == installed || strings.HasSuffix(p, "/"+installed)
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	if in.Size > MaxFileSize {
		return nil, fmt.Errorf("php: read %s: %d bytes exceeds the %d byte limit: %w", in.Path, in.Size, MaxFileSize, ErrTooLarge)
	}
	r := io.LimitReader(io.NewSectionReader(in.Reader, 0, in.Size), MaxFileSize)
	pkgs, err := Parse(ctx, r)
	for i := range pkgs {
		pkgs[i].Path = in.Path
	}
	if err != nil {
		return pkgs, fmt.Errorf("php: read %s: %w", in.Path, err)
	}
	return pkgs, nil
}

type composerPackage struct {
	Name              string          `json:"name"`
	Version           string          `json:"version"`
	VersionNormalized string          `json:"version_normalized"`
	License           json.RawMessage `json:"license"`
}

// Parse reads installed.json in either Composer format, one package at a
// time.
func Parse(ctx context.Context, r io.Reader) ([]inventory.Package, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("parse installed.json: %w: %w", ErrMalformed, jsontok.UnexpectedEOF(err))
	}
	switch tok {
	case json.Delim('['):
		// Composer 1.
		pkgs, err := readPackages(ctx, dec)
		if err != nil {
			return pkgs, fmt.Errorf("parse installed.json: %w", err)
		}
		return pkgs, nil
	case json.Delim('{'):
	default:
		return nil, fmt.Errorf("parse installed.json: %w: want an array or object, got %v", ErrMalformed, tok)
	}
	var (
		pkgs []inventory.Package
		dev  []string
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return pkgs, fmt.Errorf("parse installed.json: %w: %w", ErrMalformed, jsontok.UnexpectedEOF(err))
		}
		switch tok {
		case "packages":
			if err := expectDelim(dec, '['); err != nil {
				return pkgs, fmt.Errorf("parse installed.json packages: %w", err)
			}
			if pkgs, err = readPackages(ctx, dec); err != nil {
				return pkgs, fmt.Errorf("parse installed.json packages: %w", err)
			}
		case "dev-package-names":
			if err := dec.Decode(&dev); err != nil {
				return pkgs, fmt.Errorf("parse installed.json dev-package-names: %w: %w", ErrMalformed, jsontok.Describe(err))
			}
		default:
			if err := skipValue(dec); err != nil {
				return pkgs, fmt.Errorf("parse installed.json: %w", err)
			}
		}
	}
	if len(dev) > 0 {
		isDev := make(map[string]bool, len(dev))
		for _, n := range dev {
			isDev[strings.ToLower(n)] = true
		}
		for i := range pkgs {
			pkgs[i].Dev = isDev[strings.ToLower(pkgs[i].Namespace+"/"+pkgs[i].Name)]
		}
	}
	return pkgs, nil
}

// readPackages reads the elements of an array whose "[" was consumed, and
// its "]".
func readPackages(ctx context.Context, dec *json.Decoder) ([]inventory.Package, error) {
	var pkgs []inventory.Package
	for n := 0; dec.More(); n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return pkgs, err
			}
		}
		var cp composerPackage
		if err := dec.Decode(&cp); err != nil {
			return pkgs, fmt.Errorf("%w: package %d: %w", ErrMalformed, n, jsontok.Describe(err))
		}
		if p, ok := cp.pkg(); ok {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, expectDelim(dec, ']')
}

func (cp composerPackage) pkg() (inventory.Package, bool) {
	vendor, name, ok := strings.Cut(strings.TrimSpace(cp.Name), "/")
	version := strings.TrimSpace(cp.Version)
	if !ok || vendor == "" || name == "" || strings.Contains(name, "/") || version == "" {
		return inventory.Package{}, false
	}
	version = normalizeV(version, cp.VersionNormalized)
	return inventory.Package{
		Name:      name,
		Namespace: vendor,
		Version:   version,
		Type:      inventory.TypeComposer,
		Licenses:  licenses(cp.License),
		PURL:      packageurl.NewPackageURL(packageurl.TypeComposer, vendor, name, version, nil, "").ToString(),
	}, true
}

// normalizeV drops the "v" of "v1.2.3" when Composer's normalised version
// is numeric, that is when Composer read the tag as the version 1.2.3.
func normalizeV(version, normalized string) string {
	if len(version) < 2 || (version[0] != 'v' && version[0] != 'V') || version[1] < '0' || version[1] > '9' {
		return version
	}
	if normalized == "" || normalized[0] < '0' || normalized[0] > '9' {
		return version
	}
	return version[1:]
}

// licenses reads "license", an array of SPDX identifiers (or, in old
// packages, a single string).
func licenses(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one = strings.TrimSpace(one); one != "" {
			return []string{one}
		}
		return nil
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return nil
	}
	var out []string
	for _, l := range many {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// The streaming token helpers are shared by the JSON extractors; these
// bind them to this package's sentinel.
func expectDelim(dec *json.Decoder, want json.Delim) error {
	return jsontok.ExpectDelim(dec, want, ErrMalformed)
}

func skipValue(dec *json.Decoder) error { return jsontok.Skip(dec, ErrMalformed) }
