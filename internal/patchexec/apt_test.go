package patchexec

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/patch"
)

// simulation is real `apt-get -s upgrade` output from Debian 12 (apt 2.6).
const simulation = `Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages will be upgraded:
  libpam-modules libpam-modules-bin tzdata zlib1g
Inst zlib1g [1:1.2.13.dfsg-1] (1:1.2.13.dfsg-1+deb12u1 Debian-Security:12/oldstable-security [amd64])
Inst libpam-modules-bin [1.5.2-6+deb12u2] (1.5.2-6+deb12u3 Debian-Security:12/oldstable-security [amd64]) [libpam-modules:amd64 on libpam-modules-bin:amd64] [libpam-modules:amd64 ]
Inst libpam-modules [1.5.2-6+deb12u2] (1.5.2-6+deb12u3 Debian-Security:12/oldstable-security [amd64])
Inst tzdata [2026b-0+deb12u1] (2026f-0+deb12u1 Debian-Security:12/oldstable-security [all])
Conf zlib1g (1:1.2.13.dfsg-1+deb12u1 Debian-Security:12/oldstable-security [amd64])
Conf tzdata (2026f-0+deb12u1 Debian-Security:12/oldstable-security [all])
`

func TestParseSimulation(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Upgrade
		err      string
	}{
		{name: "upgrades", in: simulation, want: []Upgrade{
			{Package: "libpam-modules", Arch: "amd64", From: "1.5.2-6+deb12u2", To: "1.5.2-6+deb12u3"},
			{Package: "libpam-modules-bin", Arch: "amd64", From: "1.5.2-6+deb12u2", To: "1.5.2-6+deb12u3"},
			{Package: "tzdata", Arch: "all", From: "2026b-0+deb12u1", To: "2026f-0+deb12u1"},
			{Package: "zlib1g", Arch: "amd64", From: "1:1.2.13.dfsg-1", To: "1:1.2.13.dfsg-1+deb12u1"},
		}},
		{name: "nothing", in: "Reading package lists...\nzlib1g is already the newest version (1:1.2.13.dfsg-1).\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"},
		{name: "a new package is refused", in: simulation + "Inst libfoo2 (2.0-1 Debian:12/stable [amd64])\n",
			err: "the upgrade changes the image's package set (it would install packages the image does not have: libfoo2): rebuild the image instead"},
		{name: "a removal is refused", in: "Remv libfoo1 [1.0-1]\n" + simulation,
			err: "the upgrade changes the image's package set (it would remove libfoo1): rebuild the image instead"},
		{name: "unreadable", in: "Inst zlib1g [1:1.2.13.dfsg-1]\n", err: `apt-get simulation: cannot read line "Inst zlib1g [1:1.2.13.dfsg-1]"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSimulation(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseDpkgQuery(t *testing.T) {
	got, err := parseDpkgQuery("zlib1g\tamd64\t1:1.2.13.dfsg-1+deb12u1\tzlib\t1:1.2.13.dfsg-1+deb12u1\tii \nold\tamd64\t1.0\told\t1.0\trc \n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]installed{"zlib1g": {Arch: "amd64", Version: "1:1.2.13.dfsg-1+deb12u1", Source: "zlib", SourceVersion: "1:1.2.13.dfsg-1+deb12u1"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := parseDpkgQuery("zlib1g 1.0\n"); err == nil {
		t.Error("a line without tabs parsed")
	}
}

func TestVerify(t *testing.T) {
	before := map[string]installed{
		"libssl3": {Version: "3.0.11-1~deb12u2", Source: "openssl", SourceVersion: "3.0.11-1~deb12u2"},
		"zlib1g":  {Version: "1:1.2.13.dfsg-1", Source: "zlib", SourceVersion: "1:1.2.13.dfsg-1"},
	}
	plan := &patch.Plan{Mode: patch.ModeFindings, Items: []patch.Item{{Package: "libssl3", Installed: "3.0.11-1~deb12u2", Target: "3.0.13-1~deb12u1"}}}
	ups := func(to string) []Upgrade { return []Upgrade{{Package: "libssl3", From: "3.0.11-1~deb12u2", To: to}} }
	for _, tc := range []struct {
		name  string
		after map[string]installed
		ups   []Upgrade
		err   string
	}{
		{name: "reached", ups: ups("3.0.15-1~deb12u1"), after: map[string]installed{
			"libssl3": {Version: "3.0.15-1~deb12u1", Source: "openssl", SourceVersion: "3.0.15-1~deb12u1"}, "zlib1g": before["zlib1g"]}},
		{name: "below the fixed version", ups: ups("3.0.12-1"), after: map[string]installed{
			"libssl3": {Version: "3.0.12-1", Source: "openssl", SourceVersion: "3.0.12-1"}, "zlib1g": before["zlib1g"]},
			err: "the upgraded package database does not match the plan: libssl3 is at source version 3.0.12-1 after the upgrade, below the fixed 3.0.13-1~deb12u1"},
		{name: "not the resolved version", ups: ups("3.0.15-1~deb12u1"), after: map[string]installed{
			"libssl3": {Version: "3.0.14-1~deb12u1", Source: "openssl", SourceVersion: "3.0.14-1~deb12u1"}, "zlib1g": before["zlib1g"]},
			err: "the upgraded package database does not match the plan: libssl3 is at 3.0.14-1~deb12u1 after the upgrade, not 3.0.15-1~deb12u1"},
		{name: "package set changed", ups: ups("3.0.15-1~deb12u1"), after: map[string]installed{
			"libssl3": {Version: "3.0.15-1~deb12u1", SourceVersion: "3.0.15-1~deb12u1"}, "libnew": {Version: "1"}},
			err: "the upgraded package database does not match the plan: libnew was installed; zlib1g is no longer installed"},
		{name: "unplanned change", ups: ups("3.0.15-1~deb12u1"), after: map[string]installed{
			"libssl3": {Version: "3.0.15-1~deb12u1", SourceVersion: "3.0.15-1~deb12u1"}, "zlib1g": {Version: "1:1.3"}},
			err: "the upgraded package database does not match the plan: zlib1g changed from 1:1.2.13.dfsg-1 to 1:1.3 though it was not planned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verify(plan, before, tc.after, tc.ups)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err) {
				t.Fatalf("error = %v, want %q", err, tc.err)
			}
			if tc.err == "" && tc.ups[0].SourceVersion != tc.after["libssl3"].SourceVersion {
				t.Errorf("source version not filled in: %+v", tc.ups[0])
			}
		})
	}
}

func TestCheckPlanned(t *testing.T) {
	plan := &patch.Plan{Mode: patch.ModeFindings, Items: []patch.Item{
		{Package: "libssl3", Installed: "3.0.11-1", Target: "3.0.13-1"}, {Package: "zlib1g", Installed: "1:1.2.13", Target: "1:1.2.13-2"}}}
	err := checkPlanned(plan, []Upgrade{{Package: "zlib1g", To: "1:1.2.13-2"}})
	want := "no upgrade available from the configured package sources for libssl3 (installed 3.0.11-1, wanted >= 3.0.13-1): add the security repository (--apt-source) or wait for the fix"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	if err := checkPlanned(&patch.Plan{Mode: patch.ModeAllUpdates, Items: plan.Items}, nil); err != nil {
		t.Errorf("all-updates: %v", err)
	}
}

func TestFilterLayer(t *testing.T) {
	type entry struct {
		name string
		typ  byte
	}
	in := []entry{
		{"./", tar.TypeDir}, {"etc/", tar.TypeDir}, {"etc/resolv.conf", tar.TypeReg}, {"etc/pam.d/", tar.TypeDir},
		{"etc/pam.d/common-auth", tar.TypeReg}, {"usr/", tar.TypeDir}, {"usr/lib/", tar.TypeDir}, {"usr/lib/libz.so.1", tar.TypeSymlink},
		{"var/", tar.TypeDir}, {"var/lib/", tar.TypeDir}, {"var/lib/apt/", tar.TypeDir}, {"var/lib/apt/lists/", tar.TypeDir},
		{"var/lib/apt/lists/x_Packages", tar.TypeReg}, {"var/lib/apt/lists/.wh.y_Packages", tar.TypeReg}, {"var/lib/apt/extended_states", tar.TypeReg},
		{"var/log/", tar.TypeDir}, {"var/log/apt/history.log", tar.TypeReg}, {"var/lib/dpkg/status-old", tar.TypeReg},
		{"var/lib/dpkg/.wh.status-old", tar.TypeReg}, {"var/lib/dpkg/status", tar.TypeReg}, {"usr/share/doc/old/.wh..wh..opq", tar.TypeReg},
		{"etc/apt/sources.list.d/drydock-patch.list", tar.TypeReg}, {"var/cache/apt/pkgcache.bin", tar.TypeReg}, {"tmp/", tar.TypeDir},
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range in {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.name))
		}
		if e.typ == tar.TypeSymlink {
			h.Linkname = "libz.so.1.2.13"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.name))
		}
	}
	tw.Close()
	var out bytes.Buffer
	kept, err := filterLayer(&b, &out)
	if err != nil {
		t.Fatal(err)
	}
	wantKept := []string{"etc/pam.d/common-auth", "usr/lib/libz.so.1", "var/lib/apt/extended_states", "var/lib/dpkg/status", "usr/share/doc/old/.wh..wh..opq"}
	if d := cmp.Diff(wantKept, kept); d != "" {
		t.Errorf("kept (-want +got):\n%s", d)
	}
	var names []string
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeReg && string(body) != h.Name {
			t.Errorf("%s: body %q", h.Name, body)
		}
		names = append(names, h.Name)
	}
	want := []string{"etc/", "etc/pam.d/", "etc/pam.d/common-auth", "usr/", "usr/lib/", "usr/lib/libz.so.1", "var/", "var/lib/", "var/lib/apt/",
		"var/lib/apt/extended_states", "var/lib/dpkg/status", "usr/share/doc/old/.wh..wh..opq"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("layer entries (-want +got):\n%s", d)
	}
	if !strings.Contains(strings.Join(transient, " "), sourcesFile) {
		t.Error("the extra sources file is not transient")
	}
}

func TestParsePolicy(t *testing.T) {
	out := `zlib1g:
  Installed: (none)
  Candidate: 1:1.2.13.dfsg-1+deb12u1
  Version table:
     1:1.2.13.dfsg-1+deb12u1 500
        500 http://mirror/debian-security bookworm-security/main amd64 Packages
libfoo:amd64:
  Installed: (none)
  Candidate: (none)
  Version table:
N: Unable to locate package nosuch
`
	want := map[string]string{"zlib1g": "1:1.2.13.dfsg-1+deb12u1", "libfoo": ""}
	if d := cmp.Diff(want, parsePolicy(out)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestDistrolessUpgrades(t *testing.T) {
	items := []patch.Item{{Package: "zlib1g", Installed: "1:1.2.13.dfsg-1", Target: "1:1.2.13.dfsg-1+deb12u1"}, {Package: "base-files", Installed: "12.4+deb12u5", Target: "12.4+deb12u6"}}
	cands := map[string]string{"zlib1g": "1:1.2.13.dfsg-1+deb12u1", "base-files": "12.4+deb12u5"}
	ups, err := distrolessUpgrades(&patch.Plan{Mode: patch.ModeAllUpdates, Items: items}, cands)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Upgrade{{Package: "zlib1g", From: "1:1.2.13.dfsg-1", To: "1:1.2.13.dfsg-1+deb12u1"}}, ups); d != "" {
		t.Errorf("all-updates (-want +got):\n%s", d)
	}
	_, err = distrolessUpgrades(&patch.Plan{Mode: patch.ModeFindings, Items: items}, cands)
	want := "no upgrade available from the configured package sources for base-files (installed 12.4+deb12u5, wanted >= 12.4+deb12u6): add the security repository (--apt-source) or wait for the fix"
	if err == nil || err.Error() != want {
		t.Errorf("findings: error = %v, want %q", err, want)
	}
}

func TestRelink(t *testing.T) {
	links := map[string]string{"lib": "usr/lib", "bin": "usr/bin"}
	for _, tc := range []struct {
		in, want string
		skip     bool
	}{
		{"./", "", true},
		{"./lib/", "", true},
		{"./lib/x86_64-linux-gnu/libz.so.1", "usr/lib/x86_64-linux-gnu/libz.so.1", false},
		{"./usr/share/doc/zlib1g/copyright", "usr/share/doc/zlib1g/copyright", false},
		{"../../etc/passwd", "etc/passwd", false},
		{"bin/sh", "usr/bin/sh", false},
	} {
		got, skip := relink(tc.in, links)
		if got != tc.want || skip != tc.skip {
			t.Errorf("relink(%q) = %q, %v; want %q, %v", tc.in, got, skip, tc.want, tc.skip)
		}
	}
}

func TestSourceOf(t *testing.T) {
	for _, tc := range []struct {
		f          map[string]string
		name, vers string
	}{
		{map[string]string{"Package": "zlib1g", "Version": "1:1.2.13.dfsg-1+deb12u1", "Source": "zlib"}, "zlib", "1:1.2.13.dfsg-1+deb12u1"},
		{map[string]string{"Package": "libselinux1", "Version": "3.4-1+b6", "Source": "libselinux (3.4-1)"}, "libselinux", "3.4-1"},
		{map[string]string{"Package": "tar", "Version": "1.34+dfsg-1.2+deb12u1"}, "tar", "1.34+dfsg-1.2+deb12u1"},
	} {
		n, v := sourceOf(tc.f)
		if n != tc.name || v != tc.vers {
			t.Errorf("sourceOf(%v) = %s %s, want %s %s", tc.f, n, v, tc.name, tc.vers)
		}
	}
}

func TestUpdateFailures(t *testing.T) {
	ok := "Hit:1 http://mirror/debian bookworm InRelease\nGet:2 http://mirror/debian-security bookworm-security InRelease [48.0 kB]\nReading package lists...\n"
	if got := updateFailures(ok); got != "" {
		t.Errorf("a clean update reported %q", got)
	}
	// apt 2.0 (Ubuntu 20.04) exits 0 on an unreachable source.
	bad := ok + "Err:3 http://127.0.0.1:9/debian bookworm-security InRelease\n  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)\n" +
		"W: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm-security/InRelease  Could not connect\nW: Some index files failed to download. They have been ignored, or old ones used instead.\n"
	want := "Err:3 http://127.0.0.1:9/debian bookworm-security InRelease; W: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm-security/InRelease  Could not connect; W: Some index files failed to download. They have been ignored, or old ones used instead."
	if got := updateFailures(bad); got != want {
		t.Errorf("updateFailures = %q, want %q", got, want)
	}
}
