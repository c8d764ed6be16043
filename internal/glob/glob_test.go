package glob

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		// '*' stays within one segment.
		{"*", "", true},
		{"*", "nginx", true},
		{"*", "library/nginx", false},
		{"registry.example.com/team/*", "registry.example.com/team/app", true},
		{"registry.example.com/team/*", "registry.example.com/team/app/sub", false},
		{"registry.example.com/team/*", "registry.example.com/team", false},
		{"registry.example.com/team/*", "evil.example.com/registry.example.com/team/app", false},
		{"*.example.com/team/*", "registry.example.com/team/app", true},
		{"*.example.com/team/*", "example.com/team/app", false},
		{"golang.org/x/*", "golang.org/x/net", true},
		{"golang.org/x/*", "golang.org/x/net/http2", false},
		{"pkg:npm/lodash@*", "pkg:npm/lodash@4.17.21", true},
		{"pkg:npm/lodash@*", "pkg:npm/lodash-es@4.17.21", false},
		{"pkg:npm/*", "pkg:npm/%40babel/core@7.0.0", false},
		{"openssl*", "openssl-provider-legacy", true},
		{"openssl*", "libssl3", false},
		{"lib*6", "libc6", true},
		{"lib*6", "libc6-dev", false},
		{"team/a*b*c", "team/axxbyyc", true},
		{"team/a*b*c", "team/axxbyyd", false},
		{"*a*b*c*", "xxaxxbxxcxx", true},
		{"*a*b*c*", "xxaxxcxxbxx", false},
		{"legacy-*", "legacy-", true},
		// "**" is whole segments: zero or more inside, one or more at the end.
		{"**", "docker.io/library/nginx", true},
		{"**", "nginx", true},
		{"pkg:npm/**", "pkg:npm/%40babel/core@7.0.0", true},
		{"registry.example.com/base/**", "registry.example.com/base/debian", true},
		{"registry.example.com/base/**", "registry.example.com/base/debian/slim", true},
		{"registry.example.com/base/**", "registry.example.com/base", false},
		{"registry.example.com/**/app", "registry.example.com/app", true},
		{"registry.example.com/**/app", "registry.example.com/a/b/c/app", true},
		{"registry.example.com/**/app", "registry.example.com/a/b/c/app2", false},
		{"**/nginx", "nginx", true},
		{"**/**/nginx", "docker.io/library/nginx", true},
		{"a/**/b/**/c", "a/x/b/y/z/c", true},
		{"a/**/b/**/c", "a/x/c/y/b", false},
		// '?' and classes are one rune, never '/'.
		{"golang.org/x/?et", "golang.org/x/net", true},
		{"a?c", "a/c", false},
		{"a?c", "ac", false},
		{"?", "é", true}, // runes, not bytes
		{"é*", "éa", true},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[^a-c]x", "dx", true},
		{"[^a-c]x", "ax", false},
		{"a[^x]b", "a/b", false},
		{`[\]]`, "]", true},
		{`\*`, "*", true},
		{`\*`, "a", false},
		// Case-sensitive: callers fold case when their names are.
		{"Team/*", "team/app", false},
		// Empty pattern and empty segments.
		{"", "", true},
		{"", "a", false},
		{"a//b", "a//b", true},
		{"a//b", "a/b", false},
	}
	for _, tt := range tests {
		p, err := Compile(tt.pattern)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.pattern, err)
		}
		if got := p.Match(tt.name); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, p := range []string{"[", "[a", "[]", "[^]", `a\`, "[z-a]", "[a-", "[-]", `x[a\`, "\xff", "a**", "**b", "a/b**/c", "[/]", `a\/b`} {
		_, err := Compile(p)
		if !errors.Is(err, ErrBadPattern) {
			t.Errorf("Compile(%q) error = %v, want ErrBadPattern", p, err)
		}
	}
}

// TestAgreesWithPathMatch checks the patterns without "**" against
// path.Match, whose '*', '?' and classes also stop at '/'. The one
// intended difference: path.Match treats a '/' in a class as a character,
// here it is an error (caught in TestCompileErrors).
func TestAgreesWithPathMatch(t *testing.T) {
	patterns := []string{"*", "a*", "*/b", "a/*", "?/?", "[ab]/*", "[^a]*", "a*b*c", `\*x`, "*.go", "x/*/z"}
	names := []string{"", "a", "ab", "a/b", "b/b", "c/bb", "axbyc", "a/x/z", "x/y/z", "x//z", "*x", "m.go", "d/m.go"}
	for _, p := range patterns {
		g := MustCompile(p)
		for _, n := range names {
			want, err := path.Match(p, n)
			if err != nil {
				t.Fatalf("path.Match(%q): %v", p, err)
			}
			if got := g.Match(n); got != want {
				t.Errorf("%q.Match(%q) = %v, path.Match says %v", p, n, got, want)
			}
		}
	}
}

func TestManyDoubleStarsStayLinear(t *testing.T) {
	// A backtracking matcher takes exponential time here; the table does
	// (segments × pattern segments) work.
	p := MustCompile(strings.Repeat("**/a/", 20) + "b")
	name := strings.Repeat("a/", 400) + "c"
	if p.Match(name) {
		t.Fatalf("matched a name that does not end in b")
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("a/**/b*", "a/x/bc")
	f.Add("[a-c]?/*", "b1/x")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		got := p.Match(name)
		if p.String() != pattern {
			t.Fatalf("String() = %q, want %q", p.String(), pattern)
		}
		// A pattern without meta characters matches exactly itself.
		if !strings.ContainsAny(pattern, `*?[\`) && got != (pattern == name) {
			t.Fatalf("literal %q.Match(%q) = %v", pattern, name, got)
		}
	})
}
