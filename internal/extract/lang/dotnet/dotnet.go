// Package dotnet finds the NuGet packages a .NET application was built
// against, from the <app>.deps.json file that "dotnet publish" writes beside
// the application's assemblies and that the host reads at startup to
// resolve them. Only libraries of type "package" come from NuGet; "project"
// entries are the application's own assemblies, and "runtimepack" and
// "reference" entries belong to the .NET runtime, which is scanned as such.
package dotnet

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
const Name = "lang/dotnet"

// MaxFileSize bounds a deps.json. Large applications have a few MiB; the
// file is streamed, so memory follows the library count.
const MaxFileSize = 256 << 20

var (
	// ErrTooLarge is wrapped when the file exceeds MaxFileSize.
	ErrTooLarge = errors.New("too large")
	// ErrMalformed is wrapped when the file is not a deps.json.
	ErrMalformed = errors.New("malformed deps.json")
)

const suffix = ".deps.json"

// Extractor reads .NET deps.json files.
type Extractor struct{}

var _ extract.Extractor = (*Extractor)(nil)

// New returns the .NET extractor.
func New() extract.Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return Name }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor: any file named <app>.deps.json.
func (*Extractor) Required(p string, fi fs.FileInfo) bool {
	if fi != nil && fi.IsDir() {
		return false
	}
	base := p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		base = p[i+1:]
	}
	return len(base) > len(suffix) && strings.HasSuffix(base, suffix)
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	if in.Size > MaxFileSize {
		return nil, fmt.Errorf("dotnet: read %s: %d bytes exceeds the %d byte limit: %w", in.Path, in.Size, MaxFileSize, ErrTooLarge)
	}
	r := io.LimitReader(io.NewSectionReader(in.Reader, 0, in.Size), MaxFileSize)
	pkgs, err := Parse(ctx, r)
	for i := range pkgs {
		pkgs[i].Path = in.Path
	}
	if err != nil {
		return pkgs, fmt.Errorf("dotnet: read %s: %w", in.Path, err)
	}
	return pkgs, nil
}

type library struct {
	Type string `json:"type"`
}

// Parse reads the "libraries" object of a deps.json, whose keys are
// "Name/Version". Other top-level objects ("targets" repeats every library
// per target framework) are skipped token by token.
func Parse(ctx context.Context, r io.Reader) ([]inventory.Package, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, fmt.Errorf("parse deps.json: %w", err)
	}
	var pkgs []inventory.Package
	for dec.More() {
		key, err := readKey(dec)
		if err != nil {
			return pkgs, fmt.Errorf("parse deps.json: %w", err)
		}
		if key != "libraries" {
			if err := skipValue(dec); err != nil {
				return pkgs, fmt.Errorf("parse deps.json %q: %w", key, err)
			}
			continue
		}
		if pkgs, err = readLibraries(ctx, dec, pkgs); err != nil {
			return pkgs, fmt.Errorf("parse deps.json libraries: %w", err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return pkgs, fmt.Errorf("parse deps.json: %w", err)
	}
	return pkgs, nil
}

func readLibraries(ctx context.Context, dec *json.Decoder, pkgs []inventory.Package) ([]inventory.Package, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return pkgs, err
	}
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
		var lib library
		if err := dec.Decode(&lib); err != nil {
			return pkgs, fmt.Errorf("%w: library %q: %w", ErrMalformed, key, jsontok.Describe(err))
		}
		if lib.Type != "package" {
			continue
		}
		// NuGet ids cannot contain "/", so the first one ends the name.
		name, version, ok := strings.Cut(key, "/")
		name, version = strings.TrimSpace(name), strings.TrimSpace(version)
		if !ok || name == "" || version == "" || strings.Contains(version, "/") {
			continue
		}
		pkgs = append(pkgs, inventory.Package{
			Name:    name,
			Version: version,
			Type:    inventory.TypeNuGet,
			PURL:    packageurl.NewPackageURL(packageurl.TypeNuget, "", name, version, nil, "").ToString(),
		})
	}
	return pkgs, expectDelim(dec, '}')
}

// The streaming token helpers are shared by the JSON extractors; these
// bind them to this package's sentinel.
func expectDelim(dec *json.Decoder, want json.Delim) error {
	return jsontok.ExpectDelim(dec, want, ErrMalformed)
}

func readKey(dec *json.Decoder) (string, error) { return jsontok.Key(dec, ErrMalformed) }

func skipValue(dec *json.Decoder) error { return jsontok.Skip(dec, ErrMalformed) }
