package vulndb

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/drydock/drydock/internal/testenv"
)

// realSets are the complete OSV exports in vulndata/osv-bucket-layout.
var realSets = []string{"Go", "PyPI", "crates.io", "AlmaLinux"}

func realZip(t testing.TB, eco string) string {
	return filepath.Join(testenv.VulnData(t), "osv-bucket-layout", eco, "all.zip")
}

// readmeCounts reads the "records" column of the sets table in
// vulndata/README.md, the count the data's curator wrote down.
func readmeCounts(t testing.TB) map[string]int {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.VulnData(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^\|\s*([^|]+?)\s*\|[^|]*\|[^|]*\|\s*(\d+)\s*\|`)
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[2])
			out[m[1]] = n
		}
	}
	return out
}

// zipCensus reads an export with its own minimal decoder, independent of the
// package's, and counts entries and withdrawn records.
type census struct{ entries, withdrawn, indexable int }

func zipCensus(t testing.TB, path string) census {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var c census
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Withdrawn string `json:"withdrawn"`
			Affected  []struct {
				Package struct{ Ecosystem, Name string } `json:"package"`
			} `json:"affected"`
		}
		err = json.NewDecoder(rc).Decode(&rec)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %s: %v", path, f.Name, err)
		}
		c.entries++
		if rec.Withdrawn != "" {
			c.withdrawn++
			continue
		}
		for _, a := range rec.Affected {
			if a.Package.Name != "" {
				c.indexable++
				break
			}
		}
	}
	return c
}

var (
	realOnce sync.Once
	realPath string
	realDir  string
	realErr  error
)

// realDB imports the four real sets once per test binary and returns the
// database path; tests must not modify it.
func realDB(t testing.TB) string {
	t.Helper()
	var zips []string
	for _, e := range realSets {
		zips = append(zips, realZip(t, e))
	}
	realOnce.Do(func() {
		realDir, realErr = os.MkdirTemp("", "vulndb-real-")
		if realErr != nil {
			return
		}
		realPath = filepath.Join(realDir, "vulndb.sqlite")
		_, realErr = Import(context.Background(), realPath, zips)
	})
	if realErr != nil {
		t.Fatalf("import real sets: %v", realErr)
	}
	return realPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if realDir != "" {
		os.RemoveAll(realDir)
	}
	os.Exit(code)
}

func vulnData(t testing.TB) string { return testenv.VulnData(t) }

func openT(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func ids(advs []*Advisory) []string {
	var out []string
	for _, a := range advs {
		out = append(out, a.ID)
	}
	return out
}

// zipEntry is one file of a test zip.
type zipEntry struct {
	name string
	data []byte
}

// writeZip builds a zip from entries in order.
func writeZip(t testing.TB, path string, entries []zipEntry) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// dirEntries reads every .json file directly in dir as zip entries.
func dirEntries(t testing.TB, dir string) []zipEntry {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []zipEntry
	for _, de := range des {
		if filepath.Ext(de.Name()) != ".json" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, zipEntry{de.Name(), b})
	}
	return out
}

// fileState is what "the database was left untouched" compares.
type fileState struct {
	Sum   [32]byte
	Inode uint64
}

func stateOf(t testing.TB, path string) fileState {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{Sum: sha256.Sum256(b), Inode: fi.Sys().(*syscall.Stat_t).Ino}
}

// leftovers lists files in dir other than the database and its lock.
func leftovers(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if n := de.Name(); !strings.HasSuffix(n, ".sqlite") && !strings.HasSuffix(n, ".lock") && !strings.HasSuffix(n, ".zip") {
			out = append(out, n)
		}
	}
	return out
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// lyingZip holds one entry whose header claims 100 bytes but inflates to
// 32 MiB: the shape of a zip bomb aimed at readers that trust headers.
func lyingZip(t testing.TB, path string) string {
	t.Helper()
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(bytes.Repeat([]byte(" "), 32<<20))
	fw.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "BOMB.json", Method: zip.Deflate,
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: 100, CRC32: 0})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}
