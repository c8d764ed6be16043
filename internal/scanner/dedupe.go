package scanner

import (
	"path"
	"strings"

	"github.com/drydock/drydock/internal/extract/lang/npm"
	"github.com/drydock/drydock/internal/inventory"
)

// preferInstalled drops the packages of an npm lockfile whose project also
// has an installed node_modules tree: what is installed is what runs, and
// reporting both would count every dependency twice. An installed
// package.json does not say whether the package is a development
// dependency; the lockfile does, so its dev flags are carried over to the
// installed packages of the same name and version before it is dropped. A
// lockfile alone (an image that ships sources and installs at start) is kept.
func preferInstalled(pkgs []inventory.Package) []inventory.Package {
	installedUnder := map[string]bool{}
	for _, p := range pkgs {
		if dir, ok := projectOf(p); ok {
			installedUnder[dir] = true
		}
	}
	if len(installedUnder) == 0 {
		return pkgs
	}
	// dev[project dir + name@version] from the lockfiles of installed projects.
	dev := map[string]bool{}
	for _, p := range pkgs {
		if p.Type == inventory.TypeNPM && npm.IsLockfile(p.Path) && p.Dev {
			if dir := lockDir(p.Path); installedUnder[dir] {
				dev[dir+"\x00"+npm.FullName(p)+"@"+p.Version] = true
			}
		}
	}
	out := pkgs[:0]
	for _, p := range pkgs {
		if p.Type == inventory.TypeNPM && npm.IsLockfile(p.Path) && installedUnder[lockDir(p.Path)] {
			continue
		}
		if dir, ok := projectOf(p); ok && dev[dir+"\x00"+npm.FullName(p)+"@"+p.Version] {
			p.Dev = true
		}
		out = append(out, p)
	}
	return out
}

// projectOf returns the project directory of an installed npm package:
// ".../proj/node_modules/x/package.json" → ".../proj".
func projectOf(p inventory.Package) (string, bool) {
	if p.Type != inventory.TypeNPM || npm.IsLockfile(p.Path) {
		return "", false
	}
	i := strings.Index(p.Path, "node_modules/")
	if i < 0 {
		return "", false
	}
	return strings.TrimSuffix(p.Path[:i], "/"), true
}

func lockDir(p string) string {
	dir := path.Dir(p)
	if dir == "." {
		return ""
	}
	return dir
}

// onePerPythonInstall keeps one package per Python installation. Debian's
// python3-cryptography, for one, ships both a .dist-info directory and an
// .egg-info for the same installed distribution; each is metadata of the
// same files, and listing both would report every finding twice. Packages
// are the same installation when they sit in the same site directory with
// the same normalized name (PEP 503) and version; the .dist-info record is
// kept (it is the newer, fuller format), with licences carried over from the
// other when it has none.
func onePerPythonInstall(pkgs []inventory.Package) []inventory.Package {
	type key struct{ site, name, version string }
	first := map[key]int{} // index into out
	out := pkgs[:0]
	for _, p := range pkgs {
		site, ok := pythonSite(p)
		if !ok {
			out = append(out, p)
			continue
		}
		k := key{site, pep503(p.Name), p.Version}
		i, dup := first[k]
		if !dup {
			first[k] = len(out)
			out = append(out, p)
			continue
		}
		kept := out[i]
		if strings.Contains(p.Path, ".dist-info/") && !strings.Contains(kept.Path, ".dist-info/") {
			kept, p = p, kept
		}
		if len(kept.Licenses) == 0 {
			kept.Licenses = p.Licenses
		}
		out[i] = kept
	}
	return out
}

// pythonSite returns the directory holding a Python package's metadata
// directory or file: ".../dist-packages/x-1.dist-info/METADATA" →
// ".../dist-packages".
func pythonSite(p inventory.Package) (string, bool) {
	if p.Type != inventory.TypePyPI {
		return "", false
	}
	parts := strings.Split(p.Path, "/")
	for i, s := range parts {
		if strings.HasSuffix(s, ".dist-info") || strings.HasSuffix(s, ".egg-info") {
			return strings.Join(parts[:i], "/"), true
		}
	}
	return "", false
}

// pep503 normalizes a distribution name: lower case, runs of "-", "_" and
// "." as one "-".
func pep503(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}
