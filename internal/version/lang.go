package version

import (
	"strings"

	"github.com/Masterminds/semver/v3"
	pep440 "github.com/aquasecurity/go-pep440-version"
	mvn "github.com/masahiro331/go-mvn-version"
	gosemver "golang.org/x/mod/semver"
)

var (
	_ Comparer = SemVer{}
	_ Comparer = Go{}
	_ Comparer = PEP440{}
	_ Comparer = Maven{}
)

// SemVer orders Semantic Versioning 2.0 versions (npm, crates.io, and the
// SEMVER ranges of OSV records). A leading "v" is accepted and build metadata
// is ignored, as the spec says. Parsing is the lenient Masterminds parser, so
// "1.2" reads as 1.2.0.
type SemVer struct{}

func (SemVer) parse(v string) (*semver.Version, error) {
	if !plainText(v) {
		return nil, invalid("semver", v, nil)
	}
	p, err := semver.NewVersion(v)
	if err != nil {
		return nil, invalid("semver", v, err)
	}
	return p, nil
}

// Valid reports whether v is a SemVer version.
func (s SemVer) Valid(v string) bool { _, err := s.parse(v); return err == nil }

// Compare orders two SemVer versions.
func (s SemVer) Compare(a, b string) (int, error) {
	pa, err := s.parse(a)
	if err != nil {
		return 0, err
	}
	pb, err := s.parse(b)
	if err != nil {
		return 0, err
	}
	return sign(pa.Compare(pb)), nil
}

// Go orders Go module versions. Inventories carry them with a "v" prefix
// ("v0.3.5", pseudo-versions, "+incompatible") while OSV Go ranges carry none
// ("0.3.7"); both forms are accepted. Go toolchain tags ("go1.20.1",
// "go1.21rc2") are read as the SemVer the Go vulnerability database uses for
// the "stdlib" and "toolchain" packages ("1.20.1", "1.21.0-rc.2").
type Go struct{}

// Canonical returns v as a canonical Go SemVer string ("v1.2.3-pre"), or
// false when v is not a Go module version or toolchain tag.
func (Go) Canonical(v string) (string, bool) {
	if !plainText(v) {
		return "", false
	}
	if strings.HasPrefix(v, "go") {
		return goTag(v)
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !gosemver.IsValid(v) {
		return "", false
	}
	return v, true
}

// goTag converts a Go toolchain tag to SemVer: go1.20 → v1.20.0,
// go1.21rc2 → v1.21.0-rc.2.
func goTag(tag string) (string, bool) {
	rest := strings.TrimPrefix(tag, "go")
	i := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, pre := rest, ""
	if i >= 0 {
		num, pre = rest[:i], rest[i:]
	}
	parts := strings.Split(num, ".")
	if len(parts) > 3 {
		return "", false
	}
	for _, p := range parts {
		if !isDigits(p) {
			return "", false
		}
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	s := "v" + strings.Join(parts, ".")
	if pre != "" {
		word := strings.TrimRightFunc(pre, func(r rune) bool { return r >= '0' && r <= '9' })
		n := pre[len(word):]
		switch word {
		case "alpha", "beta", "rc":
		default:
			return "", false
		}
		if n == "" {
			n = "0"
		}
		s += "-" + word + "." + n
	}
	if !gosemver.IsValid(s) {
		return "", false
	}
	return s, true
}

// Valid reports whether v is a Go module version or toolchain tag.
func (g Go) Valid(v string) bool { _, ok := g.Canonical(v); return ok }

// Compare orders two Go versions. "+incompatible" is build metadata and
// does not take part in the order.
func (g Go) Compare(a, b string) (int, error) {
	ca, ok := g.Canonical(a)
	if !ok {
		return 0, invalid("go", a, nil)
	}
	cb, ok := g.Canonical(b)
	if !ok {
		return 0, invalid("go", b, nil)
	}
	return gosemver.Compare(ca, cb), nil
}

// PEP440 orders Python versions per PEP 440: epochs, dev < pre < release <
// post, and normalised forms (1.0 == 1.0.0, 1.0RC1 == 1.0rc1).
type PEP440 struct{}

func (PEP440) parse(v string) (pep440.Version, error) {
	if !plainText(v) {
		return pep440.Version{}, invalid("pep440", v, nil)
	}
	p, err := pep440.Parse(v)
	if err != nil {
		return pep440.Version{}, invalid("pep440", v, err)
	}
	return p, nil
}

// Valid reports whether v is a PEP 440 version.
func (p PEP440) Valid(v string) bool { _, err := p.parse(v); return err == nil }

// Compare orders two PEP 440 versions (as the library orders them, without
// its per-call formatting: see pepKey).
func (p PEP440) Compare(a, b string) (int, error) {
	ka, err := pep440Key(a)
	if err != nil {
		return 0, err
	}
	kb, err := pep440Key(b)
	if err != nil {
		return 0, err
	}
	return ka.compare(kb), nil
}

// Maven orders Maven versions as ComparableVersion does: alpha < beta <
// milestone < rc < snapshot < release < sp, with "ga", "final" and "release"
// equal to the plain release. Maven itself accepts any string, so only empty
// strings and strings with blanks or control characters are invalid.
type Maven struct{}

// Valid reports whether v is a Maven version.
func (Maven) Valid(v string) bool { return plainText(v) }

// Compare orders two Maven versions.
func (m Maven) Compare(a, b string) (int, error) {
	if !m.Valid(a) {
		return 0, invalid("maven", a, nil)
	}
	if !m.Valid(b) {
		return 0, invalid("maven", b, nil)
	}
	va, err := mvn.NewVersion(a)
	if err != nil {
		return 0, invalid("maven", a, err)
	}
	vb, err := mvn.NewVersion(b)
	if err != nil {
		return 0, invalid("maven", b, err)
	}
	return sign(va.Compare(vb)), nil
}
