package version

import (
	"github.com/Masterminds/semver/v3"
	mvn "github.com/masahiro331/go-mvn-version"
	gosemver "golang.org/x/mod/semver"

	deb "github.com/knqyf263/go-deb-version"
)

// parsing is implemented by the comparers whose Compare parses both sides
// on every call. Matching compares one installed version against every
// range event and listed version of every advisory naming the package, and
// the same event strings recur across advisories, so the parse, not the
// comparison, was most of the matcher's time (PEP 440's parser is a large
// regexp). Memo keeps the parses.
type parsing interface {
	Comparer
	// parseAny parses v; the error is exactly the one Compare returns.
	parseAny(v string) (any, error)
	// compareParsed orders two values parseAny returned, as Compare does.
	compareParsed(a, b any) int
}

type memoEntry struct {
	v   any
	err error
}

// memo is a Comparer that parses each distinct string once.
type memo struct {
	c      parsing
	parsed map[string]memoEntry
}

// Memo returns a Comparer that answers exactly as c does but remembers the
// parse of every version string it has seen, for comparers that parse
// (others are returned as they are). It grows with the distinct strings it
// is given and is not safe for concurrent use: make one per match.
func Memo(c Comparer) Comparer {
	if p, ok := c.(parsing); ok {
		return &memo{c: p, parsed: map[string]memoEntry{}}
	}
	return c
}

func (m *memo) get(v string) memoEntry {
	e, ok := m.parsed[v]
	if !ok {
		e.v, e.err = m.c.parseAny(v)
		m.parsed[v] = e
	}
	return e
}

func (m *memo) Valid(v string) bool { return m.get(v).err == nil }

func (m *memo) Compare(a, b string) (int, error) {
	pa := m.get(a)
	if pa.err != nil {
		return 0, pa.err
	}
	pb := m.get(b)
	if pb.err != nil {
		return 0, pb.err
	}
	return m.c.compareParsed(pa.v, pb.v), nil
}

// MayEqual reports false only when a and b are certainly not equal versions
// in c's ecosystem (Compare would not return 0 without error), judged from
// the strings without parsing them. It lets a caller looking for the
// installed version in a long list of versions skip most entries; when it
// returns true, Compare decides.
func MayEqual(c Comparer, a, b string) bool {
	if m, ok := c.(*memo); ok {
		c = m.c
	}
	if _, ok := c.(PEP440); ok {
		return pep440MayEqual(a, b)
	}
	return true
}

// pep440MayEqual compares the epoch and the first release number, which
// every spelling of a PEP 440 version writes out in digits ("v1.0",
// "1!2.0rc1", "01.0" == "1.0"): versions that differ there differ.
// Normalisation only touches what follows (trailing zeros, separators,
// pre/post/dev spellings, case), so equal versions always agree here.
func pep440MayEqual(a, b string) bool {
	ea, ra, okA := pep440Lead(a)
	eb, rb, okB := pep440Lead(b)
	if !okA || !okB {
		return true // not the usual shape: let the parser decide
	}
	return cmpDigits(ea, eb) == 0 && cmpDigits(ra, rb) == 0
}

// pep440Lead returns the epoch (empty for none, which equals 0) and the
// first release number of v.
func pep440Lead(v string) (epoch, first string, ok bool) {
	if v != "" && (v[0] == 'v' || v[0] == 'V') {
		v = v[1:]
	}
	digits := func(s string) string {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return s[:i]
	}
	d := digits(v)
	if d == "" {
		return "", "", false
	}
	if rest := v[len(d):]; rest != "" && rest[0] == '!' {
		first = digits(rest[1:])
		if first == "" {
			return "", "", false
		}
		return d, first, true
	}
	return "", d, true
}

func (PEP440) parseAny(v string) (any, error) {
	k, err := pep440Key(v)
	if err != nil {
		return nil, err
	}
	return k, nil
}
func (PEP440) compareParsed(a, b any) int { return a.(*pepKey).compare(b.(*pepKey)) }

func (s SemVer) parseAny(v string) (any, error) { return s.parse(v) }
func (SemVer) compareParsed(a, b any) int {
	return sign(a.(*semver.Version).Compare(b.(*semver.Version)))
}

func (g Go) parseAny(v string) (any, error) {
	c, ok := g.Canonical(v)
	if !ok {
		return nil, invalid("go", v, nil)
	}
	return c, nil
}
func (Go) compareParsed(a, b any) int { return gosemver.Compare(a.(string), b.(string)) }

func (d Dpkg) parseAny(v string) (any, error) {
	p, err := d.parse(v)
	if err != nil {
		return nil, err
	}
	return &p, nil
}
func (Dpkg) compareParsed(a, b any) int {
	return sign(a.(*deb.Version).Compare(*b.(*deb.Version)))
}

func (r RPM) parseAny(v string) (any, error) {
	if !r.Valid(v) {
		return nil, invalid("rpm", v, nil)
	}
	return newRPMKey(v), nil
}
func (RPM) compareParsed(a, b any) int { return a.(*rpmKey).compare(b.(*rpmKey)) }

func (m Maven) parseAny(v string) (any, error) {
	if !m.Valid(v) {
		return nil, invalid("maven", v, nil)
	}
	p, err := mvn.NewVersion(v)
	if err != nil {
		return nil, invalid("maven", v, err)
	}
	return p, nil
}
func (Maven) compareParsed(a, b any) int { return sign(a.(mvn.Version).Compare(b.(mvn.Version))) }
