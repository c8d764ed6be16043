package version

import (
	"errors"
	"fmt"
	"testing"
)

// suite is one comparer's conformance table: ascending chains of versions
// (each step a group of versions that compare equal) taken from the
// ecosystem's spec and its tricky corners, plus strings it must reject.
type suite struct {
	name    string
	cmp     Comparer
	chains  [][][]string
	invalid []string
}

func suites() []suite {
	return []suite{
		{
			name: "dpkg", cmp: Dpkg{},
			chains: [][][]string{
				// ~ sorts before anything, even the end of the string.
				{{"1.0~~"}, {"1.0~rc1"}, {"1.0"}, {"1.0-1"}, {"1.0-1+deb12u1"}, {"1.0-2"}, {"1.0a"}, {"1.0.1"}},
				// Epoch beats everything else; missing epoch is 0.
				{{"0:2.0", "2.0"}, {"1:1.0"}, {"2:0.1"}},
				{{"1.2.3-1"}, {"1.2.3-1ubuntu0.1"}, {"1.2.3-1ubuntu1"}, {"1.2.10-1"}},
				{{"7.88.1-10+deb12u5"}, {"7.88.1-10+deb12u7"}, {"7.88.1-10+deb12u12"}},
				{{"1:8.9p1-3ubuntu0.9"}, {"1:8.9p1-3ubuntu0.10"}},
				// A non-letter sorts after the end of the string: "+dfsg" makes
				// the upstream version newer, unlike "~".
				{{"1.0~dfsg-1"}, {"1.0-1"}, {"1.0+dfsg-1"}},
			},
			invalid: []string{"", " ", "a1.0", "1.0 ", "1:", "x:1.0", "1.0-", "1_0"},
		},
		{
			name: "rpm", cmp: RPM{},
			chains: [][][]string{
				{{"1.0~rc1"}, {"1.0"}, {"1.0^post"}, {"1.0.1"}},
				{{"1.0~rc1-1"}, {"1.0-1"}, {"1.0-1.el9"}, {"1.0-2.el9"}},
				{{"0:2.0-1", "2.0-1"}, {"1:1.0-1"}},
				{{"3.0.7-27.el9"}, {"3.0.7-28.el9_4"}, {"1:3.0.7-24.el9"}},
				{{"1.0a"}, {"1.0.0"}},      // numbers sort after letters
				{{"1.01", "1.1"}, {"1.2"}}, // leading zeros do not count
				{{"2.02.187-7.el8"}, {"2.03.14-1.el8"}},
			},
			invalid: []string{"", " 1.0", "x:1.0", ":1.0", "1:", "1.0-", "--", "~~", "99999999999999999999:1"},
		},
		{
			name: "apk", cmp: APK{},
			chains: [][][]string{
				{{"1.2.3_alpha1"}, {"1.2.3_beta1"}, {"1.2.3_pre1"}, {"1.2.3_rc1"}, {"1.2.3"}, {"1.2.3_p1"}, {"1.2.4"}},
				{{"1.2.3-r0"}, {"1.2.3-r1"}, {"1.2.3-r2"}, {"1.2.3-r10"}, {"1.2.3_p1-r0"}},
				{{"1.2.3_rc1-r5"}, {"1.2.3-r0"}},
				{{"3.3.1-r0"}, {"3.3.2-r0"}, {"3.3.10-r0"}},
				{{"1.0"}, {"1.0a"}, {"1.0b"}, {"1.0.1"}},
			},
			invalid: []string{"", "abc", "1.0-", "1.0_", "1.0-rX", "1..0", " 1.0", "1.0-r1-r2"},
		},
		{
			name: "semver", cmp: SemVer{},
			chains: [][][]string{
				// Spec §11 example chain.
				{{"1.0.0-alpha"}, {"1.0.0-alpha.1"}, {"1.0.0-alpha.beta"}, {"1.0.0-beta"}, {"1.0.0-beta.2"}, {"1.0.0-beta.11"}, {"1.0.0-rc.1"}, {"1.0.0", "v1.0.0", "1.0.0+build.5"}, {"1.0.1"}, {"1.10.0"}, {"2.0.0"}},
				{{"0.9.99"}, {"1.2", "1.2.0"}},
			},
			invalid: []string{"", "abc", "1.0.0-", "1.0.0-01x..", " 1.0.0", "1.2.3.4", "99999999999999999999.0.0"},
		},
		{
			name: "go", cmp: Go{},
			chains: [][][]string{
				{{"v0.0.0-20210101000000-abcdef123456"}, {"v0.0.0-20220101000000-abcdef123456"}, {"v0.1.0", "0.1.0"}, {"v0.3.5"}, {"0.3.7", "v0.3.7"}},
				{{"v1.0.0-rc.1"}, {"v1.0.0"}, {"v1.0.1-0.20230101000000-abcdef123456"}, {"v1.0.1"}},
				// +incompatible is build metadata: it does not order.
				{{"v2.0.0+incompatible", "v2.0.0", "2.0.0"}, {"v2.1.0+incompatible"}},
				// Toolchain tags as the stdlib package carries them.
				{{"go1.20", "1.20.0"}, {"go1.20.1", "v1.20.1"}, {"go1.20.14"}, {"1.21.0-0"}, {"go1.21rc2", "1.21.0-rc.2"}, {"go1.21.0"}},
			},
			invalid: []string{"", "abc", "v1.0.0.0", "go", "go1.20.1.1", "go1.21xyz1", "1.0.0-", " v1.0.0"},
		},
		{
			name: "pep440", cmp: PEP440{},
			chains: [][][]string{
				{{"1.0.dev1"}, {"1.0a1"}, {"1.0a2.dev1"}, {"1.0a2"}, {"1.0b1"}, {"1.0rc1", "1.0RC1", "1.0c1"}, {"1.0", "1.0.0", "1.0.0.0"}, {"1.0.post1", "1.0-1", "1.0.post-1"}, {"1.0.1"}, {"1.1"}},
				// Epochs beat the release.
				{{"2.0"}, {"1!0.1"}, {"1!1.0"}, {"2!0.0.1"}},
				{{"1.0"}, {"1.0+local.1"}, {"1.0+local.2"}, {"1.0.post1"}},
				{{"2.9"}, {"2.10"}, {"2.10.1"}},
			},
			invalid: []string{"", "abc", "1.0-", "1..0", "1.0+", "!1.0", " 1.0"},
		},
		{
			name: "maven", cmp: Maven{},
			chains: [][][]string{
				{{"1.0-alpha", "1.0-alpha-0"}, {"1.0-alpha-1", "1.0-alpha1", "1.0-a1"}, {"1.0-beta"}, {"1.0-milestone-1", "1.0-m1"}, {"1.0-rc1", "1.0-cr1"}, {"1.0-SNAPSHOT"}, {"1.0", "1.0.0", "1.0-ga", "1.0-final", "1.0.RELEASE", "1.0-release"}, {"1.0-sp"}, {"1.0-a"}, {"1.0.1"}}, // a bare "a" is an unknown qualifier, not alpha: after sp
				{{"1"}, {"1.1"}, {"1.10"}, {"2.0"}},
				{{"31.1-jre"}, {"32.0.0-android"}, {"32.0.0-jre"}, {"32.0.1-jre"}},
			},
			invalid: []string{"", " ", "1.0 beta", "1.0\t"},
		},
		{
			name: "gem", cmp: Gem{},
			chains: [][][]string{
				{{"1.0.a"}, {"1.0.a.1"}, {"1.0.b1"}, {"1.0-rc1", "1.0.pre.rc1"}, {"1.0.rc1"}, {"1.0", "1", "1.0.0"}, {"1.0.1"}, {"1.1"}, {"1.10"}},
				{{"2.7.0.pre"}, {"2.7.0"}, {"2.7.1"}},
				{{"6.1.7.7"}, {"6.1.7.8"}, {"7.0.8.1"}},
			},
			invalid: []string{"", "a1.0", "1.0.", "1..0", "1.0 ", "1.0_1"},
		},
		{
			name: "nuget", cmp: NuGet{},
			chains: [][][]string{
				{{"1.0.0-alpha"}, {"1.0.0-Alpha.1", "1.0.0-alpha.1"}, {"1.0.0-beta.2"}, {"1.0.0-beta.11"}, {"1.0.0-rc.1"}, {"1.0", "1.0.0", "1.0.0.0", "1.0.0+meta", "v1.0.0"}, {"1.0.0.1"}, {"1.0.1"}, {"13.0.1"}},
			},
			invalid: []string{"", "abc", "1.0.0.0.0", "1.0.0-", "1..0", "1.0.0+", " 1.0"},
		},
		{
			// composer/semver VersionParser::normalize, then PHP's
			// version_compare: dev < alpha < beta < RC < release < patch.
			name: "composer", cmp: Composer{},
			chains: [][][]string{
				{{"1.0.0-dev", "1.0-dev", "1.0.0.0-dev"}, {"1.0.0-alpha"}, {"1.0.0-alpha1-dev"},
					{"1.0.0-alpha1", "1.0.0-a1", "1.0.0alpha1", "1.0.0.0-ALPHA1", "v1.0.0-alpha.1"}, {"1.0.0-alpha1.1"}, {"1.0.0-alpha2"}, {"1.0.0-alpha10"},
					{"1.0.0-beta1", "1.0.0-b1", "1.0.0.beta1"}, {"1.0.0-RC1", "1.0.0-rc1", "1.0.0RC1"}, {"1.0.0-RC2"},
					{"1.0.0", "1.0", "1", "v1.0.0", "1.0.0.0", "1.0.0-stable", "1.0.0+20240101"},
					{"1.0.0-patch1", "1.0.0-pl1", "1.0.0-p1"}, {"1.0.0-patch2"}, {"1.0.0.1"}, {"1.0.1"}, {"1.01.2", "1.1.2"}, {"1.10.0"}},
				// Branch aliases sit at the top of their line.
				{{"1.9.9"}, {"1.x-dev", "1.x.x-dev", "1.*-dev", "1.9999999.9999999.9999999-dev"}, {"2.0.0-dev"}, {"2.0.0-alpha1"}, {"2.1.x-dev"}, {"2.2.0"}},
				{{"5.4.0-BETA2"}, {"5.4.0"}, {"v5.4.1"}, {"5.4.10"}},
			},
			invalid: []string{"", "dev-main", "dev-master", "DEV-feature/x", "abc", "1.0.0-gamma", "1..0", "1.0.0.0.0", " 1.0",
				"1.0.0-1", "x.1-dev", "1.0.0+", "1.0 beta"},
		},
	}
}

