package version

import (
	"fmt"
	"testing"
)

// TestMemo checks that a memoising comparer answers every conformance pair
// exactly as the plain one does, errors included, asked twice (the second
// answer comes from the memo).
func TestMemo(t *testing.T) {
	for _, s := range suites() {
		var vs []string
		for _, chain := range s.chains {
			for _, group := range chain {
				vs = append(vs, group...)
			}
		}
		vs = append(vs, s.invalid...)
		m := Memo(s.cmp)
		for round := range 2 {
			for _, a := range vs {
				if got, want := m.Valid(a), s.cmp.Valid(a); got != want {
					t.Errorf("%s round %d: Valid(%q) = %v, want %v", s.name, round, a, got, want)
				}
				for _, b := range vs {
					got, gotErr := m.Compare(a, b)
					want, wantErr := s.cmp.Compare(a, b)
					if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
						t.Errorf("%s round %d: Compare(%q, %q) = %d, %v; want %d, %v", s.name, round, a, b, got, gotErr, want, wantErr)
					}
				}
			}
		}
	}
}

// TestMayEqual checks that MayEqual never rules out versions PEP 440 holds
// equal, across normalised spellings, and does rule out the obvious others.
func TestMayEqual(t *testing.T) {
	equal := [][]string{
		{"1.0", "1.0.0", "1", "v1.0", "V1.0.0.0", "01.0", "0!1.0", "00!1", "1.0+", "1.0.0"},
		{"1.0rc1", "1.0RC1", "1.0c1", "1.0-rc.1", "1.0.0rc1", "1.0_rc_1", "v1.0.0-RC1"},
		{"1.0.post1", "1.0-1", "1.0post1", "1.0.rev1", "1.0-r1", "1.0.0.post1"},
		{"1.0.dev0", "1.0dev", "1.0-dev0", "1.0.0.dev"},
		{"1!2.0", "1!2", "01!2.0.0", "v1!2.0"},
		{"0", "0.0", "0.0.0", "v0", "0!0"},
		{"1.0+local.7", "1.0+LOCAL.7", "1.0.0+local-7"},
	}
	for _, c := range []Comparer{PEP440{}, Memo(PEP440{})} {
		for _, g := range equal {
			for _, a := range g {
				for _, b := range g {
					if n, err := c.Compare(a, b); err != nil || n != 0 {
						continue // the group's spelling is not equal after all: nothing to check
					}
					if !MayEqual(c, a, b) {
						t.Errorf("MayEqual(%q, %q) = false, but Compare says equal", a, b)
					}
				}
			}
		}
		for _, p := range [][2]string{{"1.0", "2.0"}, {"1!1.0", "1.0"}, {"10.0", "1.0"}, {"v2", "1.2"}} {
			if MayEqual(c, p[0], p[1]) {
				t.Errorf("MayEqual(%q, %q) = true, want false", p[0], p[1])
			}
		}
		// Strings outside the usual shape are left to Compare.
		if !MayEqual(c, "abc", "1.0") || !MayEqual(c, "1!x", "1.0") {
			t.Errorf("MayEqual ruled out an unparsed shape")
		}
	}
	// Other ecosystems have no shortcut.
	if !MayEqual(SemVer{}, "1.0.0", "2.0.0") {
		t.Errorf("MayEqual(SemVer) ruled out a pair")
	}
}
