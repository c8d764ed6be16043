package vulndb

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
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
