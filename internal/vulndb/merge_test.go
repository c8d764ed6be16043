package vulndb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestImportMixedDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	st, err := Import(context.Background(), path, []string{filepath.Join("testdata", "mixed")})
	if err != nil {
		t.Fatal(err)
	}
	s := st.Sources[0]
	var errEntries []string
	for _, e := range s.Errors {
		errEntries = append(errEntries, filepath.Base(e.Entry))
	}
	s.Errors = nil
	want := SourceStats{
		Source: filepath.Join("testdata", "mixed"), Ecosystems: []string{"PyPI", "npm"},
		Entries: 6, Records: 2, Withdrawn: 1, NoPackages: 1, Malformed: 2,
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"broken.json", "converter-part.json"}, errEntries); diff != "" {
		t.Errorf("reported entries (-want +got):\n%s", diff)
	}

	db := openT(t, path)
	for _, tt := range []struct {
		eco, name string
		want      []string
	}{
		{"PyPI", "zope-interface-extra", []string{"TEST-2024-0001"}},
		{"PyPI", "ZOPE_interface.extra", []string{"TEST-2024-0001"}},
		{"PyPI", "Zope.Interface_Extra", []string{"TEST-2024-0001"}},
		{"PyPI", "withdrawn-pkg", nil},
		{"PyPI", "both-sides", []string{"TEST-2024-0003"}},
		{"npm", "both-sides", []string{"TEST-2024-0003"}},
		{"npm", "Both-Sides", nil}, // npm names are exact
	} {
		advs, err := db.Affecting(context.Background(), tt.eco, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, ids(advs)); diff != "" {
			t.Errorf("Affecting(%q, %q) (-want +got):\n%s", tt.eco, tt.name, diff)
		}
	}
	advs, _ := db.Affecting(context.Background(), "PyPI", "zope-interface-extra")
	if got := advs[0].Affected[0].Package.Name; got != "Zope.Interface_Extra" {
		t.Errorf("stored record should keep the original name, got %q", got)
	}
	status, err := db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var newest []string
	for _, e := range status.Ecosystems {
		newest = append(newest, e.Ecosystem+" "+e.NewestModified.Format("2006-01-02T15:04:05.0Z"))
	}
	if diff := cmp.Diff([]string{"PyPI 2024-06-01T10:00:00.5Z", "npm 2024-06-01T10:00:00.5Z"}, newest); diff != "" {
		t.Errorf("newest modified (-want +got):\n%s", diff)
	}
}

// Each load replaces the ecosystems it holds and keeps the others.
func TestImportMerges(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite")
	counts := func() map[string]int {
		t.Helper()
		db := openT(t, path)
		st, err := db.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, e := range st.Ecosystems {
			m[e.Ecosystem] = e.Records
		}
		return m
	}
	goFull := zipCensus(t, realZip(t, "Go"))
	crates := zipCensus(t, realZip(t, "crates.io"))
	goLive, cratesLive := goFull.entries-goFull.withdrawn, crates.entries-crates.withdrawn

	if _, err := Import(ctx, path, []string{realZip(t, "Go")}); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(ctx, path, []string{realZip(t, "crates.io")}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"Go": goLive, "crates.io": cratesLive}, counts()); diff != "" {
		t.Errorf("after two imports (-want +got):\n%s", diff)
	}

	// A small Go export replaces all of Go, and only Go.
	small := writeZip(t, filepath.Join(dir, "small.zip"), dirEntries(t, filepath.Join("testdata", "go-small")))
	st, err := Import(ctx, path, []string{small})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Go"}, st.Sources[0].Ecosystems); diff != "" {
		t.Errorf("scope (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"Go": 2, "crates.io": cratesLive}, counts()); diff != "" {
		t.Errorf("after replacing Go (-want +got):\n%s", diff)
	}
	db := openT(t, path)
	advs, err := db.Affecting(ctx, "Go", "golang.org/x/text")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"GO-2099-0002"}, ids(advs)); diff != "" {
		t.Errorf("old Go records must be gone (-want +got):\n%s", diff)
	}
	if advs, _ := db.Affecting(ctx, "crates.io", "smallvec"); len(advs) == 0 {
		t.Error("crates.io records lost")
	}
	if got := leftovers(t, dir); len(got) > 0 {
		t.Errorf("temporary files left: %v", got)
	}
}

