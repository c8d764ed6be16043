package npm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/drydock/drydock/internal/inventory"
)

// ParseYarnLock reads a yarn.lock in either of its formats, line by line:
//
//   - classic (Yarn 1), a format of its own: an unindented line of
//     comma-separated specs ending in ":" (`"@babel/core@^7.0.0", "@babel/core@^7.1.0":`)
//     opens an entry whose indented fields are `key "value"`;
//   - berry (Yarn 2 and later), a YAML subset that starts with a
//     `__metadata:` entry; fields are `key: value` and `resolution:` names
//     the package actually installed ("name@npm:1.2.3").
//
// Both write each entry's fields at an indent of two spaces, which is all
// this reads, so no YAML library is needed and memory stays one line plus
// the packages. Neither format says which packages are dev-only.
func ParseYarnLock(ctx context.Context, r io.Reader) ([]inventory.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize)
	var (
		pkgs    []inventory.Package
		berry   bool
		cur     *yarnEntry
		badLine int
		bad     int
		lineNo  int
	)
	flush := func() {
		if cur == nil {
			return
		}
		var (
			p  inventory.Package
			ok bool
		)
		if berry {
			p, ok = cur.berryPackage()
		} else {
			p, ok = cur.classicPackage()
		}
		if ok {
			pkgs = append(pkgs, p)
		}
		cur = nil
	}
	for sc.Scan() {
		lineNo++
		if lineNo%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return pkgs, fmt.Errorf("parse yarn.lock: %w", err)
			}
		}
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if indent == 0 {
			flush()
			key, ok := strings.CutSuffix(trimmed, ":")
			if !ok {
				if bad == 0 {
					badLine = lineNo
				}
				bad++
				continue
			}
			if key == "__metadata" {
				berry = true
				continue
			}
			cur = &yarnEntry{specs: key}
			continue
		}
		if cur == nil || indent != 2 {
			continue
		}
		field, value := splitYarnField(trimmed)
		switch field {
		case "version":
			cur.version = unquote(value)
		case "resolution":
			cur.resolution = unquote(value)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("%w: line exceeds %d bytes", ErrTooLarge, MaxLineSize)
		}
		return pkgs, fmt.Errorf("parse yarn.lock at line %d: %w", lineNo+1, err)
	}
	flush()
	if bad > 0 {
		return pkgs, fmt.Errorf("parse yarn.lock: %w: %d unindented lines are not entry headers, first at line %d", ErrMalformed, bad, badLine)
	}
	return pkgs, nil
}

type yarnEntry struct {
	specs, version, resolution string
}

// classicPackage names the package after the entry's first spec; all specs
// of one entry share the name, unless they are aliases ("foo@npm:bar@^1"),
// which name the real package after "npm:".
func (e *yarnEntry) classicPackage() (inventory.Package, bool) {
	first, _, _ := strings.Cut(e.specs, ",")
	name, rng, ok := cutSpec(unquote(strings.TrimSpace(first)))
	if !ok {
		return inventory.Package{}, false
	}
	if rest, isAlias := strings.CutPrefix(rng, "npm:"); isAlias {
		if real, _, ok := cutSpec(rest); ok {
			name = real
		}
	}
	return newPackage(name, e.version)
}

// berryPackage reads the resolution, which names what was installed. Only
// the npm protocol names a registry package: workspace:, link:, portal:,
// patch: (whose unpatched npm: package has its own entry), git and file
// resolutions do not.
func (e *yarnEntry) berryPackage() (inventory.Package, bool) {
	name, ref, ok := cutSpec(e.resolution)
	if !ok {
		return inventory.Package{}, false
	}
	v, isNPM := strings.CutPrefix(ref, "npm:")
	if !isNPM {
		return inventory.Package{}, false
	}
	if e.version != "" {
		v = e.version
	}
	return newPackage(name, v)
}

// cutSpec splits "name@range" at the "@" after the name; a scoped name
// starts with "@" itself.
func cutSpec(s string) (name, rng string, ok bool) {
	if len(s) < 2 {
		return "", "", false
	}
	i := strings.IndexByte(s[1:], '@')
	if i < 0 {
		return "", "", false
	}
	return s[:i+1], s[i+2:], true
}

// splitYarnField splits `key "value"` (classic) and `key: value` (berry).
func splitYarnField(s string) (key, value string) {
	i := strings.IndexAny(s, " :")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s[i:]), ":"))
}

// unquote strips one level of double or single quotes. The names and
// versions inside never contain escapes.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}
