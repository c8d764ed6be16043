package match

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/vulndb"
)

// memReader is an in-memory Reader over real OSV records, so the matcher is
// tested without the SQLite store (which is tested in package vulndb). Like
// the store, it also returns entries filed under the bare top-level
// ecosystem and compares PyPI names in PEP 503 form.
type memReader struct {
	byKey map[[2]string][]*vulndb.Advisory
}

var _ Reader = (*memReader)(nil)

func newMemReader(advs ...*vulndb.Advisory) *memReader {
	r := &memReader{byKey: map[[2]string][]*vulndb.Advisory{}}
	for _, a := range advs {
		seen := map[[2]string]bool{}
		for _, aff := range a.Affected {
			k := [2]string{aff.Package.Ecosystem, memName(aff.Package.Ecosystem, aff.Package.Name)}
			if !seen[k] {
				seen[k] = true
				r.byKey[k] = append(r.byKey[k], a)
			}
		}
	}
	return r
}

func memName(eco, name string) string {
	if strings.HasPrefix(eco, "PyPI") {
		return pep503(name)
	}
	return name
}

func (r *memReader) Affecting(ctx context.Context, ecosystem, name string) ([]*vulndb.Advisory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	top, _, _ := strings.Cut(ecosystem, ":")
	var out []*vulndb.Advisory
	for _, eco := range slices.Compact([]string{ecosystem, top}) {
		for _, a := range r.byKey[[2]string{eco, memName(eco, name)}] {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

var (
	zipMu    sync.Mutex
	zipCache = map[string]map[string]*vulndb.Advisory{}
)

// loadZip reads every record of an OSV export osv-bucket-layout/<eco>/all.zip.
func loadZip(t testing.TB, eco string) map[string]*vulndb.Advisory {
	t.Helper()
	zipMu.Lock()
	defer zipMu.Unlock()
	if m, ok := zipCache[eco]; ok {
		return m
	}
	zr, err := zip.OpenReader(filepath.Join(testenv.VulnData(t), "osv-bucket-layout", eco, "all.zip"))
	if err != nil {
		t.Fatalf("open %s export: %v", eco, err)
	}
	defer zr.Close()
	m := map[string]*vulndb.Advisory{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("open %s: %v", f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s: %v", f.Name, err)
		}
		var a vulndb.Advisory
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("decode %s: %v", f.Name, err)
		}
		m[a.ID] = &a
	}
	zipCache[eco] = m
	return m
}

// fromZip returns the named records of an OSV export.
func fromZip(t testing.TB, eco string, ids ...string) []*vulndb.Advisory {
	t.Helper()
	all := loadZip(t, eco)
	var out []*vulndb.Advisory
	for _, id := range ids {
		a, ok := all[id]
		if !ok {
			t.Fatalf("%s export has no %s", eco, id)
		}
		out = append(out, a)
	}
	return out
}

// fromFile reads one OSV record; rel is relative to the vulndata directory,
// or to testdata/ when it starts with "testdata/".
func fromFile(t testing.TB, rel string) *vulndb.Advisory {
	t.Helper()
	path := rel
	if !strings.HasPrefix(rel, "testdata/") {
		path = filepath.Join(testenv.VulnData(t), rel)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var a vulndb.Advisory
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("decode %s: %v", rel, err)
	}
	return &a
}

// fromParts builds the OSV record osv.dev's Debian and Alpine converters
// make from their per-release "parts" files (see vulndata/README.md):
// id <PREFIX>-<CVE>, upstream [CVE], one ECOSYSTEM range per release.
func fromParts(t testing.TB, rel, prefix, cve string) *vulndb.Advisory {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.VulnData(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var parts []struct {
		PkgName      string `json:"pkg_name"`
		Ecosystem    string `json:"ecosystem"`
		FixedVersion struct {
			AffectedVersions []vulndb.Event `json:"affected_versions"`
		} `json:"fixed_version"`
		EcosystemSpecific map[string]any `json:"ecosystem_specific"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		t.Fatalf("decode %s: %v", rel, err)
	}
	a := &vulndb.Advisory{ID: prefix + "-" + cve, Upstream: []string{cve}}
	for _, p := range parts {
		events := p.FixedVersion.AffectedVersions
		if len(events) == 0 || events[0].Introduced == "" {
			events = append([]vulndb.Event{{Introduced: "0"}}, events...)
		}
		a.Affected = append(a.Affected, vulndb.Affected{
			Package:           vulndb.Package{Ecosystem: p.Ecosystem, Name: p.PkgName},
			Ranges:            []vulndb.Range{{Type: "ECOSYSTEM", Events: events}},
			EcosystemSpecific: p.EcosystemSpecific,
		})
	}
	return a
}
