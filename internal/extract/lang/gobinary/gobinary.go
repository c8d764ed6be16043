// Package gobinary reads the module build information the Go toolchain embeds
// in every binary it links (the same data `go version -m` prints): the main
// module, every dependency module, and the Go version, which is reported as the
// "stdlib" package because the Go vulnerability database names the standard
// library so.
//
// Binaries are recognised by content, not by name or location: any executable
// regular file is a candidate, and files that are not Go executables yield no
// packages and no error.
package gobinary

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime/debug"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

// Name is the extractor's stable identifier.
const Name = "lang/gobinary"

const (
	// MinFileSize is the smallest file considered. The smallest Go binary is
	// about a megabyte; the lower bound only drops the many tiny executables
	// (shell scripts, wrappers) without reading them.
	MinFileSize = 1 << 10
	// MaxFileSize bounds the files considered. The largest Go binaries seen
	// in the wild (kubelet, terraform providers) are a few hundred MiB.
	MaxFileSize = 256 << 20

	// StdlibName is the package name of the Go standard library in the Go
	// vulnerability database.
	StdlibName = "stdlib"
)

var (
	// ErrMalformed is wrapped when a file looks like an executable of a known
	// format but its build information cannot be read.
	ErrMalformed = errors.New("malformed executable")
	// ErrTooLarge is wrapped when the input exceeds MaxFileSize.
	ErrTooLarge = errors.New("too large")
)

// Extractor reads Go build information from executables.
type Extractor struct{}

var _ extract.Extractor = (*Extractor)(nil)

// New returns the Go binary extractor.
func New() extract.Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return Name }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor. Only the mode and size are looked
// at: a Go binary can have any name and live anywhere, so the path says
// nothing. Every executable within the size bounds is therefore captured and
// read, which is the price of finding renamed and vendored binaries.
func (*Extractor) Required(_ string, fi fs.FileInfo) bool {
	return extract.IsExecutableCandidate(fi, MinFileSize, MaxFileSize)
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gobinary: read %s: %w", in.Path, err)
	}
	if in.Size > MaxFileSize {
		return nil, fmt.Errorf("gobinary: read %s: %d bytes exceeds the %d byte limit: %w", in.Path, in.Size, MaxFileSize, ErrTooLarge)
	}
	var magic [4]byte
	if n, _ := in.Reader.ReadAt(magic[:], 0); n < len(magic) || !isExecutable(magic[:]) {
		// Scripts and data files with an exec bit are common; they are
		// simply not Go binaries.
		return nil, nil
	}
	// The section reader keeps the parser within the captured content even
	// if the headers point past it.
	info, err := readBuildInfo(io.NewSectionReader(in.Reader, 0, in.Size))
	if err != nil {
		if _, ok := extract.AsPanic(err); ok {
			return nil, fmt.Errorf("gobinary: read build info of %s: %w", in.Path, err)
		}
		if notGo(err, isELF(magic[:])) {
			return nil, nil
		}
		return nil, fmt.Errorf("gobinary: read build info of %s: %w: %w", in.Path, ErrMalformed, err)
	}
	return Packages(info), nil
}

// readBuildInfo guards against panics in the executable parsers: a hostile
// binary must cost us one file, not the scan.
func readBuildInfo(r io.ReaderAt) (info *debug.BuildInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			info, err = nil, extract.Recovered("gobinary: read build info", p)
		}
	}()
	return buildinfo.Read(r)
}

// notGo reports whether err says the file is a valid executable that is not
// a Go binary, or not an executable debug/buildinfo knows. The package does
// not export these errors, so their text is the only handle. It reports any
// executable it cannot parse as unrecognized; for a file with the ELF magic,
// the format Linux images are made of, that means a damaged binary, which is
// worth a problem report. The two-byte PE magic and the Mach-O magic shared
// with Java class files are too weak to claim the same.
func notGo(err error, elf bool) bool {
	s := err.Error()
	if strings.Contains(s, "not a Go executable") {
		return true
	}
	return !elf && strings.Contains(s, "unrecognized file format")
}

func isELF(magic []byte) bool { return bytes.Equal(magic, []byte("\x7fELF")) }

