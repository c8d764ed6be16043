package version

import (
	"regexp"
	"strings"
	"sync"
)

var (
	_ Comparer = Gem{}
	_ Comparer = NuGet{}
)

// Gem orders RubyGems versions per Gem::Version: segments are runs of digits
// or letters; a segment with letters makes the version a pre-release, which
// sorts before the release ("1.0.a" < "1.0"); trailing zero segments do not
// count ("1.0" == "1"); "-" reads as ".pre.". No Go library implements these
// rules, hence this one.
type Gem struct{}

// gemPattern is Gem::Version::ANCHORED_VERSION_PATTERN without the blanks.
var gemPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
})

type gemSeg struct {
	s   string
	num bool
}

// Valid reports whether v is a RubyGems version.
func (Gem) Valid(v string) bool { return gemPattern().MatchString(v) }

// canonical returns Gem::Version#canonical_segments.
func (Gem) canonical(v string) []gemSeg {
	v = strings.ReplaceAll(v, "-", ".pre.")
	var segs []gemSeg
	for i := 0; i < len(v); {
		c := v[i]
		j := i
		switch {
		case c >= '0' && c <= '9':
			for j < len(v) && v[j] >= '0' && v[j] <= '9' {
				j++
			}
			segs = append(segs, gemSeg{s: v[i:j], num: true})
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			for j < len(v) && (v[j] >= 'a' && v[j] <= 'z' || v[j] >= 'A' && v[j] <= 'Z') {
				j++
			}
			segs = append(segs, gemSeg{s: v[i:j]})
		default:
			j++
		}
		i = j
	}
	split := len(segs)
	for i, s := range segs {
		if !s.num {
			split = i
			break
		}
	}
	trim := func(ss []gemSeg) []gemSeg {
		for len(ss) > 0 && ss[len(ss)-1].num && strings.Trim(ss[len(ss)-1].s, "0") == "" {
			ss = ss[:len(ss)-1]
		}
		return ss
	}
	release := trim(segs[:split:split])
	return append(release, trim(segs[split:])...)
}

// Compare orders two RubyGems versions as Gem::Version#<=> does.
func (g Gem) Compare(a, b string) (int, error) {
	if !g.Valid(a) {
		return 0, invalid("gem", a, nil)
	}
	if !g.Valid(b) {
		return 0, invalid("gem", b, nil)
	}
	sa, sb := g.canonical(a), g.canonical(b)
	zero := gemSeg{s: "0", num: true}
	for i := 0; i < max(len(sa), len(sb)); i++ {
		l, r := zero, zero
		if i < len(sa) {
			l = sa[i]
		}
		if i < len(sb) {
			r = sb[i]
		}
		switch {
		case l.num && r.num:
			if c := cmpDigits(l.s, r.s); c != 0 {
				return c, nil
			}
		case !l.num && r.num:
			return -1, nil
		case l.num && !r.num:
			return 1, nil
		default:
			if c := strings.Compare(l.s, r.s); c != 0 {
				return c, nil
			}
		}
	}
	return 0, nil
}

// NuGet orders NuGet versions: one to four numeric parts (missing parts are
// zero, so 1.0 == 1.0.0.0), an optional SemVer 2.0 pre-release compared
// case-insensitively, and ignored "+metadata". A leading "v" is accepted,
// as NuGet clients tolerate it.
type NuGet struct{}

type nugetVersion struct {
	release []string
	pre     []string
}

func (NuGet) parse(v string) (nugetVersion, error) {
	if !plainText(v) {
		return nugetVersion{}, invalid("nuget", v, nil)
	}
	s := strings.TrimPrefix(strings.TrimPrefix(v, "v"), "V")
	s, meta, hasMeta := strings.Cut(s, "+")
	if hasMeta && !identifiers(meta) {
		return nugetVersion{}, invalid("nuget", v, nil)
	}
	rel, pre, hasPre := strings.Cut(s, "-")
	var out nugetVersion
	out.release = strings.Split(rel, ".")
	if len(out.release) > 4 {
		return nugetVersion{}, invalid("nuget", v, nil)
	}
	for _, p := range out.release {
		if !isDigits(p) {
			return nugetVersion{}, invalid("nuget", v, nil)
		}
	}
	if hasPre {
		if !identifiers(pre) {
			return nugetVersion{}, invalid("nuget", v, nil)
		}
		out.pre = strings.Split(strings.ToLower(pre), ".")
	}
	return out, nil
}

// identifiers reports whether s is a dot-separated list of non-empty
// [0-9A-Za-z-] identifiers, as SemVer pre-release and metadata are.
func identifiers(s string) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Valid reports whether v is a NuGet version.
func (n NuGet) Valid(v string) bool { _, err := n.parse(v); return err == nil }

// Compare orders two NuGet versions.
func (n NuGet) Compare(a, b string) (int, error) {
	va, err := n.parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := n.parse(b)
	if err != nil {
		return 0, err
	}
	for i := 0; i < max(len(va.release), len(vb.release)); i++ {
		l, r := "0", "0"
		if i < len(va.release) {
			l = va.release[i]
		}
		if i < len(vb.release) {
			r = vb.release[i]
		}
		if c := cmpDigits(l, r); c != 0 {
			return c, nil
		}
	}
	switch {
	case va.pre == nil && vb.pre == nil:
		return 0, nil
	case va.pre == nil:
		return 1, nil
	case vb.pre == nil:
		return -1, nil
	}
	for i := 0; i < min(len(va.pre), len(vb.pre)); i++ {
		l, r := va.pre[i], vb.pre[i]
		ln, rn := isDigits(l), isDigits(r)
		var c int
		switch {
		case ln && rn:
			c = cmpDigits(l, r)
		case ln:
			c = -1
		case rn:
			c = 1
		default:
			c = strings.Compare(l, r)
		}
		if c != 0 {
			return c, nil
		}
	}
	return sign(len(va.pre) - len(vb.pre)), nil
}
