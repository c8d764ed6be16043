package vulndb

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"reflect"
	"slices"
	"testing"
)

// TestRecordRoundTrip stores every real record in the binary form and reads
// it back: the result must equal what decoding the JSON gives, nil versus
// empty slices and maps included, since that is what Affecting returned
// when the store kept the JSON.
func TestRecordRoundTrip(t *testing.T) {
	var jsonBytes, recBytes int
	for _, set := range realSets {
		zr, err := zip.OpenReader(realZip(t, set))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			want, err := decodeAdvisory(data)
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			rec, err := encodeRecord(want)
			if err != nil {
				t.Fatalf("%s: encode: %v", f.Name, err)
			}
			got, err := decodeRecord(rec)
			if err != nil {
				t.Fatalf("%s: decode: %v", f.Name, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: round trip differs:\n got %+v\nwant %+v", f.Name, got, want)
			}
			jsonBytes += len(data)
			recBytes += len(rec)
		}
		zr.Close()
	}
	t.Logf("JSON %d bytes, records %d bytes", jsonBytes, recBytes)
}

// TestRecordEdgeCases covers what the real sets lack: nil versus empty
// everywhere, nested JSON values, several event fields in one event, a
// withdrawn time and a non-UTC offset.
func TestRecordEdgeCases(t *testing.T) {
	for _, js := range []string{
		`{"id":"X-1","modified":"2024-01-02T03:04:05.123456789+02:00"}`,
		`{"id":"X-2","modified":"2024-01-02T03:04:05Z","withdrawn":"2024-02-02T00:00:00Z","aliases":[],"upstream":[],"related":[],"severity":[],"affected":[],"references":[],"database_specific":{}}`,
		`{"id":"X-3","modified":"2024-01-02T03:04:05Z","affected":[{"package":{"ecosystem":"npm","name":"a","purl":"pkg:npm/a"},"severity":[],"ranges":[{"type":"SEMVER","repo":"r","events":[]},{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"1"},{"limit":"*"}]}],"versions":[],"ecosystem_specific":{},"database_specific":{"a":[1.5,-0,1e300,true,false,null,"s",{"k":[[]],"":{}}],"n":null}},{"package":{"ecosystem":"","name":""}}],"database_specific":{"severity":"HIGH","cwe_ids":["CWE-79"],"nested":{"x":{"y":[{"z":2}]}}}}`,
	} {
		var want Advisory
		if err := json.Unmarshal([]byte(js), &want); err != nil {
			t.Fatal(err)
		}
		rec, err := encodeRecord(&want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("%s:\n got %#v\nwant %#v", js, got, &want)
		}
		// Every truncation is an error, never a panic or a short record.
		for i := range rec {
			if _, err := decodeRecord(rec[:i]); err == nil {
				t.Errorf("%s: decoding %d of %d bytes succeeded", want.ID, i, len(rec))
			}
		}
	}
}

// TestAffectingMany checks the batch lookup against one lookup per name.
func TestAffectingMany(t *testing.T) {
	db := openT(t, realDB(t))
	ctx := context.Background()
	for eco, names := range map[string][]string{
		"PyPI":        {"Django", "django", "requests", "Pillow", "no-such-package"},
		"AlmaLinux:9": {"kernel", "kernel-headers", "openssl", "openssl-libs", "bpftool"},
		"Go":          {"stdlib", "golang.org/x/net"},
		"crates.io":   {},
	} {
		got, err := db.AffectingMany(ctx, eco, names)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			want, err := db.Affecting(ctx, eco, n)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[n], want) {
				t.Errorf("%s %s: AffectingMany gave %v, Affecting %v", eco, n, ids(got[n]), ids(want))
			}
			if _, ok := got[n]; ok != (len(want) > 0) {
				t.Errorf("%s %s: present in the result = %v with %d advisories", eco, n, ok, len(want))
			}
		}
		for n := range got {
			if !slices.Contains(names, n) {
				t.Errorf("%s: result has %q, not asked for", eco, n)
			}
		}
	}
	// Shared advisories are decoded once.
	m, err := db.AffectingMany(ctx, "AlmaLinux:9", []string{"kernel", "kernel-headers"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m["kernel"]) == 0 || len(m["kernel-headers"]) == 0 {
		t.Fatalf("kernel: %d, kernel-headers: %d advisories", len(m["kernel"]), len(m["kernel-headers"]))
	}
	shared := 0
	for _, a := range m["kernel"] {
		if slices.Contains(m["kernel-headers"], a) {
			shared++
		}
	}
	if shared == 0 {
		t.Errorf("kernel and kernel-headers share no advisory value")
	}
}

// TestAffectingManyTrimmed checks the matcher's lookup against the full
// one: the same advisories in the same order, each equal to the full
// advisory with References dropped and Affected cut to the entries naming
// one of the names, in their order.
func TestAffectingManyTrimmed(t *testing.T) {
	db := openT(t, realDB(t))
	ctx := context.Background()
	for eco, names := range map[string][]string{
		"PyPI":        {"Django", "django", "requests", "Pillow", "Jinja2", "no-such-package"},
		"AlmaLinux:9": {"kernel", "kernel-headers", "openssl", "openssl-libs", "bpftool"},
		"Go":          {"stdlib", "golang.org/x/net"},
		"crates.io":   {"tokio", "openssl"},
	} {
		full, err := db.AffectingMany(ctx, eco, names)
		if err != nil {
			t.Fatal(err)
		}
		trimmed, err := db.AffectingManyTrimmed(ctx, eco, names)
		if err != nil {
			t.Fatal(err)
		}
		if len(full) != len(trimmed) {
			t.Fatalf("%s: %d names with advisories, trimmed %d", eco, len(full), len(trimmed))
		}
		norms := map[string]bool{}
		for _, n := range names {
			norms[normalizeName(eco, n)] = true
		}
		entries := 0
		for n, advs := range full {
			got := trimmed[n]
			if len(got) != len(advs) {
				t.Fatalf("%s %s: %d advisories, trimmed %d", eco, n, len(advs), len(got))
			}
			for i, a := range advs {
				want := *a
				want.References = nil
				want.Affected = nil
				if a.Affected != nil {
					want.Affected = []Affected{}
				}
				for _, af := range a.Affected {
					if norms[normalizeName(eco, af.Package.Name)] {
						want.Affected = append(want.Affected, af)
					}
				}
				entries += len(want.Affected)
				if !reflect.DeepEqual(got[i], &want) {
					t.Errorf("%s %s: trimmed %s differs from the full record cut down", eco, n, a.ID)
				}
			}
		}
		if entries == 0 {
			t.Errorf("%s: no affected entries kept", eco)
		}
	}
}
