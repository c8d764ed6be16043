// Package rustaudit reads the dependency list that cargo-auditable embeds in
// Rust executables: zlib-compressed JSON in a linker section named ".dep-v0"
// (".rust-deps-v0" in ELF files from rust-audit 0.1, "rdep-v0" in PE files).
// Executables are recognised by content, not by name; files without the
// section yield no packages and no error.
//
// The JSON schema and its defaults come from github.com/rust-secure-code/go-rustaudit,
// whose types are decoded into. Its GetDependencyInfo is not called: it
// inflates the section without a limit, so a small hostile section could
// expand into gigabytes. The section is located here with the standard
// library's executable parsers and inflated with a cap.
package rustaudit

import (
	"bytes"
	"compress/zlib"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/package-url/packageurl-go"
	goaudit "github.com/rust-secure-code/go-rustaudit"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/extract/jsontok"
	"github.com/drydock/drydock/internal/inventory"
)

// Name is the extractor's stable identifier.
const Name = "lang/cargo-auditable"

const (
	// MinFileSize and MaxFileSize bound the executables considered. Small
	// files are scripts; the upper bound matches the Go binary extractor.
	MinFileSize = 1 << 10
	MaxFileSize = 256 << 20
	// MaxSectionSize bounds the compressed section. cargo-auditable data for
	// a thousand crates is a few tens of KiB compressed.
	MaxSectionSize = 4 << 20
	// MaxJSONSize bounds the inflated JSON, the zip-bomb guard.
	MaxJSONSize = 16 << 20
)

var (
	// ErrMalformed is wrapped when an executable or its dependency section
	// cannot be read.
	ErrMalformed = errors.New("malformed executable")
	// ErrTooLarge is wrapped when the input, the section or its inflated
	// content exceeds the limits above.
	ErrTooLarge = errors.New("too large")
)

// Section names, newest first, per executable format.
var (
	elfSections   = []string{".dep-v0", ".rust-deps-v0"}
	peSections    = []string{".dep-v0", "rdep-v0"}
	machoSections = []string{".dep-v0", "rust-deps-v0"}
)

// Extractor reads cargo-auditable dependency sections.
type Extractor struct{}

var _ extract.Extractor = (*Extractor)(nil)

// New returns the cargo-auditable extractor.
func New() extract.Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return Name }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor. A Rust executable can have any name
// and live anywhere, so only the mode and size decide: every executable
// regular file within the bounds is captured.
func (*Extractor) Required(_ string, fi fs.FileInfo) bool {
	return extract.IsExecutableCandidate(fi, MinFileSize, MaxFileSize)
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cargo-auditable: read %s: %w", in.Path, err)
	}
	if in.Size > MaxFileSize {
		return nil, fmt.Errorf("cargo-auditable: read %s: %d bytes exceeds the %d byte limit: %w", in.Path, in.Size, MaxFileSize, ErrTooLarge)
	}
	r := io.NewSectionReader(in.Reader, 0, in.Size)
	sec, err := findSection(r)
	if err != nil {
		return nil, fmt.Errorf("cargo-auditable: read sections of %s: %w", in.Path, err)
	}
	if sec == nil {
		return nil, nil
	}
	info, err := Decode(sec)
	if err != nil {
		return nil, fmt.Errorf("cargo-auditable: decode dependency section of %s: %w", in.Path, err)
	}
	return Packages(info), nil
}

// sectionReader is what debug/elf, debug/pe and debug/macho sections share.
type sectionReader interface {
	Open() io.ReadSeeker
}

