package main

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/drydock/drydock/internal/testenv"
)

// TestScanDockerSource: the demo image, loaded into a real Docker daemon
// (Debian's dockerd, started by scripts/test.sh), scans through
// "docker:NAME" to the same packages and findings as the docker save
// archive it was loaded from; a name the daemon lacks is a one-line error
// with exit 2 and nothing on stdout.
func TestScanDockerSource(t *testing.T) {
	sock := testenv.DockerSocket(t)
	e := newEnv(t)
	lp := demoLayout(t)
	idx, err := layout.ImageIndexFromPath(lp)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var img v1.Image
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == "app" {
			img, err = idx.Image(d.Digest)
		}
	}
	if img == nil || err != nil {
		t.Fatalf("demo layout: no image named app (%v)", err)
	}
	archive := filepath.Join(t.TempDir(), "demo.tar")
	tag, _ := name.NewTag("drydock-test/demo-scan:1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	testenv.DockerLoad(t, sock, archive)

	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	if _, errOut, code := e.run(t, "db", "import", pypi); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	// scan lists what a user compares: the image's config, every finding
	// (with its package, path, layer and origin) and every package of the
	// SBOM.
	scan := func(src string) []string {
		t.Helper()
		out, errOut, code := e.run(t, "scan", "--format", "json", src)
		if code != 0 {
			t.Fatalf("scan %s: exit %d: %s", src, code, errOut)
		}
		var rep struct {
			Source   struct{ ConfigDigest, Platform string }
			Findings []struct {
				ID, FixPath string
				Severity    struct{ Rating string }
				Package     struct{ Name, Version, Path, Layer, Origin string }
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("scan %s: %v\n%.300s", src, err, out)
		}
		got := []string{"config " + rep.Source.ConfigDigest + " " + rep.Source.Platform}
		for _, f := range rep.Findings {
			p := f.Package
			got = append(got, strings.Join([]string{"finding", f.ID, f.Severity.Rating, f.FixPath, p.Name, p.Version, p.Path, p.Layer, p.Origin}, " "))
		}
		out, errOut, code = e.run(t, "sbom", "--format", "json", src)
		if code != 0 {
			t.Fatalf("sbom %s: exit %d: %s", src, code, errOut)
		}
		var inv struct {
			Packages []struct{ Type, Name, Version, Path, Layer, Origin string }
		}
		if err := json.Unmarshal([]byte(out), &inv); err != nil {
			t.Fatalf("sbom %s: %v\n%.300s", src, err, out)
		}
		for _, p := range inv.Packages {
			got = append(got, strings.Join([]string{"package", p.Type, p.Name, p.Version, p.Path, p.Layer, p.Origin}, " "))
		}
		sort.Strings(got)
		return got
	}
	fromArchive := scan(archive)
	if !strings.Contains(strings.Join(fromArchive, "\n"), "finding PYSEC-2018-28 ") {
		t.Fatalf("the archive scan lacks PYSEC-2018-28 (the comparison would prove nothing):\n%s", strings.Join(fromArchive, "\n"))
	}
	if diff := cmp.Diff(fromArchive, scan("docker:drydock-test/demo-scan:1")); diff != "" {
		t.Errorf("docker: scan differs from the archive's (-archive +docker):\n%s", diff)
	}

	out, errOut, code := e.run(t, "scan", "docker:drydock-test/not-loaded:1")
	if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "drydock-test/not-loaded:1") {
		t.Errorf("missing image: exit %d, stdout %q, stderr %q; want 2, nothing, one line naming it", code, out, errOut)
	}
}
