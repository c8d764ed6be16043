package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock/drydock/internal/testenv"
)

// TestDBUpdatePartial: a mirror that lacks one ecosystem (404 with an HTML
// page) still updates the others; the failure is reported in one line
// without the page, and the exit code says something failed.
func TestDBUpdatePartial(t *testing.T) {
	goZip, err := os.ReadFile(filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "Go", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/Go/all.zip" {
			w.Header().Set("Content-Type", "application/zip")
			w.Write(goZip)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("<!DOCTYPE html><html><head><title>404</title></head><body><h1>Not Found</h1></body></html>"))
	}))
	defer srv.Close()
	e := newEnv(t)

	out, errOut, code := e.run(t, "db", "update", "--base-url", srv.URL, "--ecosystem", "Go,PyPI")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(out, "Go") || !strings.Contains(out, "updated") || !strings.Contains(out, "PyPI") || !strings.Contains(out, "failed") {
		t.Errorf("stdout does not show Go updated and PyPI failed:\n%s", out)
	}
	if !strings.Contains(errOut, "PyPI") || !strings.Contains(errOut, "404") || strings.Contains(errOut, "<html") || strings.Contains(errOut, "DOCTYPE") {
		t.Errorf("stderr %q: want the 404 for PyPI, without the page", errOut)
	}
	status, _, code := e.run(t, "db", "status")
	if code != 0 || !strings.Contains(status, "Go") {
		t.Errorf("Go was not swapped in: exit %d\n%s", code, status)
	}

	out, errOut, code = e.run(t, "db", "update", "--base-url", srv.URL, "--ecosystem", "Debain")
	if code != 2 || out != "" || !strings.Contains(errOut, `--ecosystem: unknown ecosystem "Debain" (known: Debian`) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("misspelt ecosystem: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