// TestConformance runs every comparer through the properties of a total
// order over its own table (reflexive, antisymmetric, transitive), checks
// every ordered pair the table implies, and checks that invalid strings are
// rejected with ErrInvalid from both argument positions.
func TestConformance(t *testing.T) {
	for _, s := range suites() {
		t.Run(s.name, func(t *testing.T) {
			type ranked struct {
				v           string
				chain, rank int
			}
			var all []ranked
			for ci, chain := range s.chains {
				for ri, group := range chain {
					for _, v := range group {
						all = append(all, ranked{v, ci, ri})
					}
				}
			}
			cmp := func(a, b string) int {
				t.Helper()
				c, err := s.cmp.Compare(a, b)
				if err != nil {
					t.Fatalf("Compare(%q, %q): %v", a, b, err)
				}
				if c < -1 || c > 1 {
					t.Fatalf("Compare(%q, %q) = %d, want -1, 0 or 1", a, b, c)
				}
				return c
			}
			for _, a := range all {
				if !s.cmp.Valid(a.v) {
					t.Errorf("Valid(%q) = false", a.v)
				}
				if got := cmp(a.v, a.v); got != 0 {
					t.Errorf("reflexive: Compare(%q, %q) = %d", a.v, a.v, got)
				}
				for _, b := range all {
					ab, ba := cmp(a.v, b.v), cmp(b.v, a.v)
					if ab != -ba {
						t.Errorf("antisymmetric: Compare(%q, %q) = %d but Compare(%q, %q) = %d", a.v, b.v, ab, b.v, a.v, ba)
					}
					if a.chain == b.chain {
						want := sign(a.rank - b.rank)
						if ab != want {
							t.Errorf("Compare(%q, %q) = %d, want %d", a.v, b.v, ab, want)
						}
					}
					for _, c := range all {
						bc, ac := cmp(b.v, c.v), cmp(a.v, c.v)
						if ab <= 0 && bc <= 0 && ac > 0 {
							t.Errorf("transitive: %q <= %q <= %q but Compare(%q, %q) = %d", a.v, b.v, c.v, a.v, c.v, ac)
						}
					}
				}
			}
			for _, bad := range s.invalid {
				if s.cmp.Valid(bad) {
					t.Errorf("Valid(%q) = true, want false", bad)
				}
				good := all[0].v
				for _, args := range [][2]string{{bad, good}, {good, bad}} {
					if _, err := s.cmp.Compare(args[0], args[1]); !errors.Is(err, ErrInvalid) {
						t.Errorf("Compare(%q, %q) error = %v, want ErrInvalid", args[0], args[1], err)
					}
				}
			}
		})
	}
}

