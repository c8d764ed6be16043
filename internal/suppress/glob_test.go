package suppress

import (
	"errors"
	"path"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "pkg:npm/lodash@4.17.21", true},
		{"openssl*", "openssl", true},
		{"openssl*", "openssl-provider-legacy", true},
		{"openssl*", "libssl3", false},
		{"pkg:npm/lodash@*", "pkg:npm/lodash@4.17.21", true},
		{"pkg:npm/lodash@*", "pkg:npm/lodash-es@4.17.21", false},
		{"pkg:npm/*", "pkg:npm/%40babel/core@7.0.0", true}, // '*' crosses '/'
		{"golang.org/x/*", "golang.org/x/net/http2", true},
		{"golang.org/x/?et", "golang.org/x/net", true},
		{"a?c", "a/c", true}, // '?' crosses '/' too
		{"a?c", "ac", false},
		{"*a*b*c*", "xxaxxbxxcxx", true},
		{"*a*b*c*", "xxaxxcxxbxx", false},
		{"**x", "aaax", true},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[^a-c]x", "dx", true},
		{"[^a-c]x", "ax", false},
		{"[\\]]", "]", true},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"lib*6", "libc6", true},
		{"lib*6", "libc6-dev", false},
		{"é*", "éa", true}, // runes, not bytes
		{"?", "é", true},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pattern)
		if err != nil {
			t.Fatalf("compileGlob(%q): %v", tt.pattern, err)
		}
		if got := g.Match(tt.s); got != tt.want {
			t.Errorf("glob %q Match(%q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestGlobBad(t *testing.T) {
	for _, p := range []string{"[", "[a", "[]", "[^]", "a\\", "[z-a]", "[a-", "[-]", "x[a\\", "\xff"} {
		if _, err := compileGlob(p); !errors.Is(err, errBadGlob) {
			t.Errorf("compileGlob(%q) error = %v, want errBadGlob", p, err)
		}
	}
}

// TestGlobAgreesWithPathMatch checks the matcher against path.Match on
// strings without '/', where the two must agree.
func TestGlobAgreesWithPathMatch(t *testing.T) {
	patterns := []string{"a*", "*b", "a?c", "[abc]*", "[^x]?", "*.*", "a\\*b", "[a-z]*[0-9]"}
	inputs := []string{"", "a", "ab", "abc", "a*b", "x1", "zz9", "b.c", "q", "ac"}
	for _, p := range patterns {
		g, err := compileGlob(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range inputs {
			want, err := path.Match(p, s)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Match(s); got != want {
				t.Errorf("glob %q Match(%q) = %v, path.Match says %v", p, s, got, want)
			}
		}
	}
}
