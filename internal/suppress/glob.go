package suppress

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// errBadGlob is wrapped by compileGlob errors; callers wrap it again in
// ErrInvalidIgnoreFile.
var errBadGlob = errors.New("bad glob")

// glob is a compiled pattern with path.Match syntax ('*', '?', '[...]' with
// '^' negation and ranges, '\' escapes) but where '*' and '?' also match '/'.
// path.Match stops '*' at '/', which would make "pkg:npm/*" useless and
// "golang.org/x/*" surprising, so drydock has its own matcher.
type glob struct {
	toks []globTok
}

type globKind uint8

const (
	tokLit   globKind = iota // one literal rune
	tokAny                   // '?': any one rune
	tokStar                  // '*': any run of runes, '/' included
	tokClass                 // '[...]'
)

type globTok struct {
	kind   globKind
	r      rune      // tokLit
	neg    bool      // tokClass
	ranges [][2]rune // tokClass: inclusive lo..hi
}

// compileGlob parses pattern, rejecting the patterns path.Match would reject
// with ErrBadPattern (an unclosed class, a dangling escape, an empty class,
// a reversed range), so that a typo fails at load time, not silently at
// match time.
func compileGlob(pattern string) (*glob, error) {
	if !utf8.ValidString(pattern) {
		return nil, fmt.Errorf("%w %q: not valid UTF-8", errBadGlob, pattern)
	}
	g := &glob{}
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			// Consecutive stars mean the same as one; collapsing them keeps
			// matching linear in practice.
			if n := len(g.toks); n > 0 && g.toks[n-1].kind == tokStar {
				continue
			}
			g.toks = append(g.toks, globTok{kind: tokStar})
		case '?':
			g.toks = append(g.toks, globTok{kind: tokAny})
		case '\\':
			i++
			if i >= len(rs) {
				return nil, fmt.Errorf("%w %q: trailing backslash", errBadGlob, pattern)
			}
			g.toks = append(g.toks, globTok{kind: tokLit, r: rs[i]})
		case '[':
			tok, next, err := compileClass(rs, i+1)
			if err != nil {
				return nil, fmt.Errorf("%w %q: %v", errBadGlob, pattern, err)
			}
			g.toks = append(g.toks, tok)
			i = next
		default:
			g.toks = append(g.toks, globTok{kind: tokLit, r: c})
		}
	}
	return g, nil
}

// compileClass reads a class body starting after '[' and returns the index
// of its closing ']'.
func compileClass(rs []rune, i int) (globTok, int, error) {
	tok := globTok{kind: tokClass}
	if i < len(rs) && rs[i] == '^' {
		tok.neg = true
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
			return tok, 0, errors.New("unclosed [")
		}
		if rs[i] == ']' {
			if len(tok.ranges) == 0 {
				return tok, 0, errors.New("empty class []")
			}
			return tok, i, nil
		}
		lo, err := readChar()
		if err != nil {
			return tok, 0, err
		}
		hi := lo
		if i < len(rs) && rs[i] == '-' {
			i++
			if hi, err = readChar(); err != nil {
				return tok, 0, err
			}
			if hi < lo {
				return tok, 0, fmt.Errorf("reversed range %c-%c", lo, hi)
			}
		}
		tok.ranges = append(tok.ranges, [2]rune{lo, hi})
	}
}

func (t globTok) matches(r rune) bool {
	switch t.kind {
	case tokLit:
		return t.r == r
	case tokAny:
		return true
	case tokClass:
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

// Match reports whether the whole of s matches. Every token but '*' consumes
// exactly one rune, so the classic single-backtrack-point algorithm is exact:
// on a mismatch, retry from the last '*' with it swallowing one more rune.
func (g *glob) Match(s string) bool {
	rs := []rune(s)
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(rs) {
		switch {
		case pi < len(g.toks) && g.toks[pi].kind == tokStar:
			starP, starS = pi, si
			pi++
		case pi < len(g.toks) && g.toks[pi].matches(rs[si]):
			pi++
			si++
		case starP >= 0:
			starS++
			pi, si = starP+1, starS
		default:
			return false
		}
	}
	for pi < len(g.toks) && g.toks[pi].kind == tokStar {
		pi++
	}
	return pi == len(g.toks)
}
