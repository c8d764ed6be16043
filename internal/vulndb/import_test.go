package vulndb

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestImportRealSets(t *testing.T) {
	start := time.Now()
	path := realDB(t)
	t.Logf("imported %v in %v", realSets, time.Since(start))
	db := openT(t, path)
	st, err := db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range st.Ecosystems {
		got[e.Ecosystem] = e.Records
	}
	readme := readmeCounts(t)
	want := map[string]int{}
	for _, eco := range realSets {
		c := zipCensus(t, realZip(t, eco))
		if c.entries != readme[eco] {
			t.Errorf("%s: zip holds %d records, README says %d", eco, c.entries, readme[eco])
		}
		if c.indexable != c.entries-c.withdrawn {
			t.Errorf("%s: %d live records name no package; expected count needs revisiting", eco, c.entries-c.withdrawn-c.indexable)
		}
		want[eco] = readme[eco] - c.withdrawn
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records per ecosystem (-want +got):\n%s", diff)
	}
	for _, e := range st.Ecosystems {
		if e.Source != realZip(t, e.Ecosystem) {
			t.Errorf("%s: source %q", e.Ecosystem, e.Source)
		}
		if e.UpdatedAt.IsZero() {
			t.Errorf("%s: no update time", e.Ecosystem)
		}
		if e.Ecosystem != "Go" && e.NewestModified.Before(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: newest modified %v", e.Ecosystem, e.NewestModified)
		}
	}
}

func TestAffectingRealSets(t *testing.T) {
	db := openT(t, realDB(t))
	tests := []struct {
		eco, name string
		want      []string // must be among the results
		none      bool
	}{
		{eco: "Go", name: "golang.org/x/text", want: []string{"GO-2021-0113"}},
		{eco: "Go", name: "golang.org/x/Text", none: true}, // Go paths are exact
		{eco: "PyPI", name: "flask-cors", want: []string{"PYSEC-2020-43", "PYSEC-2024-71"}},
		{eco: "PyPI", name: "Flask_CORS", want: []string{"PYSEC-2020-43", "PYSEC-2024-71"}},
		{eco: "PyPI", name: "flask.cors", want: []string{"PYSEC-2020-43"}},
		{eco: "pypi", name: "Flask-Cors", want: []string{"PYSEC-2020-43"}},
		{eco: "crates.io", name: "smallvec", want: []string{"RUSTSEC-2019-0009", "RUSTSEC-2021-0003"}},
		{eco: "AlmaLinux:9", name: "openssh", want: []string{"ALSA-2023:2645"}},
		{eco: "AlmaLinux:8", name: "openssh", want: []string{"ALSA-2022:2013"}},
		{eco: "AlmaLinux", name: "openssh", none: true}, // no release-less entries
		{eco: "npm", name: "smallvec", none: true},
		{eco: "Go", name: "", none: true},
	}
	for _, tt := range tests {
		t.Run(tt.eco+"/"+tt.name, func(t *testing.T) {
			advs, err := db.Affecting(context.Background(), tt.eco, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(advs)
			if tt.none && len(got) > 0 {
				t.Fatalf("got %v, want none", got)
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("%s missing from %v", w, got)
				}
			}
			if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Errorf("results not sorted and distinct: %v", got)
			}
			for _, a := range advs {
				if !namesPackage(a, tt.eco, tt.name) {
					t.Errorf("%s names no %s %s", a.ID, tt.eco, tt.name)
				}
			}
		})
	}
}

// namesPackage checks a result really concerns the package asked for.
func namesPackage(a *Advisory, eco, name string) bool {
	for _, af := range a.Affected {
		for _, e := range lookupEcosystems(eco) {
			if af.Package.Ecosystem == e && normalizeName(e, af.Package.Name) == normalizeName(e, name) {
				return true
			}
		}
	}
	return false
}