// A record cross-listed in a second ecosystem sits in both exports; an
// export zip must replace only its own ecosystem.
func TestZipReplacesOnlyItsEcosystem(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite")
	npmRec := func(id, name string) zipEntry {
		return zipEntry{id + ".json", fmt.Appendf(nil, `{"id":%q,"modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":%q}}]}`, id, name)}
	}
	cross := zipEntry{"X-1.json", []byte(`{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[
		{"package":{"ecosystem":"npm","name":"shared"}},{"package":{"ecosystem":"PyPI","name":"shared"}}]}`)}
	pyRec := zipEntry{"P-1.json", []byte(`{"id":"P-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"solo"}}]}`)}
	npmZip := writeZip(t, filepath.Join(dir, "npm.zip"), []zipEntry{npmRec("N-1", "left-pad"), npmRec("N-2", "lodash"), cross})
	pyZip := writeZip(t, filepath.Join(dir, "pypi.zip"), []zipEntry{pyRec, cross})
	if _, err := Import(ctx, path, []string{npmZip}); err != nil {
		t.Fatal(err)
	}
	st, err := Import(ctx, path, []string{pyZip})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"PyPI"}, st.Sources[0].Ecosystems); diff != "" {
		t.Errorf("scope (-want +got):\n%s", diff)
	}
	db := openT(t, path)
	for _, q := range [][3]string{{"npm", "left-pad", "N-1"}, {"npm", "shared", "X-1"}, {"PyPI", "shared", "X-1"}, {"PyPI", "solo", "P-1"}} {
		advs, err := db.Affecting(ctx, q[0], q[1])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{q[2]}, ids(advs)); diff != "" {
			t.Errorf("Affecting(%q, %q) (-want +got):\n%s", q[0], q[1], diff)
		}
	}
	status, _ := db.Status(ctx)
	got := map[string]int{}
	for _, e := range status.Ecosystems {
		got[e.Ecosystem] = e.Records
	}
	if diff := cmp.Diff(map[string]int{"npm": 3, "PyPI": 2}, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// Bad archives fail the import with a clear error and leave the database
// as it was.
func TestImportBadZips(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite")
	if _, err := Import(ctx, path, []string{filepath.Join("testdata", "go-small")}); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, path)
	good := dirEntries(t, filepath.Join("testdata", "go-small"))
	goodZip := writeZip(t, filepath.Join(dir, "good.zip"), good)
	goodBytes := mustRead(t, goodZip)

	bigRecord := fmt.Appendf(nil, `{"id":"BIG","affected":[{"package":{"ecosystem":"Go","name":"x"}}],"details":%q}`, strings.Repeat("A", 300<<10))
	var many []zipEntry
	for i := range 8 {
		many = append(many, zipEntry{fmt.Sprintf("BIG-%d.json", i), bigRecord})
	}
	var halfGarbage []zipEntry
	for i := range 10 {
		halfGarbage = append(halfGarbage, good[i%2], zipEntry{fmt.Sprintf("g%d.json", i), []byte("<html>oops</html>")})
	}

	tests := []struct {
		name    string
		file    func() string
		opts    []Option
		wantErr string
		wantIs  error
	}{
		{name: "truncated zip", file: func() string { return writeFile(t, dir, "trunc.zip", goodBytes[:len(goodBytes)*2/3]) }, wantErr: "zip"},
		{name: "not a zip", file: func() string { return writeFile(t, dir, "html.zip", []byte("<!DOCTYPE html><title>500</title>")) }, wantErr: "zip"},
		{name: "empty zip", file: func() string { return writeZip(t, filepath.Join(dir, "empty.zip"), nil) }, wantErr: "no OSV records"},
		{name: "only garbage", file: func() string {
			return writeZip(t, filepath.Join(dir, "garbage.zip"), []zipEntry{{"a.json", []byte("\x00\x01garbage")}, {"b.txt", []byte("x")}})
		}, wantErr: "no OSV records"},
		{name: "half garbage", file: func() string { return writeZip(t, filepath.Join(dir, "half.zip"), halfGarbage) }, wantErr: "looks damaged"},
		{name: "entry over record cap", file: func() string {
			return writeZip(t, filepath.Join(dir, "bomb1.zip"), []zipEntry{{"BOMB.json", bytes.Repeat([]byte(" "), 4<<20)}})
		}, opts: []Option{WithMaxRecordBytes(1 << 20)}, wantErr: "record cap"},
		{name: "many entries over total cap", file: func() string { return writeZip(t, filepath.Join(dir, "bomb2.zip"), many) },
			opts: []Option{WithMaxUncompressedBytes(1 << 20)}, wantIs: errSourceTooBig},
		{name: "lying entry size", file: func() string { return lyingZip(t, filepath.Join(dir, "liar.zip")) }, wantErr: "zip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Import(ctx, path, []string{tt.file()}, tt.opts...)
			if err == nil {
				t.Fatal("Import succeeded")
			}
			t.Logf("error: %v", err)
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			if stateOf(t, path) != before {
				t.Error("database changed")
			}
			if got := leftovers(t, dir); len(got) > 0 {
				t.Errorf("temporary files left: %v", got)
			}
		})
	}
	// And the untouched database still answers.
	db := openT(t, path)
	advs, err := db.Affecting(ctx, "Go", "example.com/small")
	if err != nil || len(advs) != 1 {
		t.Fatalf("after failed imports: %v %v", ids(advs), err)
	}
}

func TestImportNoSources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	for _, srcs := range [][]string{nil, {filepath.Join("testdata", "does-not-exist")}, {t.TempDir()}} {
		if _, err := Import(context.Background(), path, srcs); err == nil {
			t.Errorf("Import(%v) succeeded", srcs)
		}
	}
	if _, err := Open(context.Background(), path); !errors.Is(err, ErrNotFound) {
		t.Errorf("failed imports created a database: %v", err)
	}
}

func TestStatusSorted(t *testing.T) {
	db := openT(t, realDB(t))
	st, err := db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(st.Ecosystems))
	for _, e := range st.Ecosystems {
		names = append(names, e.Ecosystem)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(realSets)), names, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ecosystems (-want +got):\n%s", diff)
	}
	if st.SchemaVersion != SchemaVersion {
		t.Errorf("schema %d", st.SchemaVersion)
	}
}

// A writer killed mid-build leaves its temporary files; the next writer
// removes them under the lock, and the database it left is still used.
func TestInterruptedWriterLeftovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite")
	if _, err := Import(ctx, path, []string{filepath.Join("testdata", "go-small")}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, ".db.sqlite.tmp-123", []byte("half-built"))
	writeFile(t, dir, ".db.sqlite.download-456", []byte("half-downloaded"))
	writeFile(t, dir, "unrelated.txt", []byte("not ours"))
	if _, err := Import(ctx, path, []string{filepath.Join("testdata", "mixed")}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"unrelated.txt"}, leftovers(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	db := openT(t, path)
	if advs, err := db.Affecting(ctx, "Go", "example.com/small"); err != nil || len(advs) != 1 {
		t.Errorf("Go kept: %v %v", ids(advs), err)
	}
}
