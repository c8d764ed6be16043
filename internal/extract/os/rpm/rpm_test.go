package rpm

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	rpmdb "github.com/erikvarga/go-rpmdb/pkg"
	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/testenv"
)

// fixtures are the real rpm databases under vulndata/fixtures/rpm, with the
// package counts read from them by rpm's own format rules (and confirmed by
// go-rpmdb in TestMatchesGoRPMDB).
var fixtures = []struct {
	name, path string
	count      int
}{
	{"cbl-mariner-2.0 sqlite", "cbl-mariner-2.0/var/lib/rpm/rpmdb.sqlite", 129},
	{"sle15-bci ndb", "sle15-bci/var/lib/rpm/Packages.db", 35},
	{"libuuid bdb", "libuuid/var/lib/rpm/Packages", 1},
	{"syft-coverage bdb", "syft-coverage/var/lib/rpm/Packages", 1},
}

func fixturePath(t testing.TB, rel string) string {
	t.Helper()
	return testenv.Fixture(t, append([]string{"rpm"}, strings.Split(rel, "/")...)...)
}

func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixturePath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func input(t testing.TB, p string, b []byte) *extract.Input {
	return &extract.Input{Path: p, Reader: bytes.NewReader(b), Size: int64(len(b)), TempDir: t.TempDir()}
}

func extractFile(t testing.TB, rel string) ([]inventory.Package, error) {
	t.Helper()
	b := readFixture(t, rel)
	return (&Extractor{}).Extract(context.Background(), input(t, "var/lib/rpm/"+filepath.Base(rel), b))
}

func TestRequired(t *testing.T) {
	for p, want := range map[string]bool{
		"var/lib/rpm/Packages":              true,
		"var/lib/rpm/Packages.db":           true,
		"var/lib/rpm/rpmdb.sqlite":          true,
		"usr/lib/sysimage/rpm/Packages":     true,
		"usr/lib/sysimage/rpm/Packages.db":  true,
		"usr/lib/sysimage/rpm/rpmdb.sqlite": true,
		"var/lib/rpm/Name":                  false,
		"var/lib/rpm/rpmdb.sqlite-wal":      false,
		"var/lib/rpm/sub/Packages":          false,
		"/var/lib/rpm/Packages":             false,
		"usr/lib/rpm/Packages":              false,
		"var/lib/rpm/":                      false,
	} {
		if got := (&Extractor{}).Required(p, nil); got != want {
			t.Errorf("Required(%q) = %v, want %v", p, got, want)
		}
	}
}

func rpmPkg(name, version string, epoch int, arch, src, srcVer, license string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Epoch: epoch, Type: inventory.TypeRPM, Arch: arch,
		SourceName: src, SourceVersion: srcVer, Licenses: []string{license}}
}

func TestExtractFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		// some are packages that must be among the results, as go-rpmdb
		// reads them from the same file.
		some []inventory.Package
	}{
		{"cbl-mariner-2.0/var/lib/rpm/rpmdb.sqlite", []inventory.Package{
			rpmPkg("mariner-release", "2.0-4.cm2", 0, "noarch", "mariner-release", "2.0-4.cm2", "MIT"),
			rpmPkg("openssl-libs", "1.1.1k-7.cm2", 0, "x86_64", "openssl", "1.1.1k-7.cm2", "OpenSSL"),
			rpmPkg("ca-certificates-base", "2.0.0-1.cm2", 1, "noarch", "ca-certificates", "2.0.0-1.cm2", "MPLv2.0"),
			rpmPkg("xz-libs", "5.2.5-1.cm2", 0, "x86_64", "xz", "5.2.5-1.cm2", "GPLv2+ and GPLv3+ and LGPLv2+"),
		}},
		{"sle15-bci/var/lib/rpm/Packages.db", []inventory.Package{
			rpmPkg("libgcc_s1", "11.2.1+git610-1.3.9", 0, "x86_64", "gcc11", "11.2.1+git610-1.3.9", "GPL-3.0-or-later WITH GCC-exception-3.1"),
			rpmPkg("libpcre1", "8.45-20.10.1", 0, "x86_64", "pcre", "8.45-20.10.1", "BSD-3-Clause"),
		}},
		{"libuuid/var/lib/rpm/Packages", []inventory.Package{
			rpmPkg("libuuid", "2.32.1-42.el8_8", 0, "x86_64", "util-linux", "2.32.1-42.el8_8", "BSD"),
		}},
		{"syft-coverage/var/lib/rpm/Packages", []inventory.Package{
			rpmPkg("dive", "0.9.2-1", 0, "x86_64", "dive", "0.9.2-1", "MIT"),
		}},
	}
	for i, tt := range tests {
		t.Run(fixtures[i].name, func(t *testing.T) {
			got, err := extractFile(t, tt.fixture)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if len(got) != fixtures[i].count {
				t.Errorf("got %d packages, want %d", len(got), fixtures[i].count)
			}
			byName := map[string]inventory.Package{}
			for _, p := range got {
				byName[p.Name] = p
			}
			for _, want := range tt.some {
				if diff := cmp.Diff(want, byName[want.Name]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", want.Name, diff)
				}
			}
		})
	}
}

