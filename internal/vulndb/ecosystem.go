package vulndb

import (
	"regexp"
	"strings"
)

// DefaultEcosystems returns the top-level OSV ecosystems drydock has
// extractors for, spelled as the OSV export bucket names its folders. Each
// export holds every release of its ecosystem (Debian/all.zip holds
// "Debian:11", "Debian:12", ...).
func DefaultEcosystems() []string {
	return []string{
		// OS packages: dpkg, apk and rpm databases.
		"Debian", "Ubuntu",
		"Alpine", "Wolfi", "Chainguard",
		"AlmaLinux", "Rocky Linux", "Red Hat", "SUSE", "openSUSE", "Mageia",
		// Language packages.
		"Go", "npm", "PyPI", "Maven", "crates.io", "NuGet", "RubyGems", "Packagist",
	}
}

// topLevel returns the ecosystem without its suffix: "Debian:12" → "Debian",
// "Ubuntu:Pro:22.04:LTS" → "Ubuntu". OSV separates the suffix with the first
// colon; no top-level name contains one.
func topLevel(ecosystem string) string {
	if i := strings.IndexByte(ecosystem, ':'); i >= 0 {
		return ecosystem[:i]
	}
	return ecosystem
}

// canonicalTop maps a case-insensitive spelling of a known ecosystem to the
// OSV spelling, since callers derive these from package types ("pypi").
var canonicalTop = func() map[string]string {
	m := map[string]string{}
	for _, e := range append(DefaultEcosystems(), "Bitnami", "Hex", "Pub", "Photon OS", "Azure Linux", "openEuler") {
		m[strings.ToLower(e)] = e
	}
	return m
}()

// lookupEcosystems lists the stored ecosystem strings a lookup for eco
// should read. The caller's exact string always comes first; the rest absorb
// the suffix conventions OSV data uses but a caller reading the image may not
// spell the same way:
//   - an entry with the bare top-level name makes no claim about the release,
//     so it applies to every release ("Debian" for "Debian:12");
//   - Alpine releases are "v<major>.<minor>" ("3.20.3" → "v3.20");
//   - Debian releases are the major number ("12.5" → "12");
//   - Ubuntu LTS releases carry ":LTS" ("Ubuntu:22.04" → "Ubuntu:22.04:LTS").
func lookupEcosystems(eco string) []string {
	top, suffix, hasSuffix := strings.Cut(eco, ":")
	if c, ok := canonicalTop[strings.ToLower(top)]; ok {
		top = c
	}
	out := []string{eco}
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	if !hasSuffix {
		add(top)
		return out
	}
	add(top + ":" + suffix)
	switch top {
	case "Alpine":
		if m := alpineRelease.FindStringSubmatch(suffix); m != nil {
			add("Alpine:v" + m[1])
		}
	case "Debian":
		if m := debianRelease.FindStringSubmatch(suffix); m != nil {
			add("Debian:" + m[1])
		}
	case "Ubuntu":
		if ubuntuRelease.MatchString(suffix) {
			add("Ubuntu:" + suffix + ":LTS")
		}
	}
	add(top)
	return out
}

var (
	alpineRelease = regexp.MustCompile(`^v?(\d+\.\d+)(?:\.\d+)?$`)
	debianRelease = regexp.MustCompile(`^(\d+)(?:\.\d+)*$`)
	ubuntuRelease = regexp.MustCompile(`^(?:Pro:)?\d+\.\d+$`)
)

// normalizeName returns the form package names are indexed and looked up
// under. Only PyPI names are normalised (PEP 503): PyPI treats "Foo_Bar",
// "foo-bar" and "foo.bar" as one project, and advisories and installed
// metadata spell them differently. Other ecosystems' names are exact.
func normalizeName(ecosystem, name string) string {
	if strings.EqualFold(topLevel(ecosystem), "PyPI") {
		return pep503(name)
	}
	return name
}

// pep503 is re.sub(r"[-_.]+", "-", name).lower().
func pep503(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	inSep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			if !inSep {
				b.WriteByte('-')
			}
			inSep = true
			continue
		}
		inSep = false
		b.WriteByte(c)
	}
	return strings.ToLower(b.String())
}
