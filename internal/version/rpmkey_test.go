package version

import (
	"math/rand/v2"
	"slices"
	"testing"

	rpm "github.com/knqyf263/go-rpm-version"
)

// checkRPMPair fails when RPM.Compare or the memo disagree with
// go-rpm-version's own Compare on a pair both Valid.
func checkRPMPair(t *testing.T, m Comparer, a, b string) {
	t.Helper()
	if !(RPM{}).Valid(a) || !(RPM{}).Valid(b) {
		if _, err := m.Compare(a, b); err == nil {
			t.Fatalf("memo Compare(%q, %q): no error for an invalid version", a, b)
		}
		return
	}
	want := sign(rpm.NewVersion(a).Compare(rpm.NewVersion(b)))
	if got, err := (RPM{}).Compare(a, b); err != nil || got != want {
		t.Fatalf("Compare(%q, %q) = %d, %v; library says %d", a, b, got, err, want)
	}
	if got, err := m.Compare(a, b); err != nil || got != want {
		t.Fatalf("memo Compare(%q, %q) = %d, %v; library says %d", a, b, got, err, want)
	}
}

// TestRPMKeyRealAlma holds our rpm order equal to go-rpm-version's over
// every version string of the real AlmaLinux export, each against its
// neighbours in string order (same package, close versions) and a seeded
// random sample of the others.
func TestRPMKeyRealAlma(t *testing.T) {
	vs := osvVersions(t, "AlmaLinux")
	if len(vs) < 1000 {
		t.Fatalf("only %d AlmaLinux versions", len(vs))
	}
	t.Logf("%d distinct versions", len(vs))
	m := Memo(RPM{})
	for i := range vs {
		for j := max(0, i-3); j < i; j++ {
			checkRPMPair(t, m, vs[i], vs[j])
			checkRPMPair(t, m, vs[j], vs[i])
		}
	}
	rnd := rand.New(rand.NewPCG(9, 4))
	for _, a := range vs {
		for range 8 {
			checkRPMPair(t, m, a, vs[rnd.IntN(len(vs))])
		}
	}
	lib := slices.Clone(vs)
	slices.SortStableFunc(lib, func(a, b string) int { return rpm.NewVersion(a).Compare(rpm.NewVersion(b)) })
	for i := 1; i < len(lib); i++ {
		checkRPMPair(t, m, lib[i-1], lib[i])
	}
}

func FuzzRPMDifferential(f *testing.F) {
	for _, s := range []string{
		"1.0", "1:1.0-1", "0:1.0", "1.0~rc1", "1.0^post", "1.0a", "1.0.0", "1.01", "3.0.7-27.el9",
		"1:3.0.7-24.el9_4", "1.0-1.el9~bootstrap", "2.02.187-7.el8", "1..0", "a", "1.0-1^", "é1.0",
		"001.0", "1.0-0", "1.0_1", "10:1", "1.0+git",
	} {
		f.Add(s, "1.0-1")
		f.Add("1:1.0~rc1", s)
	}
	m := Memo(RPM{})
	f.Fuzz(func(t *testing.T, a, b string) {
		checkRPMPair(t, m, a, b)
		checkRPMPair(t, m, b, a)
		checkRPMPair(t, m, a, a)
	})
}