func TestFor(t *testing.T) {
	tests := []struct {
		ecosystem string
		want      Comparer
	}{
		{"Debian:12", Dpkg{}},
		{"Ubuntu:22.04:LTS", Dpkg{}},
		{"Ubuntu:Pro:14.04:LTS", Dpkg{}},
		{"Alpine:v3.20", APK{}},
		{"Wolfi", APK{}},
		{"Chainguard", APK{}},
		{"AlmaLinux:9", RPM{}},
		{"Rocky Linux:9", RPM{}},
		{"Red Hat:enterprise_linux:9::appstream", RPM{}},
		{"SUSE:Linux Enterprise Server 15 SP5", RPM{}},
		{"openSUSE:Leap 15.5", RPM{}},
		{"Mariner:2.0", RPM{}},
		{"Azure Linux:3.0", RPM{}},
		{"Go", Go{}},
		{"npm", SemVer{}},
		{"crates.io", SemVer{}},
		{"NuGet", NuGet{}},
		{"Packagist", Composer{}},
		{"PyPI", PEP440{}},
		{"Maven", Maven{}},
		{"RubyGems", Gem{}},
	}
	for _, tt := range tests {
		got, err := For(tt.ecosystem)
		if err != nil {
			t.Errorf("For(%q): %v", tt.ecosystem, err)
			continue
		}
		if fmt.Sprintf("%T", got) != fmt.Sprintf("%T", tt.want) {
			t.Errorf("For(%q) = %T, want %T", tt.ecosystem, got, tt.want)
		}
	}
	for _, eco := range []string{"", "Unknown", "debian:12", "GIT"} {
		if _, err := For(eco); !errors.Is(err, ErrUnknownEcosystem) {
			t.Errorf("For(%q) error = %v, want ErrUnknownEcosystem", eco, err)
		}
	}
}