// TestMatchesGoRPMDB holds our reader to go-rpmdb's on every real fixture:
// same packages, same fields.
func TestMatchesGoRPMDB(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			db, err := rpmdb.Open(fixturePath(t, fx.path))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ref, err := db.ListPackages()
			if err != nil {
				t.Fatal(err)
			}
			var want []inventory.Package
			for _, p := range ref {
				if p.Name == "gpg-pubkey" {
					continue
				}
				sn, sv := parseSourceRPM(p.SourceRpm)
				want = append(want, inventory.Package{
					Name: p.Name, Version: p.Version + "-" + p.Release, Epoch: p.EpochNum(), Arch: p.Arch,
					Type: inventory.TypeRPM, SourceName: sn, SourceVersion: sv, Licenses: []string{p.License},
				})
			}
			got, err := extractFile(t, fx.path)
			if err != nil {
				t.Fatal(err)
			}
			sortPkgs(want)
			sortPkgs(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("differs from go-rpmdb (-want +got):\n%s", diff)
			}
		})
	}
}

func sortPkgs(p []inventory.Package) {
	sort.Slice(p, func(i, j int) bool { return p[i].Name+"\x00"+p[i].Version < p[j].Name+"\x00"+p[j].Version })
}

func TestParseSourceRPM(t *testing.T) {
	tests := []struct{ in, name, version string }{
		{"util-linux-2.32.1-42.el8_8.src.rpm", "util-linux", "2.32.1-42.el8_8"},
		{"gcc11-11.2.1+git610-1.3.9.src.rpm", "gcc11", "11.2.1+git610-1.3.9"},
		{"java-17-openjdk-17.0.9.0.9-2.el9.nosrc.rpm", "java-17-openjdk", "17.0.9.0.9-2.el9"},
		{"a-1-2.src.rpm", "a", "1-2"},
		{"(none)", "", ""},
		{"", "", ""},
		{"noversion.src.rpm", "", ""},
		{"-1-2.src.rpm", "", ""},
		{"a-1-.src.rpm", "", ""},
		{"a--2.src.rpm", "", ""},
		{"a-1-2rpm", "", ""},
	}
	for _, tt := range tests {
		n, v := parseSourceRPM(tt.in)
		if n != tt.name || v != tt.version {
			t.Errorf("parseSourceRPM(%q) = %q, %q; want %q, %q", tt.in, n, v, tt.name, tt.version)
		}
	}
}

// entry is one header index entry for buildHeader.
type entry struct {
	tag, typ uint32
	data     []byte
	count    uint32
}

func str(tag uint32, s string) entry { return entry{tag, typeString, append([]byte(s), 0), 1} }

