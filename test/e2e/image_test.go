package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/testenv"
)

// imageScript runs scripts/image.sh (drydock attest in it reading the
// vulnerability database in dataDir) and returns its "what REF" lines.
func imageScript(t *testing.T, dataDir string, args ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "./scripts/image.sh", args...)
	cmd.Dir = testenv.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "DRYDOCK_DATA_DIR="+dataDir, "DRYDOCK_CACHE_DIR="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("image.sh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	t.Logf("image.sh %s: %v\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), stderr.String())
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if what, ref, ok := strings.Cut(l, " "); ok {
			out[what] = ref
		}
	}
	return out
}

// TestDrydockImage builds drydock's own image twice from the same commit,
// pushes it to Debian's docker-registry, and checks what a user of it relies
// on: the same digest, both platforms, a non-root user and no shell, the
// annotations, drydock's SBOM as a referrer, a verdict drydock signed, and
// that drydock's own scan finds the Go modules of the binary.
func TestDrydockImage(t *testing.T) {
	e := setup(t)
	bin := drydockOnce(t)
	dir := t.TempDir()
	if out, err := exec.Command(bin, "key", "generate", "--unencrypted", "--output-key-prefix", filepath.Join(dir, "signer")).CombinedOutput(); err != nil {
		t.Fatalf("key generate: %v\n%s", err, out)
	}
	// scripts/image-ignore.yaml waives GO-2026-5932 (x/crypto/openpgp)
	// because drydock never imports that package: hold it to that.
	list := exec.Command("go", "list", "-deps", "./cmd/drydock")
	list.Dir = testenv.ModuleRoot(t)
	deps, err := list.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	if strings.Contains(string(deps), "golang.org/x/crypto/openpgp") {
		t.Fatal("drydock now imports golang.org/x/crypto/openpgp: remove GO-2026-5932 from scripts/image-ignore.yaml")
	}
	// The Go advisories: drydock attest scans the image it signs.
	data := t.TempDir()
	goOSV := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "Go", "all.zip")
	if out, err := exec.Command(bin, "db", "import", "--data-dir", data, goOSV).CombinedOutput(); err != nil {
		t.Fatalf("db import %s: %v\n%s", goOSV, err, out)
	}
	repo := e.registry + "/drydock/drydock"
	first := imageScript(t, data, "--push", repo+":e2e-1", "--key", filepath.Join(dir, "signer.key"))
	second := imageScript(t, data, "--push", repo+":e2e-2")

	idx1, idx2 := first["index"], second["index"]
	if idx1 == "" || idx1 != idx2 {
		t.Fatalf("index digests differ between two builds of one commit: %q, %q", idx1, idx2)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		if first[p] == "" || first[p] != second[p] {
			t.Errorf("%s image: %q then %q", p, first[p], second[p])
		}
	}

	ctx := context.Background()
	d, err := name.NewDigest(idx1)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(d, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"org.opencontainers.image.source", "org.opencontainers.image.revision", "org.opencontainers.image.created"} {
		if im.Annotations[k] == "" {
			t.Errorf("index annotation %s missing: %v", k, im.Annotations)
		}
	}
	rev, _ := exec.Command("git", "-C", testenv.ModuleRoot(t), "rev-parse", "HEAD").Output()
	if got := im.Annotations["org.opencontainers.image.revision"]; got != strings.TrimSpace(string(rev)) {
		t.Errorf("revision annotation %q, want HEAD %q", got, strings.TrimSpace(string(rev)))
	}

	for _, desc := range im.Manifests {
		plat := desc.Platform.String()
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if u, _, _ := strings.Cut(cf.Config.User, ":"); u != "65532" {
			t.Errorf("%s: config user %q, want 65532", plat, cf.Config.User)
		}
		if !slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/drydock"}) {
			t.Errorf("%s: entrypoint %q", plat, cf.Config.Entrypoint)
		}
		m, _ := img.Manifest()
		base := m.Annotations["org.opencontainers.image.base.name"]
		if base == "" || m.Annotations["org.opencontainers.image.base.digest"] == "" {
			t.Errorf("%s: base annotations missing: %v", plat, m.Annotations)
		} else if _, err := remote.Head(d.Context().Digest(m.Annotations["org.opencontainers.image.base.digest"])); err != nil {
			t.Errorf("%s: base %s not pushed: %v", plat, base, err)
		}
		files := imageFiles(t, img)
		for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox", "usr/bin/sh"} {
			if files[shell] {
				t.Errorf("%s: the image has a shell: %s", plat, shell)
			}
		}
		for _, f := range []string{"usr/local/bin/drydock", "etc/ssl/certs/ca-certificates.crt", "etc/passwd"} {
			if !files[f] {
				t.Errorf("%s: %s missing from the image", plat, f)
			}
		}

		// The SBOM referrer, made by drydock.
		pd := d.Context().Digest(desc.Digest.String())
		refs, err := remote.Referrers(pd, remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("%s: referrers: %v", plat, err)
		}
		rm, _ := refs.IndexManifest()
		var types []string
		for _, r := range rm.Manifests {
			types = append(types, r.ArtifactType)
		}
		if !slices.Contains(types, "application/vnd.cyclonedx+json") {
			t.Errorf("%s: no CycloneDX SBOM among the referrers %q", plat, types)
		}
	}

	// The verdict drydock attest signed verifies with the public key.
	pub, err := os.ReadFile(filepath.Join(dir, "signer.pub"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := attest.ParseKeys(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attest.VerifyImage(ctx, d, keys); err != nil {
		t.Errorf("verdict on %s: %v", d, err)
	}

	// drydock scans its own image and finds the modules it is built from.
	inv := e.sbomJSON(t, t.TempDir(), first["linux/amd64"])
	var mods []string
	for _, p := range inv.Packages {
		if p.Type == inventory.TypeGolang {
			mods = append(mods, p.Name)
		}
	}
	for _, want := range []string{"github.com/google/go-containerregistry", "github.com/spf13/cobra", "k8s.io/client-go"} {
		if !slices.Contains(mods, want) {
			t.Errorf("drydock's scan of its own image lacks the Go module %s (found %d modules)", want, len(mods))
		}
	}
}

// imageFiles lists every path of every layer.
func imageFiles(t *testing.T, img v1.Image) map[string]bool {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Uid != 0 && h.Uid != 65532 {
				t.Errorf("%s owned by uid %d", h.Name, h.Uid)
			}
			files[strings.TrimSuffix(h.Name, "/")] = true
		}
		rc.Close()
	}
	return files
}
