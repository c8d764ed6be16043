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

// TestDBUpdateTruncatedExport: a mirror serving one ecosystem's export cut
// short (a partial upload: the zip's directory is missing) fails that
// ecosystem alone; the others swap in. When every ecosystem fails, the
// message does not claim that others were updated.
func TestDBUpdateTruncatedExport(t *testing.T) {
	vd := filepath.Join(testenv.VulnData(t), "osv-bucket-layout")
	goZip, err := os.ReadFile(filepath.Join(vd, "Go", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	pypiZip, err := os.ReadFile(filepath.Join(vd, "PyPI", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/Go/all.zip":
			w.Write(goZip)
		case "/PyPI/all.zip":
			w.Write(pypiZip[:len(pypiZip)/2])
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	e := newEnv(t)

	out, errOut, code := e.run(t, "db", "update", "--base-url", srv.URL, "--ecosystem", "Go,PyPI")
	if code != 2 || !strings.Contains(out, "Go") || !strings.Contains(out, "updated") || !strings.Contains(out, "failed") {
		t.Errorf("exit %d, stdout:\n%s\nwant 2, Go updated and PyPI failed", code, out)
	}
	if !strings.Contains(errOut, "PyPI") || !strings.Contains(errOut, "not a complete zip archive") || strings.Contains(errOut, ".download-") {
		t.Errorf("stderr %q: want PyPI's export named as incomplete, without drydock's temporary file", errOut)
	}
	status, _, code := e.run(t, "db", "status")
	if code != 0 || !strings.Contains(status, "Go") || strings.Contains(status, "PyPI") {
		t.Errorf("db status: exit %d, want Go and no PyPI:\n%s", code, status)
	}

	_, errOut, code = e.run(t, "db", "update", "--base-url", srv.URL, "--ecosystem", "PyPI")
	if code != 2 || !strings.Contains(errOut, "no ecosystem updated") || strings.Contains(errOut, "the others were") {
		t.Errorf("every ecosystem failing: exit %d, stderr %q", code, errOut)
	}
}