// findSection returns the dependency section's compressed content, or nil
// when r is not an executable or has no such section.
func findSection(r io.ReaderAt) (data []byte, err error) {
	// The executable parsers are fed untrusted input; a panic in one must
	// cost this file only.
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, extract.Recovered("rustaudit: find the dependency section", p)
		}
	}()
	var magic [4]byte
	if n, _ := r.ReadAt(magic[:], 0); n < len(magic) {
		return nil, nil
	}
	var (
		sec  sectionReader
		size uint64
	)
	switch m := string(magic[:]); {
	case m == "\x7fELF":
		f, err := elf.NewFile(r)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		for _, name := range elfSections {
			if s := f.Section(name); s != nil && s.Type != elf.SHT_NOBITS {
				sec, size = s, s.Size
				break
			}
		}
	case m[:2] == "MZ":
		f, err := pe.NewFile(r)
		if err != nil {
			// Two bytes are a weak signature: a text file starting "MZ" is
			// not a damaged executable.
			return nil, nil
		}
		for _, name := range peSections {
			if s := f.Section(name); s != nil {
				sec, size = s, uint64(s.Size)
				break
			}
		}
	case m == "\xfe\xed\xfa\xce", m == "\xce\xfa\xed\xfe", m == "\xfe\xed\xfa\xcf", m == "\xcf\xfa\xed\xfe":
		f, err := macho.NewFile(r)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		for _, name := range machoSections {
			if s := f.Section(name); s != nil {
				sec, size = s, s.Size
				break
			}
		}
	}
	if sec == nil {
		return nil, nil
	}
	if size > MaxSectionSize {
		return nil, fmt.Errorf("dependency section of %d bytes exceeds %d: %w", size, MaxSectionSize, ErrTooLarge)
	}
	data, err = io.ReadAll(io.LimitReader(sec.Open(), MaxSectionSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read dependency section: %w", ErrMalformed, err)
	}
	return data, nil
}

// Decode inflates and parses a dependency section's content.
func Decode(section []byte) (*goaudit.VersionInfo, error) {
	zr, err := zlib.NewReader(bytes.NewReader(section))
	if err != nil {
		return nil, fmt.Errorf("%w: inflate: %w", ErrMalformed, err)
	}
	defer zr.Close()
	js, err := io.ReadAll(io.LimitReader(zr, MaxJSONSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: inflate: %w", ErrMalformed, err)
	}
	if len(js) > MaxJSONSize {
		return nil, fmt.Errorf("inflated JSON exceeds %d bytes: %w", MaxJSONSize, ErrTooLarge)
	}
	var info goaudit.VersionInfo
	if err := json.Unmarshal(js, &info); err != nil {
		return nil, fmt.Errorf("%w: parse JSON: %w", ErrMalformed, jsontok.Describe(err))
	}
	return &info, nil
}

// Packages lists the crates compiled into the executable. As Trivy does,
// build-time crates (build scripts, proc macros: kind "build") are left out,
// because none of their code ships in the binary, and the root crate is kept:
// it is the application, and can itself be a published crate.
func Packages(info *goaudit.VersionInfo) []inventory.Package {
	var pkgs []inventory.Package
	seen := map[string]bool{}
	for _, p := range info.Packages {
		if p.Kind == goaudit.Build || p.Name == "" {
			continue
		}
		// A crate built for both the host and the target appears twice.
		key := p.Name + "\x00" + p.Version
		if seen[key] {
			continue
		}
		seen[key] = true
		pkgs = append(pkgs, inventory.Package{
			Name:    p.Name,
			Version: p.Version,
			Type:    inventory.TypeCargo,
			PURL:    packageurl.NewPackageURL(packageurl.TypeCargo, "", p.Name, p.Version, nil, "").ToString(),
		})
	}
	return pkgs
}

var _ extract.Sniffer = (*Extractor)(nil)

// Sniff keeps only files that start like an ELF, PE or Mach-O executable:
// the only formats that carry a .dep-v0 section.
func (*Extractor) Sniff(_ string, head []byte) bool {
	if len(head) < 4 {
		return false
	}
	switch m := string(head[:4]); {
	case m == "\x7fELF", m[:2] == "MZ", m == "\xfe\xed\xfa\xce", m == "\xfe\xed\xfa\xcf", m == "\xce\xfa\xed\xfe", m == "\xcf\xfa\xed\xfe":
		return true
	}
	return false
}