func TestAffectingDecodesFullRecord(t *testing.T) {
	db := openT(t, realDB(t))
	advs, err := db.Affecting(context.Background(), "Go", "golang.org/x/text")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(advs, func(a *Advisory) bool { return a.ID == "GO-2021-0113" })
	if i < 0 {
		t.Fatal("GO-2021-0113 missing")
	}
	a := advs[i]
	if !slices.Contains(a.Aliases, "CVE-2021-38561") {
		t.Errorf("aliases %v", a.Aliases)
	}
	var fixed []string
	for _, af := range a.Affected {
		for _, r := range af.Ranges {
			for _, e := range r.Events {
				if e.Fixed != "" {
					fixed = append(fixed, e.Fixed)
				}
			}
		}
	}
	if diff := cmp.Diff([]string{"0.3.7"}, fixed); diff != "" {
		t.Errorf("fixed versions (-want +got):\n%s", diff)
	}
}

// The directory samples mix real OSV records with converter inputs that are
// not OSV; those are reported, the records loaded.
func TestImportDirectories(t *testing.T) {
	vd := vulnData(t)
	tests := []struct {
		dir       string
		records   int
		malformed int
		ecos      []string
		lookups   map[[2]string][]string
	}{
		{
			dir: "debian/osv.dev-testdata", records: 1, malformed: 3, ecos: []string{"Debian"},
			lookups: map[[2]string][]string{
				{"Debian:7", "nginx"}:    {"DSA-3029-1"},
				{"Debian:7.11", "nginx"}: {"DSA-3029-1"}, // point release
				{"Debian:12", "nginx"}:   nil,
			},
		},
		{
			dir: "alpine/osv.dev-testdata", records: 2, malformed: 11, ecos: []string{"Alpine"},
			lookups: map[[2]string][]string{
				{"Alpine:v3.12", "libexif"}:  {"CVE-2012-2812"},
				{"Alpine:3.12.4", "libexif"}: {"CVE-2012-2812"},
			},
		},
		{
			dir: "ubuntu", records: 2, ecos: []string{"Ubuntu"},
			lookups: map[[2]string][]string{
				{"Ubuntu:22.04:LTS", "openssh"}:   {"USN-6859-1"},
				{"Ubuntu:22.04", "openssh"}:       {"USN-6859-1"},
				{"Ubuntu:Pro:14.04:LTS", "linux"}: {"UBUNTU-CVE-2025-38094"},
				{"Ubuntu:14.04:LTS", "linux"}:     nil, // Pro only
			},
		},
		{
			dir: "ghsa-sample", records: 3, ecos: []string{"Maven", "npm"},
			lookups: map[[2]string][]string{
				{"npm", "semver"}:                   {"GHSA-c2qf-rxjj-qqgw"},
				{"npm", "tough-cookie"}:             {"GHSA-72xf-g2v4-qvf3"},
				{"Maven", "com.google.guava:guava"}: {"GHSA-7g45-4rm6-3mm3"},
			},
		},
	}
	path := filepath.Join(t.TempDir(), "db.sqlite")
	var all []string
	for _, tt := range tests {
		all = append(all, filepath.Join(vd, tt.dir))
	}
	st, err := Import(context.Background(), path, all)
	if err != nil {
		t.Fatal(err)
	}
	db := openT(t, path)
	for i, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			s := st.Sources[i]
			got := struct {
				Records, Malformed int
				Ecos               []string
			}{s.Records, s.Malformed, s.Ecosystems}
			want := struct {
				Records, Malformed int
				Ecos               []string
			}{tt.records, tt.malformed, tt.ecos}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stats (-want +got):\n%s\nerrors: %v", diff, s.Errors)
			}
			if len(s.Errors) != s.Malformed {
				t.Errorf("%d errors listed for %d malformed", len(s.Errors), s.Malformed)
			}
			for k, want := range tt.lookups {
				advs, err := db.Affecting(context.Background(), k[0], k[1])
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, ids(advs)); diff != "" {
					t.Errorf("Affecting(%q, %q) (-want +got):\n%s", k[0], k[1], diff)
				}
			}
		})
	}
}
