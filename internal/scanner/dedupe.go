package scanner

import (
	"path"
	"strings"

	"github.com/drydock/drydock/internal/extract/lang/npm"
	"github.com/drydock/drydock/internal/inventory"
)

// preferInstalled drops the packages of an npm lockfile whose project also
// has an installed node_modules tree: what is installed is what runs, and
// reporting both would count every dependency twice. A lockfile alone (an
// image that ships sources and installs at start) is kept.
func preferInstalled(pkgs []inventory.Package) []inventory.Package {
	installedUnder := map[string]bool{}
	for _, p := range pkgs {
		if p.Type != inventory.TypeNPM || npm.IsLockfile(p.Path) {
			continue
		}
		// ".../proj/node_modules/x/package.json" → project dir ".../proj"
		if i := strings.Index(p.Path, "node_modules/"); i >= 0 {
			installedUnder[strings.TrimSuffix(p.Path[:i], "/")] = true
		}
	}
	if len(installedUnder) == 0 {
		return pkgs
	}
	out := pkgs[:0]
	for _, p := range pkgs {
		if p.Type == inventory.TypeNPM && npm.IsLockfile(p.Path) {
			dir := path.Dir(p.Path)
			if dir == "." {
				dir = ""
			}
			if installedUnder[dir] {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}
