package e2e

// Severity a gate can rely on, end to end: findings whose own records carry
// no rating take the rating of another imported record of the same
// vulnerability, and a gate fails on them.

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/test/e2e/e2eimage"
)

// ratedIDs reads OSV records (zips and directories of JSON) with
// encoding/json and returns every id and alias of the records that carry a
// CVSS vector or an ecosystem rating, mapped to the records' ids: the
// oracle of which findings an imported set rates.
func ratedIDs(t testing.TB, sources ...string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	add := func(b []byte) {
		var r struct {
			ID               string
			Aliases          []string
			Severity         []struct{ Type string }
			DatabaseSpecific struct {
				Severity string `json:"severity"`
			} `json:"database_specific"`
			Affected []struct {
				Severity []struct{ Type string }
			}
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		rated := r.DatabaseSpecific.Severity != ""
		for _, s := range r.Severity {
			rated = rated || strings.HasPrefix(s.Type, "CVSS_V3") || s.Type == "CVSS_V4"
		}
		for _, a := range r.Affected {
			for _, s := range a.Severity {
				rated = rated || strings.HasPrefix(s.Type, "CVSS_V3") || s.Type == "CVSS_V4"
			}
		}
		if rated {
			for _, id := range append([]string{r.ID}, r.Aliases...) {
				out[id] = append(out[id], r.ID)
			}
		}
	}
	for _, src := range sources {
		if strings.HasSuffix(src, ".zip") {
			zr, err := zip.OpenReader(src)
			if err != nil {
				t.Fatal(err)
			}
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
				add(b)
			}
			zr.Close()
			continue
		}
		paths, _ := filepath.Glob(filepath.Join(src, "*.json"))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			add(b)
		}
	}
	return out
}

// severityFinding is the part of a finding this test reads.
type severityFinding struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases"`
	Summary  string   `json:"summary"`
	URL      string   `json:"url"`
	Severity struct {
		Rating string `json:"rating"`
		From   string `json:"from"`
	} `json:"severity"`
	SeveritySource string `json:"severitySource"`
}

// TestAliasRatedGate: wasmtime's Python binding at 0.26.0 is affected by
// PyPA records that carry no severity; the RustSec records of the same CVEs
// carry CVSS vectors. The image holds nothing else, so every finding is
// alias-rated, and a gate must fail on them even when UNKNOWN findings are
// ignored.
func TestAliasRatedGate(t *testing.T) {
	e := setup(t)
	b := e2eimage.NewLayerBuilder()
	b.File("usr/local/lib/python3.11/site-packages/wasmtime-0.26.0.dist-info/METADATA", 0o644,
		[]byte("Metadata-Version: 2.1\nName: wasmtime\nVersion: 0.26.0\nSummary: A WebAssembly runtime powered by Wasmtime\n"))
	b.File("usr/local/lib/python3.11/site-packages/wasmtime-0.26.0.dist-info/INSTALLER", 0o644, []byte("pip\n"))
	layer, err := b.Layer()
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	ref := e.registry + "/e2e/wasmtime-py:0.26.0"
	push(t, ref, img)

	vd := testenv.VulnData(t)
	sets := []string{
		filepath.Join(vd, "osv-bucket-layout", "PyPI", "all.zip"),
		filepath.Join(vd, "osv-bucket-layout", "crates.io", "all.zip"),
	}
	data := t.TempDir()
	if _, stderr, err := e.exec(t, append([]string{"db", "import", "--data-dir", data}, sets...)...); err != nil {
		t.Fatalf("db import: %v\n%s", err, stderr)
	}
	rated := ratedIDs(t, sets...)
	scan := func(args ...string) ([]byte, []byte, int) {
		out, stderr, err := e.exec(t, append([]string{"scan", "--format", "json", "--data-dir", data, "--cache-dir", t.TempDir(), ref}, args...)...)
		var ee *exec.ExitError
		switch {
		case err == nil:
			return out, stderr, 0
		case errors.As(err, &ee):
			return out, stderr, ee.ExitCode()
		}
		t.Fatalf("scan: %v", err)
		return nil, nil, -1
	}

	out, stderr, code := scan()
	if code != 0 {
		t.Fatalf("scan: exit %d\n%s", code, stderr)
	}
	var doc struct{ Findings []severityFinding }
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) == 0 {
		t.Fatal("no findings on wasmtime 0.26.0")
	}
	worst := ""
	for _, f := range doc.Findings {
		t.Logf("%s %s from %s (%s): %s %s", f.ID, f.Severity.Rating, f.SeveritySource, f.Severity.From, f.Summary, f.URL)
		if f.SeveritySource != "alias" || f.Severity.From == "" {
			t.Errorf("%s: severity %+v from %q, want rated by an alias's record", f.ID, f.Severity, f.SeveritySource)
			continue
		}
		shares := false
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			for _, r := range rated[id] {
				shares = shares || r == f.Severity.From
			}
		}
		if !shares {
			t.Errorf("%s: rated by %s, which the data does not give as a rated record sharing one of its ids", f.ID, f.Severity.From)
		}
		if f.URL == "" || f.Summary == "" {
			t.Errorf("%s: no title or URL: %+v", f.ID, f)
		}
		switch f.Severity.Rating {
		case "CRITICAL":
			worst = "CRITICAL"
		case "HIGH":
			if worst == "" {
				worst = "HIGH"
			}
		}
	}
	if worst == "" {
		t.Fatal("no alias-rated finding at HIGH or above; the gate below would prove nothing")
	}

	// The gate fails on the alias ratings alone: UNKNOWN findings are
	// ignored here, so before alias ratings this passed.
	if _, stderr, code := scan("--fail-on", "high", "--unknown-severity", "ignore"); code != 1 {
		t.Errorf("scan --fail-on high --unknown-severity ignore: exit %d, want 1\n%s", code, stderr)
	}
	if _, stderr, code := scan("--fail-on", "critical", "--unknown-severity", "ignore"); code != 0 && worst != "CRITICAL" {
		t.Errorf("scan --fail-on critical: exit %d, want 0 (nothing is CRITICAL)\n%s", code, stderr)
	}
}
