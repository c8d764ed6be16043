// Package glob is drydock's one pattern language for slash-separated names:
// image references (registry/repository), Kubernetes namespaces, package
// names ("golang.org/x/net", "@babel/core") and package URLs
// ("pkg:npm/lodash@*"). Policy rules and ignore files both use it, so a
// pattern means the same wherever a user writes it.
//
// Syntax and semantics:
//
//   - The name and the pattern are split at '/' into segments.
//   - '*' matches any run of characters within one segment (never '/').
//   - '?' matches any one character except '/'.
//   - '[abc]', '[a-z]', '[^a-z]' match one character (never '/') in, or with
//     '^' not in, the set; '\' escapes ']', '-', '^' and '\' inside.
//   - '\' outside a class makes the next character literal.
//   - A segment that is exactly "**" matches any number of whole segments:
//     zero or more in the middle or at the start ("a/**/b" matches "a/b" and
//     "a/x/y/b"), at least one at the end ("team/**" matches what is under
//     team/, not team itself). "**" elsewhere in a segment is an error.
//   - Matching is of the whole name, rune by rune, and case-sensitive;
//     callers that compare case-insensitive names (registries) lower-case
//     both sides.
//
// '*' stopping at '/' is the safe reading for both users: an allow-list
// entry "registry.example.com/team/*" must not admit team/sub/anything, and
// an ignore entry "golang.org/x/*" must not waive more than the modules it
// names; "**" says so when more is meant. Malformed patterns (an unclosed
// or empty class, a reversed range, a dangling '\', misplaced "**",
// invalid UTF-8) fail at Compile, so a typo fails at load time instead of
// silently matching nothing.
package glob

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrBadPattern is wrapped by every Compile error.
var ErrBadPattern = errors.New("bad glob")

// Pattern is a compiled glob. It is immutable and safe for concurrent use.
type Pattern struct {
	src  string
	segs []segment
}

type segment struct {
	any  bool  // the segment is "**"
	toks []tok // otherwise
}

type kind uint8

const (
	kLit   kind = iota // one literal rune
	kOne               // '?'
	kStar              // '*'
	kClass             // '[...]'
)

type tok struct {
	kind   kind
	r      rune      // kLit
	neg    bool      // kClass
	ranges [][2]rune // kClass: inclusive lo..hi
}

// Compile parses pattern (see the package comment).
func Compile(pattern string) (*Pattern, error) {
	if !utf8.ValidString(pattern) {
		return nil, fmt.Errorf("%w %q: not valid UTF-8", ErrBadPattern, pattern)
	}
	p := &Pattern{src: pattern}
	for _, s := range splitSegments(pattern) {
		if s == "**" {
			if n := len(p.segs); n > 0 && p.segs[n-1].any {
				continue // "**/**" means "**"
			}
			p.segs = append(p.segs, segment{any: true})
			continue
		}
		toks, err := compileSegment([]rune(s))
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrBadPattern, pattern, err)
		}
		p.segs = append(p.segs, segment{toks: toks})
	}
	return p, nil
}

// MustCompile is Compile for patterns fixed in the source; it panics on a
// malformed one.
func MustCompile(pattern string) *Pattern {
	p, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.src }

// splitSegments splits at the '/' that separate segments. A '/' cannot be
// escaped or appear in a class (it never matches), so a plain split is
// exact.
func splitSegments(s string) []string { return strings.Split(s, "/") }

func compileSegment(rs []rune) ([]tok, error) {
	var toks []tok
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			if i+1 < len(rs) && rs[i+1] == '*' {
				return nil, errors.New(`"**" must be a whole path segment`)
			}
			toks = append(toks, tok{kind: kStar})
		case '?':
			toks = append(toks, tok{kind: kOne})
		case '\\':
			i++
			if i >= len(rs) {
				return nil, errors.New(`trailing "\"`)
			}
			toks = append(toks, tok{kind: kLit, r: rs[i]})
		case '[':
			t, next, err := compileClass(rs, i+1)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = next
		default:
			toks = append(toks, tok{kind: kLit, r: c})
		}
	}
	return toks, nil
}

// compileClass reads a class body starting after '[' and returns the index
// of its closing ']'.
func compileClass(rs []rune, i int) (tok, int, error) {
	t := tok{kind: kClass}
	if i < len(rs) && rs[i] == '^' {
		t.neg = true
		i++
	}
	readChar := func() (rune, error) {
		if i >= len(rs) {
			return 0, errors.New("unclosed [")
		}
		c := rs[i]
		if c == '\\' {
			i++
			if i >= len(rs) {
				return 0, errors.New("unclosed [")
			}
			c = rs[i]
		} else if c == '-' || c == ']' {
			return 0, fmt.Errorf("unescaped %q in class", c)
		}
		i++
		return c, nil
	}
	for {
		if i >= len(rs) {
			return t, 0, errors.New("unclosed [")
		}
		if rs[i] == ']' {
			if len(t.ranges) == 0 {
				return t, 0, errors.New("empty class []")
			}
			return t, i, nil
		}
		lo, err := readChar()
		if err != nil {
			return t, 0, err
		}
		hi := lo
		if i < len(rs) && rs[i] == '-' {
			i++
			if hi, err = readChar(); err != nil {
				return t, 0, err
			}
			if hi < lo {
				return t, 0, fmt.Errorf("reversed range %c-%c", lo, hi)
			}
		}
		t.ranges = append(t.ranges, [2]rune{lo, hi})
	}
}

func (t tok) matches(r rune) bool {
	switch t.kind {
	case kLit:
		return t.r == r
	case kOne:
		return true
	case kClass:
		in := false
		for _, rg := range t.ranges {
			if rg[0] <= r && r <= rg[1] {
				in = true
				break
			}
		}
		return in != t.neg
	}
	return false
}

// Match reports whether the whole of name matches.
func (p *Pattern) Match(name string) bool {
	names := strings.Split(name, "/")
	// ok[i][j]: pattern segments i.. match name segments j.. . Filled from
	// the end, so "**" costs one pass over the name instead of the
	// exponential backtracking a recursive matcher falls into with several
	// "**" in one pattern.
	P, N := len(p.segs), len(names)
	next := make([]bool, N+1) // row i+1
	cur := make([]bool, N+1)  // row i
	next[N] = true            // empty pattern matches only the empty rest
	for i := P - 1; i >= 0; i-- {
		s := p.segs[i]
		for j := N; j >= 0; j-- {
			switch {
			case s.any && i == P-1:
				cur[j] = j < N // trailing "**": at least one segment
			case s.any:
				// zero segments (next[j]) or one more (cur[j+1])
				cur[j] = next[j] || (j < N && cur[j+1])
			default:
				cur[j] = j < N && next[j+1] && matchSegment(s.toks, names[j])
			}
		}
		next, cur = cur, next
	}
	return next[0]
}

// matchSegment matches one segment. Every token but '*' consumes exactly
// one rune, so the classic single-backtrack-point algorithm is exact: on a
// mismatch, retry from the last '*' with it swallowing one more rune.
func matchSegment(toks []tok, s string) bool {
	rs := []rune(s)
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(rs) {
		switch {
		case pi < len(toks) && toks[pi].kind == kStar:
			starP, starS = pi, si
			pi++
		case pi < len(toks) && toks[pi].matches(rs[si]):
			pi++
			si++
		case starP >= 0:
			starS++
			pi, si = starP+1, starS
		default:
			return false
		}
	}
	for pi < len(toks) && toks[pi].kind == kStar {
		pi++
	}
	return pi == len(toks)
}
