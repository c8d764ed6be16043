// Package version orders package versions the way each packaging ecosystem
// does, so that the matcher can tell whether an installed version lies inside
// an OSV affected range. Every ecosystem sits behind one small interface,
// Comparer; For maps an OSV ecosystem string ("Debian:12", "PyPI", ...) to
// the comparer that ecosystem's versions need.
//
// Where a well-tested library exists it is used (dpkg, rpm, apk, SemVer, Go
// modules, PEP 440, Maven); the libraries that never fail to parse are
// wrapped with a syntax check so that garbage is reported as ErrInvalid
// rather than silently ordered. RubyGems, NuGet and Composer have small
// comparers of our own, written from Gem::Version, NuGet's SemVer 2.0
// rules and composer/semver's normalisation with PHP's version_compare.
package version

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is returned (wrapped) when a version is not valid in the
// comparer's ecosystem. Callers branch on it to report an unmatchable
// package instead of failing the whole match.
var ErrInvalid = errors.New("invalid version")

// ErrUnknownEcosystem is returned (wrapped) by For when no comparer is known
// for an OSV ecosystem.
var ErrUnknownEcosystem = errors.New("unknown ecosystem")

// Comparer orders the versions of one ecosystem.
type Comparer interface {
	// Compare returns -1, 0 or +1 as a is older than, equal to or newer
	// than b. It returns an error wrapping ErrInvalid when either version
	// cannot be parsed, and never panics.
	Compare(a, b string) (int, error)
	// Valid reports whether v parses in this ecosystem.
	Valid(v string) bool
}

// For returns the comparer for an OSV ecosystem. The ecosystem may carry a
// release suffix ("Debian:12", "Alpine:v3.20", "Red Hat:enterprise_linux:9");
// only the part before the first colon chooses the comparer.
func For(ecosystem string) (Comparer, error) {
	base, _, _ := strings.Cut(ecosystem, ":")
	switch base {
	case "Debian", "Ubuntu":
		return Dpkg{}, nil
	case "Alpine", "Wolfi", "Chainguard":
		return APK{}, nil
	case "AlmaLinux", "Rocky Linux", "Red Hat", "SUSE", "openSUSE",
		"Mariner", "Azure Linux", "openEuler", "Photon OS":
		return RPM{}, nil
	case "Go":
		return Go{}, nil
	case "npm", "crates.io", "Hex", "Pub", "SwiftURL":
		return SemVer{}, nil
	case "NuGet":
		return NuGet{}, nil
	case "Packagist":
		return Composer{}, nil
	case "PyPI":
		return PEP440{}, nil
	case "Maven":
		return Maven{}, nil
	case "RubyGems":
		return Gem{}, nil
	}
	return nil, fmt.Errorf("version comparer for %q: %w", ecosystem, ErrUnknownEcosystem)
}

// invalid wraps ErrInvalid with the ecosystem and the offending version.
func invalid(kind, v string, cause error) error {
	if cause != nil {
		return fmt.Errorf("%s version %q: %w: %v", kind, v, ErrInvalid, cause)
	}
	return fmt.Errorf("%s version %q: %w", kind, v, ErrInvalid)
}

// sign folds any integer comparison result to -1, 0 or +1, because some
// libraries return the raw difference.
func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// plainText reports whether v is non-empty and free of whitespace and control
// characters; the libraries that accept any string are guarded with it.
func plainText(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if r <= ' ' || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}

// cmpDigits compares two runs of ASCII digits by numeric value without
// converting them, so arbitrarily long numbers cannot overflow.
func cmpDigits(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return sign(len(a) - len(b))
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