// isExecutable reports whether magic starts an ELF, PE or Mach-O file, the
// formats the Go linker writes. Checking it first avoids handing every
// executable script to the binary parsers.
func isExecutable(magic []byte) bool {
	if isELF(magic) || bytes.HasPrefix(magic, []byte("MZ")) {
		return true
	}
	switch string(magic) {
	case "\xfe\xed\xfa\xce", "\xce\xfa\xed\xfe", // Mach-O 32-bit
		"\xfe\xed\xfa\xcf", "\xcf\xfa\xed\xfe", // Mach-O 64-bit
		"\xca\xfe\xba\xbe": // Mach-O universal (shared with Java class files, which buildinfo rejects)
		return true
	}
	return false
}

// Packages converts build information to packages: the main module, every
// dependency module, and the standard library.
func Packages(info *debug.BuildInfo) []inventory.Package {
	var pkgs []inventory.Package
	if info.Main.Path != "" {
		// The main module is the application itself. Built from a source tree
		// without a version tag, its version is "(devel)": it is kept, with an
		// empty version, because an inventory that omits the application it
		// describes is misleading, and an empty version is honest — it must be
		// read as unknown, never as "any version".
		v := info.Main.Version
		if v == "(devel)" {
			v = ""
		}
		pkgs = append(pkgs, module(info.Main.Path, v))
	}
	for _, dep := range info.Deps {
		if dep == nil || dep.Path == "" {
			continue
		}
		path, v := dep.Path, dep.Version
		if r := dep.Replace; r != nil {
			// A local directory replacement records the version "(devel)".
			if r.Version != "" && r.Version != "(devel)" {
				// The replacement's code is what was compiled in.
				path, v = r.Path, r.Version
			} else {
				// Replaced by a local directory ("=> ../fork"): the code is
				// unpublished, so neither the directory nor the original
				// version describe it. Keep the original name, version unknown.
				v = ""
			}
		}
		pkgs = append(pkgs, module(path, v))
	}
	if v, ok := StdlibVersion(info.GoVersion); ok {
		pkgs = append(pkgs, module(StdlibName, v))
	}
	return pkgs
}

func module(path, version string) inventory.Package {
	// Go module paths contain slashes; the package-URL spec puts all but the
	// last element in the namespace (pkg:golang/golang.org/x/text@v0.3.5).
	ns, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		ns, name = path[:i], path[i+1:]
	}
	return inventory.Package{
		Name:    path,
		Version: version,
		Type:    inventory.TypeGolang,
		PURL:    packageurl.NewPackageURL(packageurl.TypeGolang, ns, name, version, nil, "").ToString(),
	}
}

// StdlibVersion turns the toolchain version recorded in a binary into the
// SemVer form used for Go module versions: "go1.20.1" → "v1.20.1", "go1.20" →
// "v1.20.0", "go1.21rc2" → "v1.21.0-rc.2". Experiments ("go1.22.0
// X:boringcrypto") are ignored. Development toolchains ("devel go1.23-abc")
// have no release version; ok is false for them and for anything unknown.
func StdlibVersion(goVersion string) (string, bool) {
	f := strings.Fields(goVersion)
	if len(f) == 0 || !strings.HasPrefix(f[0], "go") {
		return "", false
	}
	rest := f[0][2:]
	// Toolchains built with GOEXPERIMENT or from a fork may carry a suffix
	// after a hyphen or plus ("go1.24.0-fips"); the release is before it.
	if i := strings.IndexAny(rest, "-+"); i >= 0 {
		rest = rest[:i]
	}
	i := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, pre := rest, ""
	if i >= 0 {
		num, pre = rest[:i], rest[i:]
	}
	parts := strings.Split(num, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return "", false
	}
	for _, p := range parts {
		if !digits(p) {
			return "", false
		}
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	v := "v" + strings.Join(parts, ".")
	if pre != "" {
		word := strings.TrimRight(pre, "0123456789")
		n := pre[len(word):]
		switch word {
		case "alpha", "beta", "rc":
		default:
			return "", false
		}
		if n == "" {
			n = "0"
		}
		v += "-" + word + "." + n
	}
	return v, true
}

func digits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

var _ extract.Sniffer = (*Extractor)(nil)

// Sniff keeps only files that start like an ELF, PE or Mach-O executable.
func (*Extractor) Sniff(_ string, head []byte) bool {
	return len(head) >= 4 && isExecutable(head[:4])
}
