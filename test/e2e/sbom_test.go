// Package e2e runs the drydock binary against real images: a Debian bookworm
// minbase root filesystem made by debootstrap, pushed to Debian's
// docker-registry. scripts/test.sh prepares both and sets the environment.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/test/e2e/e2eimage"
)

// Environment set by scripts/test.sh.
const (
	envRootfs    = "DRYDOCK_E2E_ROOTFS"     // debootstrap rootfs directory
	envRootfsTar = "DRYDOCK_E2E_ROOTFS_TAR" // tar of it, numeric owners
	envRegistry  = "DRYDOCK_E2E_REGISTRY"   // host:port of docker-registry
)

// need returns the environment variable's value. When it is unset the test
// stops through testenv.NeedPart: scripts/test.sh always sets it, and a
// skip would hide that the end-to-end tests never ran.
func need(t *testing.T, env, what string) string {
	t.Helper()
	v := os.Getenv(env)
	if v != "" {
		return v
	}
	testenv.NeedPart(t, what, "%s is not set (run ./scripts/test.sh, which prepares it)", env)
	return ""
}

// env holds what every end-to-end test needs.
type env struct {
	rootfs    string // rootfs directory
	rootfsTar string
	registry  string // host:port
	bin       string // drydock binary, built by run on first use
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{
		rootfsTar: need(t, envRootfsTar, "Debian rootfs tarball"),
		registry:  need(t, envRegistry, "registry"),
	}
	e.rootfs = os.Getenv(envRootfs)
	if e.rootfs == "" {
		// scripts/debian-rootfs.sh keeps rootfs/ beside rootfs.tar.
		e.rootfs = filepath.Join(filepath.Dir(e.rootfsTar), "rootfs")
	}
	if _, err := os.Stat(filepath.Join(e.rootfs, "var/lib/dpkg/status")); err != nil {
		t.Fatalf("rootfs %s has no dpkg database: %v", e.rootfs, err)
	}
	return e
}

func buildDrydock(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "drydock")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/drydock")
	cmd.Dir = testenv.ModuleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/drydock: %v\n%s", err, out)
	}
	return bin
}

// run runs drydock and returns its stdout; it fails the test on a non-zero exit.
func (e *env) run(t *testing.T, args ...string) []byte {
	t.Helper()
	if e.bin == "" {
		e.bin = buildDrydock(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = append(os.Environ(), "DRYDOCK_CACHE_DIR=") // only --cache-dir counts
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("drydock %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("drydock %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func (e *env) sbomJSON(t *testing.T, cacheDir, ref string) *inventory.Inventory {
	t.Helper()
	out := e.run(t, "sbom", "--format", "json", "--cache-dir", cacheDir, ref)
	var inv inventory.Inventory
	if err := json.Unmarshal(out, &inv); err != nil {
		t.Fatalf("sbom --format json is not an inventory: %v\n%.2000s", err, out)
	}
	return &inv
}

// The Debian image is built once per test binary: computing its layer digest
// compresses the whole rootfs.
var debian struct {
	once sync.Once
	img  v1.Image
	err  error
}

// pushDebian pushes the Debian image to <registry>/e2e/debian:12 and returns
// the reference, the image and its manifest digest.
func (e *env) pushDebian(t *testing.T) (string, v1.Image, v1.Hash) {
	t.Helper()
	debian.once.Do(func() { debian.img, debian.err = e2eimage.Debian(e.rootfsTar) })
	if debian.err != nil {
		t.Fatalf("building the Debian image: %v", debian.err)
	}
	ref := e.registry + "/e2e/debian:12"
	push(t, ref, debian.img)
	digest, err := debian.img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref, debian.img, digest
}

func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	t.Logf("pushed %s in %v", ref, time.Since(start).Round(time.Millisecond))
}

// pkg is what the test compares with dpkg's own view of the rootfs.
type pkg struct {
	Name, Version, SourceName, SourceVersion, Type string
}

func pkgLess(a, b pkg) int {
	return strings.Compare(a.Name+"\x00"+a.Version, b.Name+"\x00"+b.Version)
}

// dpkgPackages asks dpkg itself what is installed in the rootfs.
func dpkgPackages(t *testing.T, rootfs string) []pkg {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W",
		"-f", `${Package}\t${Version}\t${source:Package}\t${source:Version}\n`,
		"--admindir="+filepath.Join(rootfs, "var/lib/dpkg")).Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("dpkg-query line %q: want 4 fields", line)
		}
		pkgs = append(pkgs, pkg{Name: f[0], Version: f[1], SourceName: f[2], SourceVersion: f[3], Type: inventory.TypeDeb})
	}
	if len(pkgs) < 50 {
		t.Fatalf("dpkg-query found only %d packages in %s; is it a minbase rootfs?", len(pkgs), rootfs)
	}
	slices.SortFunc(pkgs, pkgLess)
	return pkgs
}