// buildHeader lays out an rpm header blob the way rpm stores it.
func buildHeader(entries ...entry) []byte {
	var idx, data []byte
	for _, e := range entries {
		if e.typ == typeInt32 {
			for len(data)%4 != 0 {
				data = append(data, 0)
			}
		}
		idx = binary.BigEndian.AppendUint32(idx, e.tag)
		idx = binary.BigEndian.AppendUint32(idx, e.typ)
		idx = binary.BigEndian.AppendUint32(idx, uint32(len(data)))
		idx = binary.BigEndian.AppendUint32(idx, e.count)
		data = append(data, e.data...)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(entries)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(append(b, idx...), data...)
}

func TestParseHeader(t *testing.T) {
	epoch := func(n uint32) entry { return entry{tagEpoch, typeInt32, binary.BigEndian.AppendUint32(nil, n), 1} }
	tests := []struct {
		name    string
		blob    []byte
		want    *header
		wantErr string
	}{
		{
			name: "all fields, later entry overrides",
			blob: buildHeader(str(tagName, "bash"), str(tagVersion, "5.1"), str(tagRelease, "1"), epoch(2),
				str(tagArch, "aarch64"), str(tagSourceRPM, "bash-5.1-1.src.rpm"), str(tagLicense, "GPLv3+"), str(tagRelease, "2")),
			want: &header{name: "bash", version: "5.1", release: "2", epoch: 2, arch: "aarch64", sourceRPM: "bash-5.1-1.src.rpm", license: "GPLv3+"},
		},
		{
			name: "i18n string array takes the first",
			blob: buildHeader(str(tagName, "a"), str(tagVersion, "1"), entry{tagLicense, typeI18NString, []byte("MIT\x00X\x00"), 2}),
			want: &header{name: "a", version: "1", license: "MIT"},
		},
		{name: "short", blob: []byte{0, 0, 0}, wantErr: "shorter"},
		{name: "no entries", blob: make([]byte, 8), wantErr: "0 index entries"},
		{name: "too many entries", blob: []byte{0, 1, 0, 0, 0, 0, 0, 0}, wantErr: "65536 index entries"},
		{name: "truncated", blob: buildHeader(str(tagName, "bash"))[:20], wantErr: "declares"},
		{name: "no version", blob: buildHeader(str(tagName, "a")), wantErr: "no name or version"},
		{name: "unterminated", blob: buildHeader(entry{tagName, typeString, []byte("abc"), 1}), wantErr: "not terminated"},
		{name: "wrong type", blob: buildHeader(entry{tagName, typeInt32, []byte{0, 0, 0, 1}, 1}), wantErr: "want a string"},
		{name: "short epoch", blob: buildHeader(entry{tagEpoch, typeInt32, []byte{0, 1}, 1}), wantErr: "bad epoch"},
		{name: "negative epoch", blob: buildHeader(epoch(0xffffffff)), wantErr: "negative epoch"},
		{
			name:    "offset outside data",
			blob:    func() []byte { b := buildHeader(str(tagName, "a")); binary.BigEndian.PutUint32(b[16:], 99); return b }(),
			wantErr: "outside",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHeader(tt.blob)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want ErrMalformed mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(header{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// tinySQLite writes an rpmdb.sqlite with rpm's schema holding blobs.
func tinySQLite(t testing.TB, blobs ...[]byte) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if _, err := db.Exec("INSERT INTO Packages (blob) VALUES (?)", b); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExtractPartialAndErrors(t *testing.T) {
	good := buildHeader(str(tagName, "a"), str(tagVersion, "1"), str(tagRelease, "2"), str(tagArch, "x86_64"))
	key := buildHeader(str(tagName, "gpg-pubkey"), str(tagVersion, "fd431d51"), str(tagRelease, "4ae0493b"))
	e := &Extractor{}

	t.Run("sqlite keeps good headers beside a bad one, skips gpg-pubkey", func(t *testing.T) {
		db := tinySQLite(t, good, []byte("garbage"), key)
		got, err := e.Extract(context.Background(), input(t, "var/lib/rpm/rpmdb.sqlite", db))
		want := []inventory.Package{{Name: "a", Version: "1-2", Arch: "x86_64", Type: inventory.TypeRPM}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "rpm: read var/lib/rpm/rpmdb.sqlite: parse header of sqlite package 2") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("sqlite without Packages table", func(t *testing.T) {
		db := tinySQLite(t)
		p := filepath.Join(t.TempDir(), "x.sqlite")
		os.WriteFile(p, db, 0o600)
		sdb, _ := sql.Open("sqlite", p)
		sdb.Exec("DROP TABLE Packages")
		sdb.Close()
		db, _ = os.ReadFile(p)
		if _, err := e.Extract(context.Background(), input(t, "var/lib/rpm/rpmdb.sqlite", db)); !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v, want ErrMalformed", err)
		}
	})
	t.Run("unknown format", func(t *testing.T) {
		_, err := e.Extract(context.Background(), input(t, "var/lib/rpm/Packages", []byte("hello, this is not a database")))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "detect database format") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		got, err := e.Extract(context.Background(), input(t, "var/lib/rpm/Packages", nil))
		if got != nil || err != nil {
			t.Errorf("got %v, %v; want nothing", got, err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		in := input(t, "var/lib/rpm/Packages", []byte("x"))
		in.Size = MaxFileSize + 1
		if _, err := e.Extract(context.Background(), in); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "268435456 byte limit") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("truncated ndb", func(t *testing.T) {
		b := readFixture(t, "sle15-bci/var/lib/rpm/Packages.db")
		got, err := e.Extract(context.Background(), input(t, "var/lib/rpm/Packages.db", b[:len(b)/2]))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v, want ErrMalformed", err)
		}
		if len(got) == 0 || len(got) >= 35 {
			t.Errorf("got %d packages from half the database, want some but not all 35", len(got))
		}
	})
	t.Run("truncated bdb", func(t *testing.T) {
		b := readFixture(t, "libuuid/var/lib/rpm/Packages")
		_, err := e.Extract(context.Background(), input(t, "var/lib/rpm/Packages", b[:len(b)/2]))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v, want ErrMalformed", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		b := readFixture(t, "sle15-bci/var/lib/rpm/Packages.db")
		if _, err := e.Extract(ctx, input(t, "var/lib/rpm/Packages.db", b)); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

// TestCorruptedFixtures flips bytes in the real Berkeley DB and NDB files: the
// extractor must return, with or without an error, and never panic (a panic
// recovered by Extract's last line of defence fails the test too).
func TestCorruptedFixtures(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, fx := range fixtures[1:] {
		orig := readFixture(t, fx.path)
		for i := 0; i < 50; i++ {
			b := bytes.Clone(orig)
			for j := 0; j < 1+r.IntN(16); j++ {
				b[r.IntN(len(b))] = byte(r.Uint32())
			}
			_, err := (&Extractor{}).Extract(context.Background(), input(t, "var/lib/rpm/Packages", b))
			if pe, ok := extract.AsPanic(err); ok {
				t.Fatalf("%s variant %d: recovered panic: %v\n%s", fx.path, i, pe, pe.Stack)
			}
		}
	}
}

// FuzzExtract is best run with a short -fuzzminimizetime (say 200x): the
// seeds are kilobytes long and minimizing each new input otherwise stalls
// the run for a minute at a time.
func FuzzExtract(f *testing.F) {
	// Small seeds keep the corpus quick: the 16 KiB Berkeley DB, the NDB
	// file's slot pages plus its first blob, and a one-package SQLite db.
	f.Add(readFixture(f, "syft-coverage/var/lib/rpm/Packages"))
	ndb := readFixture(f, "sle15-bci/var/lib/rpm/Packages.db")
	f.Add(ndb[:16<<10])
	c := &collector{}
	readBDB(context.Background(), bytes.NewReader(readFixture(f, "syft-coverage/var/lib/rpm/Packages")), 16384, c)
	if len(c.pkgs) != 1 {
		f.Fatalf("seed: %v", c.errs)
	}
	f.Add(tinySQLite(f, buildHeader(str(tagName, "a"), str(tagVersion, "1"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := &extract.Input{Path: "var/lib/rpm/Packages", Reader: bytes.NewReader(b), Size: int64(len(b)), TempDir: t.TempDir()}
		pkgs, err := (&Extractor{}).Extract(context.Background(), in)
		if pe, ok := extract.AsPanic(err); ok {
			t.Fatalf("recovered panic: %v\n%s", pe, pe.Stack)
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.Type != inventory.TypeRPM {
				t.Fatalf("incomplete package %+v", p)
			}
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			// Not malformed means the reader failed, which bytes.Reader
			// cannot, or a limit was hit, which these sizes cannot reach.
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// FuzzParseHeader seeds with real header blobs from the fixtures.
func FuzzParseHeader(f *testing.F) {
	var blobs [][]byte
	b := readFixture(f, "syft-coverage/var/lib/rpm/Packages")
	readBDBBlobs(f, b, func(blob []byte) { blobs = append(blobs, blob) })
	for _, blob := range blobs {
		f.Add(blob)
	}
	f.Add(buildHeader(str(tagName, "a"), str(tagVersion, "1"), entry{tagEpoch, typeInt32, []byte{0, 0, 0, 1}, 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err == nil && (h.name == "" || h.version == "") {
			t.Fatalf("header without name or version accepted: %+v", h)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
	})
}

// readBDBBlobs returns the raw header blobs of a Berkeley DB file by
// walking it with a collector that records instead of parsing.
func readBDBBlobs(t testing.TB, b []byte, fn func([]byte)) {
	t.Helper()
	c := blobSink(fn)
	if err := readBDB(context.Background(), bytes.NewReader(b), int64(len(b)), c); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkExtract(b *testing.B) {
	for _, fx := range fixtures {
		b.Run(fx.name, func(b *testing.B) {
			data := readFixture(b, fx.path)
			in := input(b, "var/lib/rpm/"+filepath.Base(fx.path), data)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				in.Reader = bytes.NewReader(data)
				if _, err := (&Extractor{}).Extract(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// blobSink hands raw blobs to a function and fails on record errors.
type blobSink func([]byte)

func (s blobSink) add(_ string, blob []byte) { s(blob) }
func (s blobSink) addErr(err error)          { panic(err) }
