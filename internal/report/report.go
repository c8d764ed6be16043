// Package report renders drydock's results for people and for other tools.
//
// It renders inventories as SBOMs (SBOM: table, native JSON, CycloneDX 1.6
// and SPDX 2.3) and scan reports (Scan: table, native JSON, SARIF 2.1.0 and
// CycloneDX 1.6 with vulnerabilities), each kind with its own formatter
// interface and registry. Each format is one entry in an explicit registry
// map rather than registering itself from init, so the list of formats is
// readable in one place.
package report

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/drydock/drydock/internal/inventory"
)

// SBOMFormatter writes an inventory in one output format.
type SBOMFormatter interface {
	Format(w io.Writer, inv *inventory.Inventory) error
}

// Options configure every formatter; each uses the fields that apply to it.
type Options struct {
	// ToolName and ToolVersion name the producer in SBOM metadata
	// ("drydock", "1.2.3"). Empty values fall back to "drydock" and "devel".
	ToolName    string
	ToolVersion string
	// Now is the clock for document timestamps. Tests set it so that output is
	// byte-for-byte reproducible; nil means time.Now.
	Now func() time.Time
	// Color enables ANSI colour in the table format.
	Color bool
	// Details adds each finding's title and advisory URL to the scan
	// table (the other formats always carry them).
	Details bool
}

// ErrUnknownFormat is returned by SBOM for a name not in the registry.
var ErrUnknownFormat = errors.New("unknown format")

var sbomFormats = map[string]func(opts Options) SBOMFormatter{
	"table":     func(o Options) SBOMFormatter { return tableFormatter{opts: o} },
	"json":      func(o Options) SBOMFormatter { return jsonFormatter{} },
	"cyclonedx": func(o Options) SBOMFormatter { return cycloneDXFormatter{opts: o} },
	"spdx":      func(o Options) SBOMFormatter { return spdxFormatter{opts: o} },
}

// SBOM returns the formatter registered under name.
func SBOM(name string, opts Options) (SBOMFormatter, error) {
	newFormatter, ok := sbomFormats[name]
	if !ok {
		return nil, fmt.Errorf("report: SBOM format %q: %w (known: %s)", name, ErrUnknownFormat, strings.Join(SBOMFormats(), ", "))
	}
	return newFormatter(opts), nil
}

// SBOMFormats lists the registered SBOM format names, sorted.
func SBOMFormats() []string {
	return slices.Sorted(maps.Keys(sbomFormats))
}

func (o Options) toolName() string {
	if o.ToolName == "" {
		return "drydock"
	}
	return o.ToolName
}

func (o Options) toolVersion() string {
	if o.ToolVersion == "" {
		return "devel"
	}
	return o.ToolVersion
}

// now is truncated to seconds because both SBOM formats print second
// precision, and a serial number derived from it must match what is printed.
func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now().UTC().Truncate(time.Second)
	}
	return o.Now().UTC().Truncate(time.Second)
}

// sortedPackages returns a copy of the packages in a stable order, with package
// URLs filled in, so that presentation formats do not depend on the order in
// which extractors happened to finish and the caller's inventory is untouched.
func sortedPackages(inv *inventory.Inventory) []inventory.Package {
	pkgs := slices.Clone(inv.Packages)
	for i := range pkgs {
		if pkgs[i].PURL == "" {
			pkgs[i].PURL = inventory.PURL(pkgs[i], inv.OS)
		}
	}
	slices.SortStableFunc(pkgs, func(a, b inventory.Package) int {
		return cmp.Or(
			cmp.Compare(displayName(a), displayName(b)),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Namespace, b.Namespace),
			cmp.Compare(a.Arch, b.Arch),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.LayerIndex, b.LayerIndex),
		)
	})
	return pkgs
}

// shortDigest gives the first 12 hex characters of a digest, as docker does.
func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 {
		d = d[i+1:]
	}
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// imageName is the best human name for the scanned image.
func imageName(src inventory.Source) string {
	if src.Name != "" {
		return src.Name
	}
	if src.Ref != "" {
		return src.Ref
	}
	return "image"
}

func osName(os *inventory.OS) string {
	if os == nil {
		return ""
	}
	if os.PrettyName != "" {
		return os.PrettyName
	}
	return strings.TrimSpace(os.ID + " " + os.VersionID)
}

func problemText(p inventory.Problem) string {
	var b strings.Builder
	b.WriteString(p.Stage)
	if p.Extractor != "" {
		b.WriteString(" [" + p.Extractor + "]")
	}
	if p.Layer != "" {
		b.WriteString(" layer " + shortDigest(p.Layer))
	}
	if p.Path != "" {
		b.WriteString(" " + p.Path)
	}
	b.WriteString(": " + p.Message)
	return b.String()
}

// displayName qualifies a package name with its namespace where the
// ecosystem treats the two as one name ("@angular/core", Maven
// "group:artifact"); for OS packages the namespace is only the distro.
func displayName(p inventory.Package) string {
	if p.Namespace == "" {
		return p.Name
	}
	switch p.Type {
	case inventory.TypeDeb, inventory.TypeAPK, inventory.TypeRPM:
		return p.Name
	case inventory.TypeMaven:
		return p.Namespace + ":" + p.Name
	default:
		return p.Namespace + "/" + p.Name
	}
}