// debPackages returns the inventory's packages in comparable form, all of
// which must be deb packages: a minbase rootfs (plus the e2e app's shell
// script) has nothing else, so any other package is a false positive.
func debPackages(t *testing.T, inv *inventory.Inventory) []pkg {
	t.Helper()
	for _, p := range inv.Packages {
		if p.Type != inventory.TypeDeb {
			t.Errorf("non-deb package in a Debian minbase image: %s %s (%s) at %s", p.Name, p.Version, p.Type, p.Path)
		}
	}
	return debPackagesOnly(inv)
}

// debPackagesOnly returns the inventory's deb packages in comparable form,
// for images that also hold other ecosystems (checked by their own tests).
func debPackagesOnly(inv *inventory.Inventory) []pkg {
	var pkgs []pkg
	for _, p := range inv.Packages {
		if p.Type != inventory.TypeDeb {
			continue
		}
		pkgs = append(pkgs, pkg{Name: p.Name, Version: p.Version, SourceName: p.SourceName, SourceVersion: p.SourceVersion, Type: p.Type})
	}
	slices.SortFunc(pkgs, pkgLess)
	return pkgs
}

func diffIDs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.RootFS.DiffIDs
}

func TestSBOMDebianFromRegistry(t *testing.T) {
	e := setup(t)
	want := dpkgPackages(t, e.rootfs)
	ref, img, digest := e.pushDebian(t)
	ids := diffIDs(t, img)
	if len(ids) != 1 {
		t.Fatalf("Debian image has %d layers, want 1", len(ids))
	}
	layer := ids[0].String()

	cache := t.TempDir()
	inv := e.sbomJSON(t, cache, ref)

	if inv.SchemaVersion != inventory.SchemaVersion {
		t.Errorf("schemaVersion = %d, want %d", inv.SchemaVersion, inventory.SchemaVersion)
	}
	if inv.Source.Digest != digest.String() {
		t.Errorf("source.digest = %q, want the pushed manifest %s", inv.Source.Digest, digest)
	}
	if inv.OS == nil || inv.OS.ID != "debian" || inv.OS.VersionID != "12" {
		t.Errorf("os = %+v, want id debian, versionId 12", inv.OS)
	}
	if diff := cmp.Diff(want, debPackages(t, inv)); diff != "" {
		t.Errorf("packages differ from dpkg-query on the rootfs (-dpkg +drydock):\n%s", diff)
	}
	for _, p := range inv.Packages {
		if p.Layer != layer || p.LayerIndex != 0 {
			t.Errorf("package %s: layer %q index %d, want the image's only layer %s index 0", p.Name, p.Layer, p.LayerIndex, layer)
		}
	}
	if len(inv.Layers) != 1 || inv.Layers[0].DiffID != layer {
		t.Errorf("layers = %+v, want one with diffId %s", inv.Layers, layer)
	}
	for _, pr := range inv.Problems {
		t.Errorf("problem: %+v", pr)
	}

	// Same cache: every layer's analysis comes from the cache, same packages.
	warm := e.sbomJSON(t, cache, ref)
	if len(warm.Layers) != len(inv.Layers) {
		t.Errorf("warm run: %d layers, cold run %d", len(warm.Layers), len(inv.Layers))
	}
	for _, l := range warm.Layers {
		if !l.Cached {
			t.Errorf("warm run: layer %d (%s) not cached", l.Index, l.DiffID)
		}
	}
	if diff := cmp.Diff(debPackages(t, inv), debPackages(t, warm)); diff != "" {
		t.Errorf("warm run packages differ from the cold run (-cold +warm):\n%s", diff)
	}

	t.Run("cyclonedx", func(t *testing.T) {
		out := e.run(t, "sbom", "--format", "cyclonedx", "--cache-dir", cache, ref)
		var doc struct {
			BOMFormat  string      `json:"bomFormat"`
			Components []component `json:"components"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("not JSON: %v\n%.2000s", err, out)
		}
		if doc.BOMFormat != "CycloneDX" {
			t.Errorf("bomFormat = %q, want CycloneDX", doc.BOMFormat)
		}
		// Packages are the components with a package URL; the OS and the
		// image itself, when listed, have none.
		if n := countPURLs(doc.Components); n != len(inv.Packages) {
			t.Errorf("%d components with a purl, want %d packages", n, len(inv.Packages))
		}
	})

	t.Run("spdx", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "sbom.spdx.json")
		e.run(t, "sbom", "--format", "spdx", "--output", file, "--cache-dir", cache, ref)
		out, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			SPDXVersion       string   `json:"spdxVersion"`
			DocumentDescribes []string `json:"documentDescribes"`
			Packages          []struct {
				SPDXID       string    `json:"SPDXID"`
				Name         string    `json:"name"`
				ExternalRefs []spdxRef `json:"externalRefs"`
			} `json:"packages"`
			Relationships []struct {
				From string `json:"spdxElementId"`
				Type string `json:"relationshipType"`
				To   string `json:"relatedSpdxElement"`
			} `json:"relationships"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("not JSON: %v\n%.2000s", err, out)
		}
		if doc.SPDXVersion != "SPDX-2.3" {
			t.Errorf("spdxVersion = %q, want SPDX-2.3", doc.SPDXVersion)
		}
		// The image itself is a package too (with a pkg:oci purl): the one
		// the document DESCRIBES. Count the packages it CONTAINS.
		described := map[string]bool{}
		for _, id := range doc.DocumentDescribes {
			described[id] = true
		}
		for _, r := range doc.Relationships {
			if r.From == "SPDXRef-DOCUMENT" && r.Type == "DESCRIBES" {
				described[r.To] = true
			}
		}
		n := 0
		for _, p := range doc.Packages {
			if !described[p.SPDXID] && slices.ContainsFunc(p.ExternalRefs, func(r spdxRef) bool { return r.Type == "purl" }) {
				n++
			}
		}
		if len(described) != 1 {
			t.Errorf("document describes %d elements, want the image alone", len(described))
		}
		if n != len(inv.Packages) {
			t.Errorf("%d SPDX packages with a purl, want %d packages", n, len(inv.Packages))
		}
	})
}

