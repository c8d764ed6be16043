// Package npm finds JavaScript packages: those installed under node_modules
// (one package.json per package directory) and those pinned by the lockfiles
// of npm (package-lock.json, npm-shrinkwrap.json), Yarn (classic v1 and berry)
// and pnpm (lockfile versions 5, 6 and 9).
//
// Installed packages are what a container actually runs, so lockfiles are
// only read outside node_modules. The extractor sees one file at a time and
// cannot know whether a node_modules tree sits beside a lockfile, so an image
// that ships both reports the same project twice: once per installed
// package.json (Path ".../node_modules/<name>/package.json") and once from
// the lockfile (Path is the lockfile itself). Callers that want one view
// prefer the installed packages of a directory over the lockfile's packages
// of the same directory; IsLockfile tells the two apart by Path.
package npm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

// Name is the extractor's stable identifier.
const Name = "lang/npm"

const (
	// MaxPackageJSONSize bounds an installed package.json. Real ones are a
	// few KiB; packages published by old npm versions embed their README
	// and reach a few hundred KiB.
	MaxPackageJSONSize = 16 << 20
	// MaxLockfileSize bounds a lockfile. Lockfiles of large monorepos reach
	// tens of MiB; they are streamed, so memory follows the package count,
	// not this size.
	MaxLockfileSize = 512 << 20
	// MaxLineSize bounds one line of yarn.lock or pnpm-lock.yaml.
	MaxLineSize = 1 << 20
	// maxDepth bounds nesting in a v1 package-lock dependencies tree, whose
	// real depth follows node_modules nesting (rarely beyond 20).
	maxDepth = 256
)

var (
	// ErrTooLarge is wrapped when a file or a line exceeds the limits above.
	ErrTooLarge = errors.New("too large")
	// ErrMalformed is wrapped when a file is not in the expected format.
	ErrMalformed = errors.New("malformed")
)

// Lockfile base names read outside node_modules.
const (
	packageLock = "package-lock.json"
	shrinkwrap  = "npm-shrinkwrap.json"
	yarnLock    = "yarn.lock"
	pnpmLock    = "pnpm-lock.yaml"
)

// Extractor reads installed npm packages and JavaScript lockfiles.
type Extractor struct{}

var _ extract.Extractor = (*Extractor)(nil)

// New returns the npm extractor.
func New() extract.Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return Name }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor. It accepts
//
//   - .../node_modules/<name>/package.json and
//     .../node_modules/@scope/<name>/package.json, at any nesting depth;
//   - package-lock.json, npm-shrinkwrap.json, yarn.lock and pnpm-lock.yaml
//     anywhere not under a node_modules directory (npm's hidden lockfile
//     node_modules/.package-lock.json duplicates the installed tree).
func (*Extractor) Required(p string, fi fs.FileInfo) bool {
	if fi != nil && fi.IsDir() {
		return false
	}
	base := p
	dir := ""
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, base = p[:i], p[i+1:]
	}
	switch base {
	case "package.json":
		return isPackageDir(dir)
	case packageLock, shrinkwrap, yarnLock, pnpmLock:
		return !underNodeModules(dir)
	}
	return false
}

// IsLockfile reports whether a package's Path names a lockfile rather than
// an installed package.json.
func IsLockfile(p string) bool {
	switch path.Base(p) {
	case packageLock, shrinkwrap, yarnLock, pnpmLock:
		return true
	}
	return false
}

// isPackageDir reports whether dir is node_modules/<name> or
// node_modules/@scope/<name>. Deeper package.json files (lib/package.json,
// test fixtures inside a package) describe no installed package.
func isPackageDir(dir string) bool {
	parent, name := splitLast(dir)
	if !validName(name) {
		return false
	}
	grand, scope := splitLast(parent)
	if scope == "node_modules" {
		return true
	}
	if len(scope) < 2 || scope[0] != '@' {
		return false
	}
	_, nm := splitLast(grand)
	return nm == "node_modules"
}

func splitLast(p string) (dir, base string) {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}

// validName rejects directory names npm never gives a package: scopes
// (without a name below them), dot directories such as .bin and .pnpm, and
// node_modules itself.
func validName(n string) bool {
	return n != "" && n[0] != '.' && n[0] != '@' && n != "node_modules"
}

func underNodeModules(dir string) bool {
	return dir == "node_modules" || strings.HasPrefix(dir, "node_modules/") ||
		strings.HasSuffix(dir, "/node_modules") || strings.Contains(dir, "/node_modules/")
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	base := path.Base(in.Path)
	limit := int64(MaxLockfileSize)
	if base == "package.json" {
		limit = MaxPackageJSONSize
	}
	if in.Size > limit {
		return nil, fmt.Errorf("npm: read %s: %d bytes exceeds the %d byte limit: %w", in.Path, in.Size, limit, ErrTooLarge)
	}
	// The limit guards against a Size that understates the content.
	r := io.LimitReader(io.NewSectionReader(in.Reader, 0, in.Size), limit)
	var (
		pkgs []inventory.Package
		err  error
	)
	switch base {
	case "package.json":
		var p *inventory.Package
		p, err = ParsePackageJSON(r)
		if p != nil {
			pkgs = []inventory.Package{*p}
		}
	case packageLock, shrinkwrap:
		pkgs, err = ParsePackageLock(ctx, r)
	case yarnLock:
		pkgs, err = ParseYarnLock(ctx, r)
	case pnpmLock:
		pkgs, err = ParsePnpmLock(ctx, r)
	default:
		return nil, fmt.Errorf("npm: read %s: not a file this extractor reads", in.Path)
	}
	for i := range pkgs {
		pkgs[i].Path = in.Path
	}
	if err != nil {
		return pkgs, fmt.Errorf("npm: read %s: %w", in.Path, err)
	}
	return pkgs, nil
}

// newPackage builds a package from a full npm name ("@scope/name" or
// "name"), with the scope as the package-URL namespace as the purl spec
// wants for npm. It returns false for names that are not npm names.
func newPackage(fullName, version string) (inventory.Package, bool) {
	fullName = strings.TrimSpace(fullName)
	version = strings.TrimSpace(version)
	if fullName == "" || version == "" {
		return inventory.Package{}, false
	}
	ns, name := "", fullName
	if fullName[0] == '@' {
		var ok bool
		ns, name, ok = strings.Cut(fullName, "/")
		if !ok || len(ns) < 2 || name == "" || strings.Contains(name, "/") {
			return inventory.Package{}, false
		}
	} else if strings.Contains(fullName, "/") {
		return inventory.Package{}, false
	}
	p := inventory.Package{Name: name, Namespace: ns, Version: version, Type: inventory.TypeNPM}
	p.PURL = packageurl.NewPackageURL(packageurl.TypeNPM, ns, name, version, nil, "").ToString()
	return p, true
}

// FullName returns the npm name of a package this extractor produced:
// "@scope/name" for scoped packages. Advisories (OSV's npm ecosystem) use
// this form.
func FullName(p inventory.Package) string {
	if p.Namespace != "" {
		return p.Namespace + "/" + p.Name
	}
	return p.Name
}
