package vulndb

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPEP503(t *testing.T) {
	for in, want := range map[string]string{
		"Django":              "django",
		"Flask_Cors":          "flask-cors",
		"zope.interface":      "zope-interface",
		"Foo__Bar.-_baz":      "foo-bar-baz",
		"-leading":            "-leading",
		"trailing_":           "trailing-",
		"already-normal":      "already-normal",
		"ÜnicodeStaysÜnicode": "ünicodestaysünicode", // str.lower() folds Unicode too
	} {
		if got := pep503(in); got != want {
			t.Errorf("pep503(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeNameOnlyPyPI(t *testing.T) {
	for _, tt := range []struct{ eco, in, want string }{
		{"PyPI", "Flask_Cors", "flask-cors"},
		{"npm", "Flask_Cors", "Flask_Cors"},
		{"Go", "github.com/Foo/bar", "github.com/Foo/bar"},
		{"Maven", "com.google.guava:guava", "com.google.guava:guava"},
	} {
		if got := normalizeName(tt.eco, tt.in); got != tt.want {
			t.Errorf("normalizeName(%q, %q) = %q, want %q", tt.eco, tt.in, got, tt.want)
		}
	}
}

func TestLookupEcosystems(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"Go", []string{"Go"}},
		{"pypi", []string{"pypi", "PyPI"}},
		{"Debian:12", []string{"Debian:12", "Debian"}},
		{"Debian:12.5", []string{"Debian:12.5", "Debian:12", "Debian"}},
		{"debian:12", []string{"debian:12", "Debian:12", "Debian"}},
		{"Alpine:v3.20", []string{"Alpine:v3.20", "Alpine"}},
		{"Alpine:3.20.3", []string{"Alpine:3.20.3", "Alpine:v3.20", "Alpine"}},
		{"Ubuntu:22.04:LTS", []string{"Ubuntu:22.04:LTS", "Ubuntu"}},
		{"Ubuntu:22.04", []string{"Ubuntu:22.04", "Ubuntu:22.04:LTS", "Ubuntu"}},
		{"Ubuntu:Pro:18.04", []string{"Ubuntu:Pro:18.04", "Ubuntu:Pro:18.04:LTS", "Ubuntu"}},
		{"Red Hat:enterprise_linux:9::appstream", []string{"Red Hat:enterprise_linux:9::appstream", "Red Hat"}},
		{"Maven:https://repo.example.com/", []string{"Maven:https://repo.example.com/", "Maven"}},
	} {
		if diff := cmp.Diff(tt.want, lookupEcosystems(tt.in)); diff != "" {
			t.Errorf("lookupEcosystems(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestTopLevel(t *testing.T) {
	for in, want := range map[string]string{
		"Debian:12": "Debian", "Ubuntu:Pro:22.04:LTS": "Ubuntu", "Go": "Go", "Red Hat:rhel": "Red Hat", "": "",
	} {
		if got := topLevel(in); got != want {
			t.Errorf("topLevel(%q) = %q, want %q", in, got, want)
		}
	}
}

// Two writers at once are serialised by the lock; neither loses the
// other's ecosystem.
func TestConcurrentImports(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	srcs := []string{filepath.Join("testdata", "go-small"), realZip(t, "crates.io"), filepath.Join("testdata", "mixed")}
	var wg sync.WaitGroup
	errs := make([]error, len(srcs))
	for i, s := range srcs {
		wg.Go(func() { _, errs[i] = Import(ctx, path, []string{s}) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db := openT(t, path)
	st, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range st.Ecosystems {
		got = append(got, e.Ecosystem)
	}
	if diff := cmp.Diff([]string{"Go", "PyPI", "crates.io", "npm"}, got); diff != "" {
		t.Errorf("ecosystems (-want +got):\n%s", diff)
	}
}
