package version

import (
	"archive/zip"
	"encoding/json"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	pep440 "github.com/aquasecurity/go-pep440-version"

	"github.com/drydock/drydock/internal/testenv"
)

// libCompare is the oracle: go-pep440-version's own order, or false when
// it does not parse both (or our syntax guard rejects one).
func libCompare(a, b string) (int, bool) {
	if !plainText(a) || !plainText(b) {
		return 0, false
	}
	pa, err := pep440.Parse(a)
	if err != nil {
		return 0, false
	}
	pb, err := pep440.Parse(b)
	if err != nil {
		return 0, false
	}
	return sign(pa.Compare(pb)), true
}

// checkPEP440Pair fails when PEP440.Compare (keys), the memo, or Valid
// disagree with the library on a and b.
func checkPEP440Pair(t *testing.T, m Comparer, a, b string) {
	t.Helper()
	want, ok := libCompare(a, b)
	got, err := PEP440{}.Compare(a, b)
	if ok != (err == nil) {
		t.Fatalf("Compare(%q, %q): error %v, library parses both: %v", a, b, err, ok)
	}
	if !ok {
		return
	}
	// The canonical fast path reads the same key the library's parse gives.
	for _, v := range []string{a, b} {
		if k, fast := canonicalKey(v); fast {
			if lk := keyOf(pep440.MustParse(v)); k.compare(lk) != 0 || lk.compare(k) != 0 {
				t.Fatalf("canonicalKey(%q) = %+v, library key %+v", v, k, lk)
			}
		}
	}
	if got != want {
		t.Fatalf("Compare(%q, %q) = %d, library says %d", a, b, got, want)
	}
	if got, err := m.Compare(a, b); err != nil || got != want {
		t.Fatalf("memo Compare(%q, %q) = %d, %v; library says %d", a, b, got, err, want)
	}
}

// pypiVersions returns every distinct version string the real PyPI export
// names (range events and enumerated versions), sorted.
func pypiVersions(t *testing.T) []string { return osvVersions(t, "PyPI") }

// osvVersions returns every distinct version string of the real OSV export
// of ecosystem (range events and enumerated versions), sorted.
func osvVersions(t *testing.T, ecosystem string) []string {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join(testenv.VulnData(t), "osv-bucket-layout", ecosystem, "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	type rec struct {
		Affected []struct {
			Ranges []struct {
				Events []map[string]string `json:"events"`
			} `json:"ranges"`
			Versions []string `json:"versions"`
		} `json:"affected"`
	}
	set := map[string]bool{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var r rec
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for _, a := range r.Affected {
			for _, v := range a.Versions {
				set[v] = true
			}
			for _, rg := range a.Ranges {
				for _, e := range rg.Events {
					for _, v := range e {
						set[v] = true
					}
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// TestPEP440KeyRealPyPI holds our PEP 440 order equal to the library's over
// every version string of the real PyPI export: each against its
// neighbours in the library's order (where the close calls are) and against
// a deterministic random sample of the others.
func TestPEP440KeyRealPyPI(t *testing.T) {
	vs := pypiVersions(t)
	if len(vs) < 1000 {
		t.Fatalf("only %d PyPI versions", len(vs))
	}
	m := Memo(PEP440{})
	var valid []string
	for _, v := range vs {
		if _, ok := libCompare(v, v); ok {
			valid = append(valid, v)
		} else if m.Valid(v) || (PEP440{}).Valid(v) {
			t.Fatalf("Valid(%q), library does not parse it", v)
		}
	}
	t.Logf("%d distinct versions, %d parse", len(vs), len(valid))
	parsed := make(map[string]pep440.Version, len(valid))
	for _, v := range valid {
		parsed[v] = pep440.MustParse(v)
	}
	byLib := slices.Clone(valid)
	slices.SortStableFunc(byLib, func(a, b string) int { return parsed[a].Compare(parsed[b]) })
	for i := 1; i < len(byLib); i++ {
		for j := max(0, i-3); j < i; j++ {
			checkPEP440Pair(t, m, byLib[i], byLib[j])
			checkPEP440Pair(t, m, byLib[j], byLib[i])
		}
	}
	rnd := rand.New(rand.NewPCG(440, 1))
	for _, a := range vs {
		for range 8 {
			checkPEP440Pair(t, m, a, vs[rnd.IntN(len(vs))])
		}
	}
	// Sorting by our order gives the library's order (ties aside).
	byKey := slices.Clone(valid)
	slices.SortStableFunc(byKey, func(a, b string) int { c, _ := m.Compare(a, b); return c })
	for i := range byKey {
		if c := parsed[byKey[i]].Compare(parsed[byLib[i]]); c != 0 {
			t.Fatalf("position %d: our order has %q, the library's %q", i, byKey[i], byLib[i])
		}
	}
}

// FuzzPEP440Differential: wherever the library parses both strings, our
// order equals its order; and we accept exactly what it accepts.
func FuzzPEP440Differential(f *testing.F) {
	for _, s := range []string{
		"1.0", "1.0.0", "v1.0", "1!1.0", "1.0a1", "1.0b2", "1.0rc1", "1.0c1", "1.0pre1", "1.0preview",
		"1.0.post1", "1.0-1", "1.0r", "1.0rev2", "1.0.dev1", "1.0dev", "1.0a1.dev1", "1.0.post1.dev1",
		"1.0+local", "1.0+1.abc", "1.0+abc.1", "1.0+abc-def", "1.0+abc_def", "1.0+01", "1.0+99999999999999999999",
		"0", "0.0", "00.1", "1.0A1", "1.0.POST1", "1.0+LOCAL", "99999999999999999999", "1.0a",
		"1.0-a.1", "1.0_rc_1", "2!0", "1.0.0.0.1",
	} {
		f.Add(s, "1.0")
		f.Add(s, "1.0+abc.5")
		f.Add("1.0.dev0", s)
	}
	m := Memo(PEP440{})
	f.Fuzz(func(t *testing.T, a, b string) {
		checkPEP440Pair(t, m, a, b)
		checkPEP440Pair(t, m, b, a)
		checkPEP440Pair(t, m, a, a)
	})
}
