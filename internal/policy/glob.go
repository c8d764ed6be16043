package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/drydock/drydock/internal/glob"
)

// imageGlob is a glob (internal/glob: '*' within one path segment, "**" as
// a whole segment for any number of them) over registry/repository names
// and namespaces. Matching ignores case: registries are case-insensitive
// and repositories and namespaces lower-case, so both sides are lower-cased
// before the case-sensitive glob compares them.
type imageGlob struct {
	src string
	p   *glob.Pattern
}

func compileGlob(pattern string) (*imageGlob, error) {
	p := strings.ToLower(strings.TrimSpace(pattern))
	if p == "" {
		return nil, errors.New("empty glob")
	}
	if strings.ContainsAny(p, "@ \t") {
		return nil, fmt.Errorf("glob %q: globs match registry/repository names, without tag, digest or spaces", pattern)
	}
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			return nil, fmt.Errorf("glob %q: empty path segment", pattern)
		}
	}
	g, err := glob.Compile(p)
	if err != nil {
		return nil, err
	}
	return &imageGlob{src: pattern, p: g}, nil
}

func (g *imageGlob) String() string { return g.src }

// match reports whether name matches the glob. An empty name matches
// nothing.
func (g *imageGlob) match(name string) bool {
	return name != "" && g.p.Match(strings.ToLower(name))
}

// anyMatch reports whether name matches one of gs.
func anyMatch(gs []*imageGlob, name string) bool {
	for _, g := range gs {
		if g.match(name) {
			return true
		}
	}
	return false
}
