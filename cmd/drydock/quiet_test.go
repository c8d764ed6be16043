package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock/drydock/internal/testenv"
)

// TestQuietSilencesNotices: every command that writes something besides
// its result on stderr (a warning, a "nothing to do", a skipped entry)
// writes it without -q and nothing with -q, with the same result and exit
// code either way.
func TestQuietSilencesNotices(t *testing.T) {
	dir := t.TempDir()
	records := filepath.Join(dir, "records")
	os.MkdirAll(records, 0o755)
	os.WriteFile(filepath.Join(records, "good.json"), []byte(`{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"}}]}`), 0o644)
	os.WriteFile(filepath.Join(records, "bad.json"), []byte(`{not json`), 0o644)

	repo := filepath.Join(dir, "repo")
	os.MkdirAll(repo, 0o755)
	os.WriteFile(filepath.Join(repo, "README"), []byte("no manifests here\n"), 0o644)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "initial"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	newImage := "registry.example.com/team/app@sha256:" + strings.Repeat("a", 64)

	tests := []struct {
		name   string
		args   []string
		notice string
		code   int
	}{
		{"db import skips a malformed record", []string{"db", "import", records}, "skipped " + filepath.Join(records, "bad.json"), 0},
		{"deploy --git finds nothing to change", []string{"deploy", "--git", repo, newImage}, "nothing to change", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			out, errOut, code := e.run(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.notice) {
				t.Fatalf("without -q: exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.notice)
			}
			e = newEnv(t)
			qout, qerr, qcode := e.run(t, append([]string{"-q"}, tt.args...)...)
			if qcode != code || qerr != "" || qout != out {
				t.Errorf("with -q: exit %d, stderr %q, stdout %q; want exit %d, no stderr, stdout %q", qcode, qerr, qout, code, out)
			}
		})
	}
}

// onTerminal runs the binary under script(1), which gives it a real
// pseudo-terminal, and returns what the terminal showed.
func onTerminal(t *testing.T, e *env, extraEnv []string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		testenv.NeedPart(t, "script(1)", "it gives the binary a pseudo-terminal (apt-get install bsdutils)")
	}
	line := binary
	for _, a := range args {
		line += " '" + a + "'"
	}
	cmd := exec.Command("script", "-qec", line, "/dev/null")
	cmd.Env = append(append(os.Environ(), "DRYDOCK_CACHE_DIR="+e.cache, "DRYDOCK_DATA_DIR="+e.data, "TERM=xterm", "NO_COLOR="), extraEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v on a terminal: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestQuietOnTerminal: on a terminal, sbom and db update draw progress;
// with -q they draw none and still print their result.
func TestQuietOnTerminal(t *testing.T) {
	goZip, err := os.ReadFile(filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "Go", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Go/all.zip" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "all.zip", time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), bytes.NewReader(goZip))
	}))
	defer mirror.Close()
	layout := demoLayout(t)

	tests := []struct {
		name             string
		args             []string
		progress, result string
	}{
		{"sbom", []string{"sbom", "oci:" + layout + ":app"}, "layers: 2/2 analysed", "requests"},
		// --fresh: every run downloads (no ETag from an earlier run).
		{"db update", []string{"db", "update", "--fresh", "--base-url", mirror.URL, "--ecosystem", "Go"}, "Go: ", "updated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := onTerminal(t, newEnv(t), nil, tt.args...)
			if !strings.Contains(out, tt.progress) || !strings.Contains(out, tt.result) {
				t.Errorf("without -q: want progress %q and result %q on the terminal:\n%s", tt.progress, tt.result, out)
			}
			out = onTerminal(t, newEnv(t), nil, append([]string{"-q"}, tt.args...)...)
			if strings.Contains(out, tt.progress) || !strings.Contains(out, tt.result) {
				t.Errorf("with -q: want no progress %q, and the result %q:\n%s", tt.progress, tt.result, out)
			}
		})
	}
}

// TestScanColour: the scan table is coloured on a terminal, and not when
// NO_COLOR is set (no-color.org) or when stdout is not a terminal.
func TestScanColour(t *testing.T) {
	e := newEnv(t)
	layout := demoLayout(t)
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	if _, errOut, code := e.run(t, "db", "import", pypi); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}
	src := "oci:" + layout + ":app"
	const esc = "\x1b["
	args := []string{"scan", "-q", "--format", "table", "--fail-on", "none", "--unknown-severity", "ignore", src}
	if out := onTerminal(t, e, nil, args...); !strings.Contains(out, "PYSEC-2018-28") || !strings.Contains(out, esc) {
		t.Errorf("on a terminal: want PYSEC-2018-28 in colour:\n%q", out)
	}
	if out := onTerminal(t, e, []string{"NO_COLOR=1"}, args...); !strings.Contains(out, "PYSEC-2018-28") || strings.Contains(out, esc) {
		t.Errorf("NO_COLOR=1: want PYSEC-2018-28 without escapes:\n%q", out)
	}
	if out, _, _ := e.run(t, args...); !strings.Contains(out, "PYSEC-2018-28") || strings.Contains(out, esc) {
		t.Errorf("stdout not a terminal: want no escapes:\n%q", out)
	}
}
