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
