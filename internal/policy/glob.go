package policy

import (
	"errors"
	"fmt"
	"strings"
)

// glob matches slash-separated names (registry/repository, namespaces):
// "*" matches any run of characters within one segment; a segment that is
// exactly "**" matches any number of segments, at least one when it is the
// last segment ("team/**" matches what is under team/, not team itself).
// Matching ignores case: registries are case-insensitive and repositories
// and namespaces lower-case.
type glob struct {
	src  string
	segs []string
}

func compileGlob(pattern string) (*glob, error) {
	p := strings.ToLower(strings.TrimSpace(pattern))
	if p == "" {
		return nil, errors.New("empty glob")
	}
	if strings.ContainsAny(p, "@ \t") {
		return nil, fmt.Errorf("glob %q: globs match registry/repository names, without tag, digest or spaces", pattern)
	}
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s == "**" && len(segs) > 0 && segs[len(segs)-1] == "**" {
			continue // "**/**" is "**"
		}
		segs = append(segs, s)
		switch {
		case s == "":
			return nil, fmt.Errorf("glob %q: empty path segment", pattern)
		case s != "**" && strings.Contains(s, "**"):
			return nil, fmt.Errorf("glob %q: \"**\" must be a whole path segment", pattern)
		}
	}
	return &glob{src: pattern, segs: segs}, nil
}

func (g *glob) String() string { return g.src }

// match reports whether name matches the glob. An empty name matches
// nothing.
func (g *glob) match(name string) bool {
	if name == "" {
		return false
	}
	return matchSegs(g.segs, strings.Split(strings.ToLower(name), "/"))
}

func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			min := 0
			if len(rest) == 0 {
				min = 1
			}
			for skip := min; skip <= len(name); skip++ {
				if matchSegs(rest, name[skip:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 || !matchSeg(pat[0], name[0]) {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// matchSeg matches one segment, where "*" is any run of characters.
func matchSeg(pat, s string) bool {
	// Iterative wildcard matching with one backtrack point.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pat) && pat[p] == '*':
			star, mark = p, i
			p++
		case p < len(pat) && pat[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}

// anyMatch reports whether name matches one of gs.
func anyMatch(gs []*glob, name string) bool {
	for _, g := range gs {
		if g.match(name) {
			return true
		}
	}
	return false
}
