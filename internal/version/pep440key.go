package version

import (
	"cmp"
	"strconv"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// pepKey is a parsed PEP 440 version in a form that compares without
// allocating. go-pep440-version's Compare formats both versions as strings
// on every call (its equality shortcut) and walks interface-typed parts
// with reflect.DeepEqual, which made it most of the time matching PyPI
// packages; pepKey orders exactly as that library does (the library stays
// the parser, and the tests hold the two orders equal over the real PyPI
// data and under fuzzing):
//
//   - epoch, numerically;
//   - release, numerically, trailing zeros trimmed, the shorter padded
//     with zeros;
//   - pre-release: a dev release with neither pre nor post sorts below
//     every pre-release, a pre-release by (letter, number) with the letters
//     a < b < rc, no pre-release above every pre-release;
//   - post-release: none below any, else by number;
//   - dev release: by number, none above any;
//   - local: none below any; else segment by segment, a number above a
//     word, numbers numerically, words as strings, a longer list above
//     its prefix. Segments are split at "." only and a number that does not
//     fit in uint64 is a word, as in the library.
type pepKey struct {
	epoch   uint64
	release []uint64
	preKind int8 // -1: below every pre-release, 0: pre-release, 1: none
	preL    string
	preN    uint64
	hasPost bool
	postN   uint64
	hasDev  bool
	devN    uint64
	hasLoc  bool
	local   []localSeg
}

type localSeg struct {
	num   uint64
	isNum bool
	word  string
}

// pep440Key parses v and builds its key. Versions already in the canonical
// form (what the library's String prints, without a local part) are read
// directly: the library accepts every one of them, and reading the key from
// v or from its String is the same. Everything else goes through the
// library, which decides validity and the error.
func pep440Key(v string) (*pepKey, error) {
	if k, ok := canonicalKey(v); ok {
		return k, nil
	}
	p, err := PEP440{}.parse(v)
	if err != nil {
		return nil, err
	}
	return keyOf(p), nil
}

// keyOf reads the key from the library's canonical rendering of p,
// [E!]R(.R)*[{a|b|rc}N][.postN][.devN][+local], which holds every part of
// the version the library's order looks at.
func keyOf(p pep440.Version) *pepKey {
	s := p.String()
	k := &pepKey{}
	num := func() uint64 {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, _ := strconv.ParseUint(s[:i], 10, 64) // printed from a uint64
		s = s[i:]
		return n
	}
	if i := strings.IndexByte(s, '!'); i >= 0 && (strings.IndexByte(s, '+') < 0 || i < strings.IndexByte(s, '+')) {
		k.epoch = num()
		s = s[1:]
	}
	k.release = append(k.release, num())
	for len(s) > 1 && s[0] == '.' && s[1] >= '0' && s[1] <= '9' {
		s = s[1:]
		k.release = append(k.release, num())
	}
	for len(k.release) > 0 && k.release[len(k.release)-1] == 0 {
		k.release = k.release[:len(k.release)-1]
	}
	k.preKind = 1
	switch {
	case strings.HasPrefix(s, "rc"):
		k.preKind, k.preL, s = 0, "rc", s[2:]
	case strings.HasPrefix(s, "a"):
		k.preKind, k.preL, s = 0, "a", s[1:]
	case strings.HasPrefix(s, "b"):
		k.preKind, k.preL, s = 0, "b", s[1:]
	}
	if k.preKind == 0 {
		k.preN = num()
	}
	if strings.HasPrefix(s, ".post") {
		s = s[len(".post"):]
		k.hasPost, k.postN = true, num()
	}
	if strings.HasPrefix(s, ".dev") {
		s = s[len(".dev"):]
		k.hasDev, k.devN = true, num()
	}
	if k.preKind == 1 && !k.hasPost && k.hasDev {
		k.preKind = -1
	}
	if strings.HasPrefix(s, "+") {
		k.hasLoc = true
		for _, seg := range strings.Split(s[1:], ".") {
			if n, err := strconv.ParseUint(seg, 10, 64); err == nil {
				k.local = append(k.local, localSeg{num: n, isNum: true})
			} else {
				k.local = append(k.local, localSeg{word: seg})
			}
		}
	}
	return k
}

// canonicalKey reads v when it is exactly
// [N!]N(.N)*[{a|b|rc}N][.postN][.devN], each N one to 19 ASCII digits (so
// it fits in a uint64 as the library requires).
func canonicalKey(v string) (*pepKey, bool) {
	s := v
	num := func() (uint64, bool) {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 19 {
			return 0, false
		}
		n, err := strconv.ParseUint(s[:i], 10, 64)
		s = s[i:]
		return n, err == nil
	}
	k := &pepKey{preKind: 1}
	first, ok := num()
	if !ok {
		return nil, false
	}
	if strings.HasPrefix(s, "!") {
		s = s[1:]
		k.epoch = first
		if first, ok = num(); !ok {
			return nil, false
		}
	}
	k.release = append(make([]uint64, 0, 4), first)
	for len(s) > 1 && s[0] == '.' && s[1] >= '0' && s[1] <= '9' {
		s = s[1:]
		n, ok := num()
		if !ok {
			return nil, false
		}
		k.release = append(k.release, n)
	}
	for len(k.release) > 0 && k.release[len(k.release)-1] == 0 {
		k.release = k.release[:len(k.release)-1]
	}
	switch {
	case strings.HasPrefix(s, "rc"):
		k.preKind, k.preL, s = 0, "rc", s[2:]
	case strings.HasPrefix(s, "a"):
		k.preKind, k.preL, s = 0, "a", s[1:]
	case strings.HasPrefix(s, "b"):
		k.preKind, k.preL, s = 0, "b", s[1:]
	}
	if k.preKind == 0 {
		if k.preN, ok = num(); !ok {
			return nil, false
		}
	}
	if strings.HasPrefix(s, ".post") {
		s = s[len(".post"):]
		k.hasPost = true
		if k.postN, ok = num(); !ok {
			return nil, false
		}
	}
	if strings.HasPrefix(s, ".dev") {
		s = s[len(".dev"):]
		k.hasDev = true
		if k.devN, ok = num(); !ok {
			return nil, false
		}
	}
	if s != "" {
		return nil, false
	}
	if k.preKind == 1 && !k.hasPost && k.hasDev {
		k.preKind = -1
	}
	return k, true
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// compare orders two keys as pep440.Version.Compare orders their versions.
func (a *pepKey) compare(b *pepKey) int {
	if c := cmp.Compare(a.epoch, b.epoch); c != 0 {
		return c
	}
	n := max(len(a.release), len(b.release))
	for i := range n {
		var x, y uint64
		if i < len(a.release) {
			x = a.release[i]
		}
		if i < len(b.release) {
			y = b.release[i]
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.preKind, b.preKind); c != 0 {
		return c
	}
	if a.preKind == 0 {
		if c := strings.Compare(a.preL, b.preL); c != 0 {
			return c
		}
		if c := cmp.Compare(a.preN, b.preN); c != 0 {
			return c
		}
	}
	if c := boolCmp(a.hasPost, b.hasPost); c != 0 {
		return c
	}
	if c := cmp.Compare(a.postN, b.postN); c != 0 {
		return c
	}
	// A dev release sorts below the same version without one.
	if c := boolCmp(!a.hasDev, !b.hasDev); c != 0 {
		return c
	}
	if c := cmp.Compare(a.devN, b.devN); c != 0 {
		return c
	}
	if c := boolCmp(a.hasLoc, b.hasLoc); c != 0 {
		return c
	}
	for i := 0; i < len(a.local) && i < len(b.local); i++ {
		x, y := &a.local[i], &b.local[i]
		switch {
		case x.isNum && y.isNum:
			if c := cmp.Compare(x.num, y.num); c != 0 {
				return c
			}
		case x.isNum:
			return 1
		case y.isNum:
			return -1
		default:
			if c := strings.Compare(x.word, y.word); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(a.local), len(b.local))
}
