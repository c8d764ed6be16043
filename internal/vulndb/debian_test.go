package vulndb

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var debianNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func debianData(t testing.TB, parts ...string) string {
	return filepath.Join(append([]string{vulnData(t), "debian"}, parts...)...)
}

// entryLines renders an advisory's affected entries as
// "pkg Debian:n fixed=X urgency=U" (fixed=- when there is no fix).
func entryLines(adv *Advisory) []string {
	var out []string
	for _, a := range adv.Affected {
		fixed := "-"
		for _, r := range a.Ranges {
			for _, e := range r.Events {
				if e.Fixed != "" {
					fixed = e.Fixed
				}
			}
		}
		out = append(out, a.Package.Name+" "+a.Package.Ecosystem+" fixed="+fixed+" urgency="+
			stringOf(a.EcosystemSpecific["urgency"]))
	}
	return out
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func summarize(advs []*Advisory) map[string][]string {
	out := map[string][]string{}
	for _, a := range advs {
		out[a.ID] = entryLines(a)
	}
	return out
}

func convertMock(t *testing.T) []*Advisory {
	t.Helper()
	f, err := os.Open(debianData(t, "osv.dev-testdata", "debian_security_tracker_mock.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := defaults()
	cves, err := convertTrackerJSON(f, &cfg, func(name string, err error) { t.Errorf("bad %s: %v", name, err) })
	if err != nil {
		t.Fatal(err)
	}
	return debianAdvisories(cves, debianNow)
}

func TestConvertTrackerJSONMock(t *testing.T) {
	advs := convertMock(t)
	// Read from the mock: CVE-2014-1424 is resolved at "0" (not affected)
	// in every release, so it has no record; sid is never an ecosystem.
	want := map[string][]string{
		"DEBIAN-CVE-2016-1585": {
			"apparmor Debian:10 fixed=- urgency=unimportant",
			"apparmor Debian:11 fixed=- urgency=unimportant",
			"apparmor Debian:12 fixed=- urgency=unimportant",
			"apparmor Debian:13 fixed=3.0.12-1 urgency=unimportant",
		},
		"DEBIAN-CVE-2017-6507": {
			"apparmor Debian:10 fixed=2.11.0-3 urgency=not yet assigned",
			"apparmor Debian:11 fixed=2.11.0-3 urgency=not yet assigned",
			"apparmor Debian:12 fixed=2.11.0-3 urgency=not yet assigned",
			"apparmor Debian:13 fixed=2.11.0-3 urgency=not yet assigned",
		},
	}
	if diff := cmp.Diff(want, summarize(advs)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	a := advs[0]
	if a.ID != "DEBIAN-CVE-2016-1585" || !cmp.Equal(a.Upstream, []string{"CVE-2016-1585"}) ||
		!a.Modified.Equal(debianNow) || !strings.HasPrefix(a.Details, "In all versions of AppArmor") ||
		len(a.References) != 1 || a.References[0].URL != "https://security-tracker.debian.org/tracker/CVE-2016-1585" {
		t.Errorf("record fields = %+v", a)
	}
}

// osvPart is one element of osv.dev's converter output ("parts") in
// osv.dev-testdata/CVE-*.debian.json.
type osvPart struct {
	PkgName      string `json:"pkg_name"`
	Ecosystem    string `json:"ecosystem"`
	FixedVersion struct {
		AffectedVersions []Event `json:"affected_versions"`
	} `json:"fixed_version"`
	EcosystemSpecific map[string]any `json:"ecosystem_specific"`
}

// TestConvertTrackerJSONMatchesOSVDev compares with what osv.dev's
// converter made of the same mock.
func TestConvertTrackerJSONMatchesOSVDev(t *testing.T) {
	byID := map[string]*Advisory{}
	for _, a := range convertMock(t) {
		byID[a.ID] = a
	}
	for _, cve := range []string{"CVE-2016-1585", "CVE-2017-6507"} {
		t.Run(cve, func(t *testing.T) {
			var parts []osvPart
			if err := json.Unmarshal(mustRead(t, debianData(t, "osv.dev-testdata", cve+".debian.json")), &parts); err != nil {
				t.Fatal(err)
			}
			var want []Affected
			for _, p := range parts {
				want = append(want, Affected{
					Package:           Package{Ecosystem: p.Ecosystem, Name: p.PkgName},
					Ranges:            []Range{{Type: "ECOSYSTEM", Events: p.FixedVersion.AffectedVersions}},
					EcosystemSpecific: p.EcosystemSpecific,
				})
			}
			got := byID["DEBIAN-"+cve]
			if got == nil {
				t.Fatalf("no DEBIAN-%s", cve)
			}
			if diff := cmp.Diff(want, got.Affected); diff != "" {
				t.Errorf("affected (-osv.dev +ours):\n%s", diff)
			}
		})
	}
}

func convertAnnotations(t *testing.T, dir string) ([]*Advisory, []string) {
	t.Helper()
	root, ok := trackerRoot(dir)
	if !ok {
		t.Fatalf("%s not recognised as tracker lists", dir)
	}
	cfg := defaults()
	var bad []string
	set, err := readAnnotations(context.Background(), root, &cfg, func(name string, err error) {
		bad = append(bad, filepath.Base(name)+": "+err.Error())
	})
	if err != nil {
		t.Fatal(err)
	}
	return debianAdvisories(set.resolve(), debianNow), bad
}

func TestConvertAnnotationsReal(t *testing.T) {
	advs, bad := convertAnnotations(t, debianData(t, "security-tracker-annotations"))
	if len(bad) > 0 {
		t.Errorf("real entries reported bad: %v", bad)
	}
	// Derived by reading the entries. The data names buster, bullseye and
	// bookworm, so release-less lines speak for Debian 10-12 where no
	// [release] line (or DSA) does.
	want := map[string][]string{
		// "- apt <unfixed> (unimportant; …)" only: unfixed everywhere.
		"DEBIAN-CVE-2011-3374": {
			"apt Debian:10 fixed=- urgency=unimportant",
			"apt Debian:11 fixed=- urgency=unimportant",
			"apt Debian:12 fixed=- urgency=unimportant",
		},
		// sid fixed 8.3.0-3, [buster] not-affected; DSA-5523-1 fixes
		// bullseye and bookworm.
		"DEBIAN-CVE-2023-38545": {
			"curl Debian:11 fixed=7.74.0-1.3+deb11u10 urgency=not yet assigned",
			"curl Debian:12 fixed=7.88.1-10+deb12u4 urgency=not yet assigned",
		},
		// No CVE entry in the sample: DSA-5523-1 alone.
		"DEBIAN-CVE-2023-38546": {
			"curl Debian:11 fixed=7.74.0-1.3+deb11u10 urgency=not yet assigned",
			"curl Debian:12 fixed=7.88.1-10+deb12u4 urgency=not yet assigned",
		},
		// sid <unfixed> in this snapshot, [buster] not-affected; the
		// bullseye and bookworm fixes live only in DSA-5514-1.
		"DEBIAN-CVE-2023-4911": {
			"glibc Debian:11 fixed=2.31-13+deb11u7 urgency=not yet assigned",
			"glibc Debian:12 fixed=2.36-9+deb12u3 urgency=not yet assigned",
		},
		// expat: sid 2.6.0-1, [bookworm] point release; libxmltok removed
		// from sid, [bookworm] <ignored>: affected without a fix.
		"DEBIAN-CVE-2023-52425": {
			"expat Debian:10 fixed=2.6.0-1 urgency=not yet assigned",
			"expat Debian:11 fixed=2.6.0-1 urgency=not yet assigned",
			"expat Debian:12 fixed=2.5.0-1+deb12u2 urgency=not yet assigned",
			"libxmltok Debian:10 fixed=- urgency=not yet assigned",
			"libxmltok Debian:11 fixed=- urgency=not yet assigned",
			"libxmltok Debian:12 fixed=- urgency=not yet assigned",
		},
		// [buster] <postponed>, bullseye from sid, [bookworm] point release.
		"DEBIAN-CVE-2024-0727": {
			"openssl Debian:10 fixed=- urgency=not yet assigned",
			"openssl Debian:11 fixed=3.1.5-1 urgency=not yet assigned",
			"openssl Debian:12 fixed=3.0.13-1~deb12u1 urgency=not yet assigned",
		},
		// CVE-2024-3094 (xz-utils): not-affected in buster, bullseye and
		// bookworm, fixed only in sid: no record at all.
		//
		// [bullseye] not-affected, DSA-5724-1 fixes bookworm; buster is
		// not named, so unstable's fix speaks for it.
		"DEBIAN-CVE-2024-6387": {
			"openssh Debian:10 fixed=1:9.7p1-7 urgency=not yet assigned",
			"openssh Debian:12 fixed=1:9.2p1-2+deb12u3 urgency=not yet assigned",
		},
	}
	if diff := cmp.Diff(want, summarize(advs)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	for _, a := range advs {
		if a.ID == "DEBIAN-CVE-2023-4911" && !strings.Contains(a.Details, "GLIBC_TUNABLES") {
			t.Errorf("details = %q", a.Details)
		}
	}
}

// writeTracker lays out files (path → JSON) as a vuln-list-debian checkout.
func writeTracker(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, "tracker", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// entry builds a list entry; lines are "[rel] pkg kind version severity"
// with "-" for empty fields, or "xref ID ID...".
func entry(id string, lines ...string) string {
	type ann struct {
		Type, Release, Package, Kind, Version, Severity string   `json:",omitempty"`
		Bugs                                            []string `json:",omitempty"`
	}
	f := struct {
		Header      struct{ ID, Description string }
		Annotations []ann
	}{}
	f.Header.ID = id
	f.Header.Description = "(" + id + " description)"
	for _, l := range lines {
		fs := strings.Fields(l)
		if fs[0] == "xref" {
			f.Annotations = append(f.Annotations, ann{Type: "xref", Bugs: fs[1:]})
			continue
		}
		dash := func(s string) string {
			if s == "-" {
				return ""
			}
			return s
		}
		f.Annotations = append(f.Annotations, ann{Type: "package", Release: strings.Trim(dash(fs[0]), "[]"), Package: fs[1], Kind: fs[2], Version: dash(fs[3]), Severity: dash(fs[4])})
	}
	b, _ := json.Marshal(f)
	return string(b)
}

func TestConvertAnnotationRules(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  map[string][]string
		bad   []string
	}{
		{
			name: "distributions.json sets the tracked releases",
			files: map[string]string{
				"distributions.json": `{"bookworm":{"major-version":"12"},"trixie":{"major-version":"13"},"sid":{"major-version":""}}`,
				"CVE/CVE-2024-0001.json": entry("CVE-2024-0001",
					"- foo fixed 1.2-1 low", "[bullseye] foo no-dsa - -"),
			},
			want: map[string][]string{"DEBIAN-CVE-2024-0001": {
				"foo Debian:11 fixed=- urgency=low",
				"foo Debian:12 fixed=1.2-1 urgency=low",
				"foo Debian:13 fixed=1.2-1 urgency=low",
			}},
		},
		{
			name: "a codename only distributions.json knows",
			files: map[string]string{
				"distributions.json":     `{"zork":{"major-version":"99"}}`,
				"CVE/CVE-2024-0002.json": entry("CVE-2024-0002", "- foo unfixed - high"),
			},
			want: map[string][]string{"DEBIAN-CVE-2024-0002": {"foo Debian:99 fixed=- urgency=high"}},
		},
		{
			name: "states without an entry",
			files: map[string]string{
				"CVE/CVE-2024-0003.json": entry("CVE-2024-0003",
					"- foo unfixed - -", "[buster] foo end-of-life - -", "[bullseye] foo not-affected - -",
					"[bookworm] foo fixed 0 -", "- bar itp - -", "- baz not-affected - -", "[bookworm] baz unfixed - -"),
				"CVE/CVE-2024-0004.json": entry("CVE-2024-0004", "[trixie] qux undetermined - -", "[sid] qux unfixed - -"),
			},
			want: map[string][]string{
				// trixie, named by CVE-2024-0004 only, takes foo's
				// release-less <unfixed>.
				"DEBIAN-CVE-2024-0003": {"baz Debian:12 fixed=- urgency=not yet assigned", "foo Debian:13 fixed=- urgency=not yet assigned"},
				"DEBIAN-CVE-2024-0004": {"qux Debian:13 fixed=- urgency=not yet assigned"},
			},
		},
		{
			name: "DSA and DLA fixes join, the highest fix wins",
			files: map[string]string{
				"CVE/CVE-2024-0005.json": entry("CVE-2024-0005",
					"- foo fixed 2.0-1 medium", "[bookworm] foo no-dsa - -", "[bullseye] foo fixed 1.0-1+deb11u1 -"),
				"DSA/DSA-9000-1.json": entry("DSA-9000-1", "xref CVE-2024-0005 TEMP-1234", "[bookworm] foo fixed 1.5-1+deb12u1 -"),
				"DSA/DSA-9001-1.json": entry("DSA-9001-1", "xref CVE-2024-0005", "[bookworm] foo fixed 1.5-1+deb12u2 -"),
				"DLA/DLA-3000-1.json": entry("DLA-3000-1", "xref CVE-2024-0005", "[buster] foo fixed 0.9-1+deb10u1 -", "[bullseye] foo fixed 1.0-1+deb11u0 -"),
				"DSA/DSA-9002-1.json": entry("DSA-9002-1", "[bookworm] other fixed 1-1 -"),
			},
			want: map[string][]string{"DEBIAN-CVE-2024-0005": {
				"foo Debian:10 fixed=0.9-1+deb10u1 urgency=medium",
				"foo Debian:11 fixed=1.0-1+deb11u1 urgency=medium",
				"foo Debian:12 fixed=1.5-1+deb12u2 urgency=medium",
			}},
		},
		{
			name: "TEMP ids are skipped, malformed files reported",
			files: map[string]string{
				"CVE/TEMP-0000000-ABCDEF.json": entry("TEMP-0000000-ABCDEF", "[bookworm] foo unfixed - -"),
				"CVE/CVE-2024-0006.json":       entry("CVE-2024-0006", "[bookworm] foo unfixed - -"),
				"CVE/broken.json":              `{"Header": {"ID": "CVE-2024-0007"}, "Annotations": [`,
				"CVE/noid.json":                `{"Annotations": []}`,
				"CVE/kind.json":                entry("CVE-2024-0008", "[bookworm] foo maybe - -"),
				"CVE/nover.json":               entry("CVE-2024-0009", "[bookworm] foo fixed - -"),
				"CVE/name.json":                entry("CVE-2024-0010", "[bookworm] f/o fixed 1 -"),
				"DSA/DSA-9003-1.json":          entry("DSA-9003-1", "xref CVE-2024-0006", "- foo fixed 1 -"),
			},
			want: map[string][]string{"DEBIAN-CVE-2024-0006": {"foo Debian:12 fixed=- urgency=not yet assigned"}},
			bad: []string{
				"broken.json: decode tracker entry: unexpected end of JSON input",
				`kind.json: CVE-2024-0008: foo: unknown state "maybe"`,
				`name.json: CVE-2024-0010: bad package name "f/o"`,
				"noid.json: not a tracker entry: no Header.ID",
				`nover.json: CVE-2024-0009: foo: fixed without a valid version ("")`,
				"DSA-9003-1.json: DSA-9003-1: foo: advisory line without a release",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			advs, bad := convertAnnotations(t, writeTracker(t, tt.files))
			if diff := cmp.Diff(tt.want, summarize(advs)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.bad, bad); diff != "" {
				t.Errorf("reported bad (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrackerJSONErrors(t *testing.T) {
	release := func(status, fixed string) string {
		return `{"status":"` + status + `","fixed_version":"` + fixed + `","urgency":"low"}`
	}
	pkg := func(name, cve, rel string) string {
		return `"` + name + `":{"` + cve + `":{"description":"d","releases":{"bookworm":` + rel + `}}}`
	}
	tests := []struct {
		name    string
		data    string
		wantErr string   // whole-source error
		bad     []string // entries reported and skipped
		ids     []string
	}{
		{name: "truncated", data: `{` + pkg("foo", "CVE-2024-0001", release("open", "")), wantErr: "read Debian tracker JSON at byte"},
		{name: "trailing data", data: `{` + pkg("foo", "CVE-2024-0001", release("open", "")) + `} {}`, wantErr: "data after the top-level object"},
		{name: "not an object", data: `[]`, wantErr: "want an object of source packages"},
		{name: "unknown status", data: `{` + pkg("foo", "CVE-2024-0001", release("fixed-ish", "1")) + `,` + pkg("bar", "CVE-2024-0002", release("open", "")) + `}`,
			bad: []string{`foo CVE-2024-0001: release bookworm: unknown status "fixed-ish"`}, ids: []string{"DEBIAN-CVE-2024-0002"}},
		{name: "resolved without a version", data: `{` + pkg("foo", "CVE-2024-0001", release("resolved", "")) + `}`,
			bad: []string{`foo CVE-2024-0001: release bookworm: resolved with bad fixed_version ""`}},
		{name: "wrong shape", data: `{"foo":{"CVE-2024-0001":"text"},` + pkg("bar", "CVE-2024-0002", release("resolved", "1.0-1")) + `}`,
			bad: []string{"foo: decode package entry: json: cannot unmarshal string into Go value of type vulndb.trackerCVE"}, ids: []string{"DEBIAN-CVE-2024-0002"}},
		{name: "bad package name", data: `{` + pkg("../x", "CVE-2024-0001", release("open", "")) + `}`,
			bad: []string{"../x: not a source package name"}},
		{name: "TEMP ids skipped", data: `{` + pkg("foo", "TEMP-0000000-ABCDEF", release("open", "")) + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaults()
			var bad []string
			cves, err := convertTrackerJSON(strings.NewReader(tt.data), &cfg, func(name string, err error) {
				bad = append(bad, name+": "+err.Error())
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.bad, bad); diff != "" {
				t.Errorf("reported bad (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ids, ids(debianAdvisories(cves, debianNow))); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrackerJSONCap(t *testing.T) {
	cfg := defaults()
	cfg.maxUncompessed = 100
	data := `{"foo":{"CVE-2024-0001":{"description":"` + strings.Repeat("x", 200) + `","releases":{}}}}`
	_, err := convertTrackerJSON(strings.NewReader(data), &cfg, func(string, error) {})
	if err == nil || !strings.Contains(err.Error(), errSourceTooBig.Error()) {
		t.Errorf("err = %v, want the size cap", err)
	}
}

func TestSniffTrackerJSON(t *testing.T) {
	tests := []struct {
		data string
		want bool
	}{
		{`{"a":{"CVE-1":{"description":"x","scope":"local","releases":{}}}}`, true},
		{`  {"a":{"CVE-1":{"releases":{"sid":{}}}}}`, true},
		{`{"a":{"CVE-1":{"releases":[]}}}`, false},
		{`{"id":"GHSA-1","affected":[]}`, false},
		{`{"a":{"CVE-1":{"description":"x"}}}`, false},
		{`{}`, false},
		{`PK` + "\x03\x04", false},
		{``, false},
	}
	for _, tt := range tests {
		if got := sniffTrackerJSON(strings.NewReader(tt.data)); got != tt.want {
			t.Errorf("sniff(%q) = %v, want %v", tt.data, got, tt.want)
		}
	}
	b := mustRead(t, debianData(t, "osv.dev-testdata", "debian_security_tracker_mock.json"))
	if !sniffTrackerJSON(bytes.NewReader(b)) {
		t.Error("the real mock export is not recognised")
	}
	if sniffTrackerJSON(bytes.NewReader(mustRead(t, debianData(t, "osv.dev-testdata", "DSA-3029-1.json")))) {
		t.Error("an OSV record is taken for the export")
	}
}

// TestImportDebian goes through Import: the export under a name that says
// nothing, the lists as a directory, looked up the way the matcher does.
func TestImportDebian(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(dir, "tracker-mirror.data")
	copyFile(t, debianData(t, "osv.dev-testdata", "debian_security_tracker_mock.json"), export)
	lists := debianData(t, "security-tracker-annotations")
	dbPath := filepath.Join(dir, "vulndb.sqlite")
	st, err := Import(context.Background(), dbPath, []string{export, lists})
	if err != nil {
		t.Fatal(err)
	}
	type srcSum struct {
		Ecosystems        []string
		Records, Bad, Ent int
	}
	var got []srcSum
	for _, s := range st.Sources {
		got = append(got, srcSum{s.Ecosystems, s.Records, s.Malformed, s.Entries})
	}
	want := []srcSum{{[]string{"Debian"}, 2, 0, 2}, {[]string{"Debian"}, 7, 0, 7}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("source stats (-want +got):\n%s", diff)
	}

	db := openT(t, dbPath)
	tests := []struct {
		eco, name string
		want      map[string][]string
	}{
		{"Debian:12", "glibc", map[string][]string{"DEBIAN-CVE-2023-4911": {
			"glibc Debian:11 fixed=2.31-13+deb11u7 urgency=not yet assigned",
			"glibc Debian:12 fixed=2.36-9+deb12u3 urgency=not yet assigned",
		}}},
		{"Debian:12.5", "apt", map[string][]string{"DEBIAN-CVE-2011-3374": {
			"apt Debian:10 fixed=- urgency=unimportant",
			"apt Debian:11 fixed=- urgency=unimportant",
			"apt Debian:12 fixed=- urgency=unimportant",
		}}},
		{"Debian:12", "xz-utils", map[string][]string{}},
		{"Debian:10", "glibc", map[string][]string{}},
		{"Debian:13", "apparmor", map[string][]string{
			"DEBIAN-CVE-2016-1585": {
				"apparmor Debian:10 fixed=- urgency=unimportant", "apparmor Debian:11 fixed=- urgency=unimportant",
				"apparmor Debian:12 fixed=- urgency=unimportant", "apparmor Debian:13 fixed=3.0.12-1 urgency=unimportant",
			},
			"DEBIAN-CVE-2017-6507": {
				"apparmor Debian:10 fixed=2.11.0-3 urgency=not yet assigned", "apparmor Debian:11 fixed=2.11.0-3 urgency=not yet assigned",
				"apparmor Debian:12 fixed=2.11.0-3 urgency=not yet assigned", "apparmor Debian:13 fixed=2.11.0-3 urgency=not yet assigned",
			},
		}},
	}
	for _, tt := range tests {
		advs, err := db.Affecting(context.Background(), tt.eco, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, summarize(advs)); diff != "" {
			t.Errorf("Affecting(%s, %s) (-want +got):\n%s", tt.eco, tt.name, diff)
		}
	}
	status, err := db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(status.Ecosystems) != 1 || status.Ecosystems[0].Ecosystem != "Debian" || status.Ecosystems[0].Records != 9 ||
		status.Ecosystems[0].Source != export+", "+lists {
		t.Errorf("status = %+v", status.Ecosystems)
	}
}

func TestImportDebianErrors(t *testing.T) {
	dir := t.TempDir()
	broken := writeFile(t, dir, "broken.json", []byte(`{"foo":{"CVE-2024-0001":{"releases":{"bookworm":{"status":"open"}}}}`))
	allBad := writeTracker(t, map[string]string{"CVE/a.json": `{"Header":{}}`, "DSA/b.json": `nope`})
	badDist := writeTracker(t, map[string]string{"distributions.json": `{"bookworm":{"major-version":"twelve"}}`, "CVE/CVE-2024-0001.json": entry("CVE-2024-0001", "- foo unfixed - -")})
	// Damaged early, before the shape is known: these used to reach the zip
	// reader and be reported as "not a valid zip file".
	cutEarly := writeFile(t, dir, "cut.json", []byte(`{"foo":{"CVE-2024-0001":{"rele`))
	syntax := writeFile(t, dir, "syntax.json", []byte(`{"foo":{"CVE-2024-0001":{"releases" {}}}}`))
	osvRecord := writeFile(t, dir, "record.json", []byte(`{"id":"GHSA-1","affected":[]}`))
	garbage := writeFile(t, dir, "garbage.bin", []byte("not json, not a zip"))
	tests := []struct {
		name, src, want string
	}{
		{"export cut before the shape shows", cutEarly, "cut.json: malformed JSON: the file ends at byte"},
		{"export with a syntax error", syntax, `syntax.json: malformed JSON at byte 36: invalid character '{' after object key`},
		{"an OSV record file", osvRecord, "record.json: JSON, but not the Debian security tracker's export"},
		{"neither zip nor JSON", garbage, "garbage.bin: neither an OSV export zip nor the Debian security tracker's JSON export"},
		{"truncated export", broken, "broken.json: read Debian tracker JSON at byte"},
		{"only malformed entries", allBad, "no OSV records in " + allBad + " (2 of 2 entries malformed; first: " + filepath.Join(allBad, "tracker", "CVE", "a.json") + ": not a tracker entry: no Header.ID)"},
		{"bad distributions.json", badDist, `bad major-version "twelve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Import(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"), []string{tt.src})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzConvertTrackerJSON(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "vulndata", "debian", "osv.dev-testdata", "debian_security_tracker_mock.json")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		`{}`, `[]`, `{"a":{}}`, `{"a":{"CVE-2024-0001":{"releases":{"bookworm":{"status":"resolved","fixed_version":"0"}}}}}`,
		`{"a":{"CVE-2024-0001":{"releases":{"trixie":{"status":"open","urgency":"high"},"sid":{"status":"resolved","fixed_version":"1"}}}}}`,
		`{"a":{"CVE-2024-0001":null}}`, `{"a":null}`, `{"":{"CVE-1":{}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := defaults()
		cves, err := convertTrackerJSON(bytes.NewReader(data), &cfg, func(string, error) {})
		if err != nil {
			return
		}
		for _, adv := range debianAdvisories(cves, debianNow) {
			if !strings.HasPrefix(adv.ID, "DEBIAN-CVE-") || len(adv.Upstream) != 1 || "DEBIAN-"+adv.Upstream[0] != adv.ID {
				t.Fatalf("bad id %q / upstream %v", adv.ID, adv.Upstream)
			}
			if len(adv.Affected) == 0 {
				t.Fatalf("%s: record without affected entries", adv.ID)
			}
			for _, a := range adv.Affected {
				if !strings.HasPrefix(a.Package.Ecosystem, "Debian:") || !validPackage(a.Package.Name) {
					t.Fatalf("%s: bad package %+v", adv.ID, a.Package)
				}
				ev := a.Ranges[0].Events
				if ev[0].Introduced != "0" || len(ev) > 2 || len(ev) == 2 && !validVersion(ev[1].Fixed) {
					t.Fatalf("%s: bad events %+v", adv.ID, ev)
				}
			}
			// What we emit must survive the import path's own check.
			b, err := json.Marshal(adv)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := decodeAdvisory(b); err != nil {
				t.Fatalf("%s: emitted record rejected: %v", adv.ID, err)
			}
		}
	})
}
