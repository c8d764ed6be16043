package npm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/drydock/drydock/internal/extract/jsontok"
	"github.com/drydock/drydock/internal/inventory"
)

// lockEntry is one value of the lockfileVersion 2/3 "packages" map. Decoding
// one entry at a time keeps memory to one entry plus the packages found.
type lockEntry struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Dev     bool            `json:"dev"`
	Link    bool            `json:"link"`
	License json.RawMessage `json:"license"`
}

// ParsePackageLock reads package-lock.json or npm-shrinkwrap.json. Version 2
// and 3 files list every installed path in "packages"; version 1 files nest
// a "dependencies" tree. Version 2 files carry both, and "packages" is used
// because it is the complete one (it knows aliases and links). The file is
// read as a token stream, so a large lockfile costs memory for its packages,
// not for its bytes.
func ParsePackageLock(ctx context.Context, r io.Reader) ([]inventory.Package, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, fmt.Errorf("parse package-lock: %w", err)
	}
	var (
		fromPackages, fromDeps []inventory.Package
		sawPackages            bool
	)
	result := func() []inventory.Package {
		if sawPackages {
			return fromPackages
		}
		return fromDeps
	}
	for dec.More() {
		key, err := readKey(dec)
		if err != nil {
			return result(), fmt.Errorf("parse package-lock: %w", err)
		}
		switch key {
		case "packages":
			sawPackages = true
			fromPackages, err = readPackagesMap(ctx, dec)
		case "dependencies":
			if sawPackages {
				err = skipValue(dec)
			} else {
				fromDeps, err = readDependencies(ctx, dec, fromDeps, 0)
			}
		default:
			err = skipValue(dec)
		}
		if err != nil {
			return result(), fmt.Errorf("parse package-lock %q: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return result(), fmt.Errorf("parse package-lock: %w", err)
	}
	return result(), nil
}

// readPackagesMap reads the v2/v3 "packages" object, whose keys are install
// paths ("node_modules/a/node_modules/@s/b").
func readPackagesMap(ctx context.Context, dec *json.Decoder) ([]inventory.Package, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var pkgs []inventory.Package
	for n := 0; dec.More(); n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return pkgs, err
			}
		}
		key, err := readKey(dec)
		if err != nil {
			return pkgs, err
		}
		var e lockEntry
		if err := dec.Decode(&e); err != nil {
			return pkgs, fmt.Errorf("%w: entry %q: %w", ErrMalformed, key, jsontok.Describe(err))
		}
		// "" is the project itself and paths without node_modules are
		// workspace projects; links point at those. None is a dependency
		// installed from a registry.
		i := strings.LastIndex(key, "node_modules/")
		if i < 0 || e.Link {
			continue
		}
		name := key[i+len("node_modules/"):]
		if e.Name != "" {
			// An alias ("foo": "npm:bar@1") installs bar under foo's path.
			name = e.Name
		}
		p, ok := newPackage(name, e.Version)
		if !ok {
			continue
		}
		// devOptional packages are dev for some paths and optional
		// production dependencies for others, so they may well be installed
		// in production: only "dev" alone marks a dev-only package.
		p.Dev = e.Dev
		p.Licenses = licenses(e.License)
		pkgs = append(pkgs, p)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return pkgs, err
	}
	return pkgs, nil
}

// readDependencies reads a v1 "dependencies" object (name → entry with an
// optional nested "dependencies" object) and appends its packages to pkgs.
func readDependencies(ctx context.Context, dec *json.Decoder, pkgs []inventory.Package, depth int) ([]inventory.Package, error) {
	if depth > maxDepth {
		return pkgs, fmt.Errorf("%w: dependencies nested deeper than %d", ErrMalformed, maxDepth)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return pkgs, err
	}
	for dec.More() {
		if err := ctx.Err(); err != nil {
			return pkgs, err
		}
		name, err := readKey(dec)
		if err != nil {
			return pkgs, err
		}
		if err := expectDelim(dec, '{'); err != nil {
			return pkgs, fmt.Errorf("dependency %q: %w", name, err)
		}
		var (
			version string
			dev     bool
			nested  []inventory.Package
		)
		for dec.More() {
			key, err := readKey(dec)
			if err != nil {
				return pkgs, err
			}
			switch key {
			case "version":
				version, err = readString(dec)
			case "dev":
				dev, err = readBool(dec)
			case "dependencies":
				nested, err = readDependencies(ctx, dec, nested, depth+1)
			default:
				err = skipValue(dec)
			}
			if err != nil {
				return append(pkgs, nested...), fmt.Errorf("dependency %q: %w", name, err)
			}
		}
		if err := expectDelim(dec, '}'); err != nil {
			return append(pkgs, nested...), err
		}
		// v1 records an alias as "foo": {"version": "npm:bar@1.2.3"}.
		if rest, ok := strings.CutPrefix(version, "npm:"); ok {
			if at := strings.LastIndexByte(rest, '@'); at > 0 {
				name, version = rest[:at], rest[at+1:]
			}
		}
		if p, ok := newPackage(name, version); ok {
			p.Dev = dev
			pkgs = append(pkgs, p)
		}
		pkgs = append(pkgs, nested...)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return pkgs, err
	}
	return pkgs, nil
}

// readString reads a string value; other scalars and containers are
// skipped and read as "".
func readString(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, jsontok.UnexpectedEOF(err))
	}
	switch v := tok.(type) {
	case string:
		return v, nil
	case json.Delim:
		return "", skipRest(dec, v)
	}
	return "", nil
}

func readBool(dec *json.Decoder) (bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrMalformed, jsontok.UnexpectedEOF(err))
	}
	switch v := tok.(type) {
	case bool:
		return v, nil
	case json.Delim:
		return false, skipRest(dec, v)
	}
	return false, nil
}

// The streaming token helpers are shared by the JSON extractors; these
// bind them to this package's sentinel.
func expectDelim(dec *json.Decoder, want json.Delim) error {
	return jsontok.ExpectDelim(dec, want, ErrMalformed)
}

func readKey(dec *json.Decoder) (string, error) { return jsontok.Key(dec, ErrMalformed) }

func skipValue(dec *json.Decoder) error { return jsontok.Skip(dec, ErrMalformed) }

func skipRest(dec *json.Decoder, open json.Delim) error {
	return jsontok.SkipRest(dec, open, ErrMalformed)
}
