package version

import (
	"strings"

	rpm "github.com/knqyf263/go-rpm-version"
)

// rpmKey is an rpm EVR split the way go-rpm-version's rpmvercmp splits it,
// done once. The library runs a regexp over both strings on every
// comparison (FindAllString of `([a-zA-Z]+)|([0-9]+)|([~^])`), which was
// most of the time matching rpm packages; rpmKey.compare is that
// algorithm over the stored segments. The library stays the parser of the
// epoch and the version/release split, and the tests hold the two orders
// equal over the real AlmaLinux data and under fuzzing.
type rpmKey struct {
	epoch    int
	ver, rel []string
}

func newRPMKey(v string) *rpmKey {
	p := rpm.NewVersion(v)
	return &rpmKey{epoch: p.Epoch(), ver: rpmSegments(p.Version()), rel: rpmSegments(p.Release())}
}

// rpmSegments returns what the library's FindAllString returns: maximal
// runs of ASCII letters, maximal runs of ASCII digits, and each "~" and
// "^", in order; everything else separates them.
func rpmSegments(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		j := i + 1
		switch {
		case isASCIILetter(c):
			for j < len(s) && isASCIILetter(s[j]) {
				j++
			}
		case c >= '0' && c <= '9':
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
		case c == '~' || c == '^':
		default:
			i++
			continue
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (a *rpmKey) compare(b *rpmKey) int {
	switch {
	case a.epoch > b.epoch:
		return 1
	case a.epoch < b.epoch:
		return -1
	}
	if c := rpmSegCompare(a.ver, b.ver); c != 0 {
		return c
	}
	return rpmSegCompare(a.rel, b.rel)
}

// rpmSegCompare is go-rpm-version's rpmvercmp after its split.
func rpmSegCompare(sa, sb []string) int {
	n := min(len(sa), len(sb))
	for i := range n {
		a, b := sa[i], sb[i]
		if a[0] == '~' || b[0] == '~' {
			if a[0] != '~' {
				return 1
			}
			if b[0] != '~' {
				return -1
			}
		}
		if a[0] == '^' || b[0] == '^' {
			if a[0] != '^' {
				return 1
			}
			if b[0] != '^' {
				return -1
			}
		}
		if isDigit(a[0]) {
			if !isDigit(b[0]) {
				return 1
			}
			a = strings.TrimLeft(a, "0")
			b = strings.TrimLeft(b, "0")
			if len(a) != len(b) {
				return sign(len(a) - len(b))
			}
		} else if isDigit(b[0]) {
			return -1
		}
		if c := strings.Compare(a, b); c != 0 {
			return c
		}
	}
	if len(sa) == len(sb) {
		return 0
	}
	if len(sa) > n && sa[n][0] == '~' {
		return -1
	} else if len(sb) > n && sb[n][0] == '~' {
		return 1
	}
	if len(sa) > len(sb) {
		return 1
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
