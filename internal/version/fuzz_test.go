package version

import (
	"errors"
	"testing"
)

// FuzzCompare feeds arbitrary strings to every comparer: none may panic,
// every error must wrap ErrInvalid, and valid versions must compare as a
// total order does on a pair (reflexive, antisymmetric).
func FuzzCompare(f *testing.F) {
	for _, s := range suites() {
		for _, chain := range s.chains {
			for i, group := range chain {
				for _, v := range group {
					f.Add(v, chain[len(chain)-1-i][0])
				}
			}
		}
		for _, bad := range s.invalid {
			f.Add(bad, "1.0")
		}
	}
	f.Add("1:1.0~rc1-1^git", "1.0_p1-r1")
	f.Add("go1.21rc2", "v1.2.3+incompatible")
	all := suites()
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range all {
			ab, errAB := s.cmp.Compare(a, b)
			ba, errBA := s.cmp.Compare(b, a)
			for _, err := range []error{errAB, errBA} {
				if err != nil && !errors.Is(err, ErrInvalid) {
					t.Fatalf("%s: error %v does not wrap ErrInvalid", s.name, err)
				}
			}
			if (errAB == nil) != (s.cmp.Valid(a) && s.cmp.Valid(b)) {
				t.Fatalf("%s: Compare(%q, %q) error = %v, but Valid says %v/%v", s.name, a, b, errAB, s.cmp.Valid(a), s.cmp.Valid(b))
			}
			if errAB != nil {
				continue
			}
			if ab != -ba {
				t.Fatalf("%s: Compare(%q, %q) = %d, Compare(%q, %q) = %d", s.name, a, b, ab, b, a, ba)
			}
			if aa, err := s.cmp.Compare(a, a); err != nil || aa != 0 {
				t.Fatalf("%s: Compare(%q, %q) = %d, %v", s.name, a, a, aa, err)
			}
		}
	})
}