type spdxRef struct {
	Type    string `json:"referenceType"`
	Locator string `json:"referenceLocator"`
}

type component struct {
	Type       string      `json:"type"`
	Name       string      `json:"name"`
	PURL       string      `json:"purl"`
	Components []component `json:"components"`
}

func countPURLs(cs []component) int {
	n := 0
	for _, c := range cs {
		if strings.HasPrefix(c.PURL, "pkg:") {
			n++
		}
		n += countPURLs(c.Components)
	}
	return n
}

// TestSBOMBaseOriginFromAnnotations pushes an application image on top of the
// Debian image whose manifest names the Debian image as its base; every
// Debian package must then be attributed to the base.
func TestSBOMBaseOriginFromAnnotations(t *testing.T) {
	e := setup(t)
	baseRef, base, baseDigest := e.pushDebian(t)
	app, err := e2eimage.App(base, baseRef, baseDigest)
	if err != nil {
		t.Fatal(err)
	}
	appRef := e.registry + "/e2e/app:1"
	push(t, appRef, app)
	ids := diffIDs(t, app)
	if len(ids) != 2 {
		t.Fatalf("app image has %d layers, want 2", len(ids))
	}

	inv := e.sbomJSON(t, t.TempDir(), appRef)
	if inv.Source.BaseDigest != baseDigest.String() {
		t.Errorf("source.baseDigest = %q, want %s", inv.Source.BaseDigest, baseDigest)
	}
	if inv.Source.BaseLayers != 1 {
		t.Errorf("source.baseLayers = %d, want 1", inv.Source.BaseLayers)
	}
	wantOrigin := []inventory.Origin{inventory.OriginBase, inventory.OriginApp}
	var gotOrigin []inventory.Origin
	for _, l := range inv.Layers {
		gotOrigin = append(gotOrigin, l.Origin)
	}
	if diff := cmp.Diff(wantOrigin, gotOrigin); diff != "" {
		t.Errorf("layer origins (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(dpkgPackages(t, e.rootfs), debPackages(t, inv)); diff != "" {
		t.Errorf("packages differ from dpkg-query on the rootfs (-dpkg +drydock):\n%s", diff)
	}
	for _, p := range inv.Packages {
		if p.Origin != inventory.OriginBase || p.Layer != ids[0].String() {
			t.Errorf("package %s: origin %q layer %q, want origin base, layer %s", p.Name, p.Origin, p.Layer, ids[0])
		}
	}
}
