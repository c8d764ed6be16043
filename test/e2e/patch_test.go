package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/drydock/drydock/internal/patch"
	"github.com/drydock/drydock/internal/patchexec"
	"github.com/drydock/drydock/internal/rebuild"
)

const envRootfsUpgradedTar = "DRYDOCK_E2E_ROOTFS_UPGRADED_TAR"

// patchEnv is what the patch tests share: the upgraded rootfs made by
// scripts/debian-rootfs-upgraded.sh and the bookworm-security source line
// that script used (it leaves it in the upgraded rootfs), so the tests
// patch against exactly the archive the expected versions came from.
type patchEnv struct {
	*env
	upgraded string
	source   string
	buildah  string
}

func setupPatch(t *testing.T) *patchEnv {
	t.Helper()
	e := setup(t)
	up := filepath.Join(filepath.Dir(need(t, envRootfsUpgradedTar, "upgraded Debian rootfs")), "rootfs")
	b, err := os.ReadFile(filepath.Join(up, "etc/apt/sources.list.d/security.list"))
	if err != nil {
		t.Fatalf("the upgraded rootfs does not say which security archive it used: %v", err)
	}
	src := strings.TrimSpace(string(b))
	if !strings.HasPrefix(src, "deb ") || strings.Contains(src, "\n") {
		t.Fatalf("security.list of the upgraded rootfs: %q, want one deb line", src)
	}
	bh, err := exec.LookPath("buildah")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("buildah is not installed (scripts/test.sh installs it): %v", err)
		}
		t.Skipf("buildah is not installed (scripts/test.sh installs it): %v", err)
	}
	return &patchEnv{env: e, upgraded: up, source: src, buildah: bh}
}

// runLong runs drydock with a timeout fit for a patch (apt in a vfs
// container copies the whole image) and returns stdout, stderr and the
// exit error.
func (e *patchEnv) runLong(t *testing.T, args ...string) ([]byte, []byte, error) {
	t.Helper()
	if e.bin == "" {
		e.bin = buildDrydock(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = append(os.Environ(), "DRYDOCK_CACHE_DIR=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("drydock %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return stdout.Bytes(), stderr.Bytes(), err
}

// appImage is the Debian image with a config a patch must keep: a
// non-root user, an entrypoint, an environment variable.
func (e *patchEnv) appImage(t *testing.T, repo string) (string, v1.Image) {
	t.Helper()
	_, base, _ := e.pushDebian(t)
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.User = "nobody"
	cfg.Entrypoint = []string{"/bin/sh", "-c"}
	cfg.Cmd = []string{"echo patched app"}
	cfg.Env = append(slices.Clone(cfg.Env), "DRYDOCK_E2E_APP=1")
	img, err := mutate.Config(base, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref := e.registry + "/" + repo + ":1"
	push(t, ref, img)
	return ref, img
}

// TestPatchDebianAllUpdates patches the debootstrap bookworm image against
// bookworm-security and holds the result to what apt-get upgrade did to
// the same rootfs in scripts/debian-rootfs-upgraded.sh.
func TestPatchDebianAllUpdates(t *testing.T) {
	e := setupPatch(t)
	ref, orig := e.appImage(t, "e2e/patch-src")
	target := e.registry + "/e2e/patched:1"
	cache := t.TempDir()

	stdout, stderr, err := e.runLong(t, "patch", ref, "-t", target, "--all-updates", "--apt-source", e.source, "-f", "json", "--cache-dir", cache)
	if err != nil {
		t.Fatalf("drydock patch: %v\n%s", err, stderr)
	}
	var out patch.Outcome
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("patch -f json: %v\n%s", err, stdout)
	}

	// The upgrades are exactly what apt-get upgrade changed in the
	// upgraded rootfs: same packages, same old and new versions.
	before := versions(dpkgPackages(t, e.rootfs))
	after := versions(dpkgPackages(t, e.upgraded))
	var want []string
	for n, v := range after {
		if before[n] != v {
			want = append(want, n+" "+before[n]+" -> "+v)
		}
	}
	if len(want) == 0 {
		t.Fatal("the upgraded rootfs has no newer package: nothing to compare with")
	}
	var got []string
	for _, u := range out.Upgrades {
		got = append(got, u.Package+" "+u.From+" -> "+u.To)
	}
	slices.Sort(want)
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("upgrades (-apt-get upgrade of the rootfs +drydock patch):\n%s", d)
	}

	// One layer on top of the unchanged original layers; the config kept;
	// the annotations name the original and the packages.
	r, err := name.ParseReference(target, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatalf("the patched image was not pushed: %v", err)
	}
	if !strings.HasSuffix(out.Image, "@"+desc.Digest.String()) {
		t.Errorf("patch reported %s, the registry has %s", out.Image, desc.Digest)
	}
	pimg, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	od, pd := diffIDs(t, orig), diffIDs(t, pimg)
	if len(pd) != len(od)+1 || !slices.Equal(pd[:len(od)], od) {
		t.Errorf("patched layers %v, want the original's %v plus one", pd, od)
	}
	ocf, _ := orig.ConfigFile()
	pcf, _ := pimg.ConfigFile()
	if d := cmp.Diff([]any{ocf.Config.User, ocf.Config.Entrypoint, ocf.Config.Cmd, ocf.Config.Env},
		[]any{pcf.Config.User, pcf.Config.Entrypoint, pcf.Config.Cmd, pcf.Config.Env}); d != "" {
		t.Errorf("config changed (-original +patched):\n%s", d)
	}
	m, err := pimg.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	odig, _ := orig.Digest()
	if m.Annotations[patchexec.AnnotationOriginal] != odig.String() {
		t.Errorf("annotation %s = %q, want %s", patchexec.AnnotationOriginal, m.Annotations[patchexec.AnnotationOriginal], odig)
	}
	var pk []string
	for _, u := range out.Upgrades {
		pk = append(pk, u.Package+"="+u.To)
	}
	if m.Annotations[patchexec.AnnotationPackages] != strings.Join(pk, ",") {
		t.Errorf("annotation %s = %q, want %q", patchexec.AnnotationPackages, m.Annotations[patchexec.AnnotationPackages], strings.Join(pk, ","))
	}

	// The patch layer holds the package database and package files, not
	// apt's lists, caches or logs.
	ls, err := pimg.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := layerFiles(t, ls[len(ls)-1])
	if !slices.Contains(files, "var/lib/dpkg/status") {
		t.Error("the patch layer does not update var/lib/dpkg/status")
	}
	for _, f := range files {
		for _, bad := range []string{"var/lib/apt/lists/", "var/cache/apt/", "var/log/", "etc/apt/sources.list.d/drydock", "tmp/", "var/lib/dpkg/status-old"} {
			if strings.HasPrefix(f, bad) {
				t.Errorf("the patch layer holds %s", f)
			}
		}
	}
	size, _ := ls[len(ls)-1].Size()
	t.Logf("patch layer: %d entries, %d bytes compressed, %d upgrades", len(files), size, len(out.Upgrades))

	// drydock's SBOM of the result: every package of the upgraded rootfs at
	// the upgraded rootfs's version, and no package the original lacks.
	pinv := e.sbomJSON(t, cache, target)
	sbom := versions(debPackages(t, pinv))
	if d := cmp.Diff(after, sbom); d != "" {
		t.Errorf("SBOM of the patched image (-upgraded rootfs +patched image):\n%s", d)
	}
	oinv := e.sbomJSON(t, cache, ref)
	if d := cmp.Diff(names(versions(debPackages(t, oinv))), names(sbom)); d != "" {
		t.Errorf("package set changed (-original +patched):\n%s", d)
	}

	// dpkg inside the patched image agrees with the SBOM, and still runs.
	store := []string{"--storage-driver", "vfs", "--root", filepath.Join(cache, "buildah", "root"), "--runroot", filepath.Join(cache, "buildah", "run")}
	bh := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, e.buildah, append(slices.Clone(store), args...)...)
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		if err := cmd.Run(); err != nil {
			t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, se.String())
		}
		return so.String()
	}
	ctr := strings.TrimSpace(bh("from", "--tls-verify=false", "--quiet", "docker://"+target))
	defer bh("rm", ctr)
	inside := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(bh("run", "--isolation", "chroot", ctr, "--", "dpkg-query", "-W", "-f", `${Package}\t${Version}\n`)), "\n") {
		n, v, _ := strings.Cut(l, "\t")
		inside[n] = v
	}
	if d := cmp.Diff(inside, sbom); d != "" {
		t.Errorf("dpkg-query inside the patched image vs drydock's SBOM (-dpkg +sbom):\n%s", d)
	}
	if v := bh("run", "--isolation", "chroot", ctr, "--", "dpkg", "--version"); !strings.Contains(v, "Debian 'dpkg' package management program") {
		t.Errorf("dpkg --version in the patched image: %q", v)
	}
}

// TestPatchFailsClosed: an unreachable package source, and a planned
// package the sources have no upgrade for, both fail naming what failed,
// and nothing is pushed.
func TestPatchFailsClosed(t *testing.T) {
	e := setupPatch(t)
	ref, orig := e.appImage(t, "e2e/patch-closed")
	cache := t.TempDir()

	target := e.registry + "/e2e/patched-closed:1"
	_, stderr, err := e.runLong(t, "patch", ref, "-t", target, "--all-updates", "--apt-source", "deb http://127.0.0.1:9/debian bookworm-security main", "--cache-dir", cache)
	if err == nil {
		t.Fatal("patch with an unreachable source succeeded")
	}
	if !strings.Contains(string(stderr), "apt-get update") || !strings.Contains(string(stderr), "unreachable") {
		t.Errorf("error does not say the source is unreachable:\n%s", stderr)
	}
	r, _ := name.ParseReference(target, name.Insecure)
	var terr *transport.Error
	if _, err := remote.Head(r); !errors.As(err, &terr) || terr.StatusCode != 404 {
		t.Errorf("%s after a failed patch: %v, want 404", target, err)
	}

	// A plan the database might make: dpkg fixed in a version the archive
	// does not have. The executor must refuse, naming dpkg.
	var dpkgVer string
	for _, p := range dpkgPackages(t, e.rootfs) {
		if p.Name == "dpkg" {
			dpkgVer = p.Version
		}
	}
	plan := &patch.Plan{Manager: patch.ManagerApt, Mode: patch.ModeFindings, Items: []patch.Item{{Package: "dpkg", Installed: dpkgVer, Source: "dpkg", Target: "99.0"}}}
	x := &patchexec.Buildah{Path: e.buildah, WorkDir: t.TempDir(), Sources: []string{e.source}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := x.Patch(ctx, orig, plan)
	if err == nil {
		res.Close()
		t.Fatal("a plan no archive can satisfy was patched")
	}
	if !strings.Contains(err.Error(), "dpkg (installed "+dpkgVer+", wanted >= 99.0)") {
		t.Errorf("error does not name the package: %v", err)
	}
}

func versions(ps []pkg) map[string]string {
	m := map[string]string{}
	for _, p := range ps {
		m[p.Name] = p.Version
	}
	return m
}

func names(m map[string]string) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func layerFiles(t *testing.T, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimPrefix(filepath.Clean("/"+h.Name), "/"))
	}
}

// distrolessImage is the debootstrap rootfs made distroless-style: one
// var/lib/dpkg/status.d/<package> stanza per package (no Status field),
// no var/lib/dpkg/status, no dpkg maintainer data, no dpkg or apt binaries.
func distrolessImage(t *testing.T, rootfsTar string) v1.Image {
	t.Helper()
	in, err := os.Open(rootfsTar)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	file := filepath.Join(t.TempDir(), "distroless.tar")
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	var status []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimPrefix(filepath.Clean("/"+h.Name), "/")
		switch {
		case p == "var/lib/dpkg/status":
			if status, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
			continue
		case p == "var/lib/dpkg/status-old", strings.HasPrefix(p, "var/lib/dpkg/info/"), strings.HasPrefix(p, "usr/bin/dpkg"),
			strings.HasPrefix(p, "usr/bin/apt"), strings.HasPrefix(p, "var/lib/apt/lists/"):
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if status == nil {
		t.Fatal("the rootfs has no var/lib/dpkg/status")
	}
	n := 0
	for _, st := range strings.Split(strings.TrimSpace(string(status)), "\n\n") {
		var lines []string
		pkgName := ""
		for _, l := range strings.Split(st, "\n") {
			if strings.HasPrefix(l, "Status:") {
				continue
			}
			if v, ok := strings.CutPrefix(l, "Package: "); ok {
				pkgName = v
			}
			lines = append(lines, l)
		}
		body := strings.Join(lines, "\n") + "\n"
		if err := tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/status.d/" + pkgName, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
		n++
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	t.Logf("distroless-style image: %d status.d entries", n)
	layer, err := tarball.LayerFromFile(file, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(1))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{Layer: layer, MediaType: types.OCILayer})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.User = "65532"
	cf.Config.Entrypoint = []string{"/usr/bin/env"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestPatchDistroless patches a distroless-style image: packages downloaded
// by apt in a helper container of the Debian image, their files laid into
// the layer from outside, status.d entries replaced.
func TestPatchDistroless(t *testing.T) {
	e := setupPatch(t)
	helper, _, _ := e.pushDebian(t)
	orig := distrolessImage(t, e.rootfsTar)
	ref := e.registry + "/e2e/distroless:1"
	push(t, ref, orig)
	target := e.registry + "/e2e/distroless-patched:1"
	cache := t.TempDir()

	stdout, stderr, err := e.runLong(t, "patch", ref, "-t", target, "--all-updates", "--apt-source", e.source, "--helper-image", helper, "-f", "json", "--cache-dir", cache)
	if err != nil {
		t.Fatalf("drydock patch: %v\n%s", err, stderr)
	}
	var out patch.Outcome
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("patch -f json: %v\n%s", err, stdout)
	}
	if out.Plan == nil || out.Plan.Manager != patch.ManagerDpkgStatusD {
		t.Fatalf("plan %+v, want the dpkg-status.d executor", out.Plan)
	}
	before := versions(dpkgPackages(t, e.rootfs))
	after := versions(dpkgPackages(t, e.upgraded))
	var want, got []string
	for n, v := range after {
		if before[n] != v {
			want = append(want, n+" "+before[n]+" -> "+v)
		}
	}
	for _, u := range out.Upgrades {
		got = append(got, u.Package+" "+u.From+" -> "+u.To)
	}
	slices.Sort(want)
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("upgrades (-apt-get upgrade of the rootfs +drydock patch):\n%s", d)
	}

	// The SBOM of the result reads the new status.d entries.
	sbom := versions(debPackages(t, e.sbomJSON(t, cache, target)))
	if d := cmp.Diff(after, sbom); d != "" {
		t.Errorf("SBOM of the patched distroless image (-upgraded rootfs +patched image):\n%s", d)
	}

	// Every file of the layer under usr/ is byte for byte the file apt
	// installed in the upgraded rootfs, and the usrmerge links are kept.
	r, _ := name.ParseReference(target, name.Insecure)
	pimg, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if od, pd := diffIDs(t, orig), diffIDs(t, pimg); len(pd) != len(od)+1 || !slices.Equal(pd[:len(od)], od) {
		t.Errorf("patched layers %v, want the original's %v plus one", pd, od)
	}
	ls, _ := pimg.Layers()
	rc, err := ls[len(ls)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	compared := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimPrefix(filepath.Clean("/"+h.Name), "/")
		if first, _, _ := strings.Cut(p, "/"); slices.Contains([]string{"lib", "lib64", "bin", "sbin"}, first) {
			t.Errorf("the layer writes %s, under a usrmerge symlink of the image", p)
		}
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(p, "usr/") {
			continue
		}
		body, _ := io.ReadAll(tr)
		wantBody, err := os.ReadFile(filepath.Join(e.upgraded, p))
		if err != nil {
			t.Errorf("%s is in the layer but not in the upgraded rootfs: %v", p, err)
			continue
		}
		if !bytes.Equal(body, wantBody) {
			t.Errorf("%s differs from the upgraded rootfs's", p)
		}
		compared++
	}
	if compared == 0 {
		t.Error("the patch layer has no file under usr/")
	}
	t.Logf("compared %d files of the patch layer with the upgraded rootfs", compared)
}

// TestPatchFromFindings is the default, database-driven selection. The
// shared Debian tracker sample has no fixable finding for this rootfs, so
// the test writes one OSV record per source package that
// scripts/debian-rootfs-upgraded.sh upgraded, fixed at the version the
// security archive has (read from the upgraded rootfs, not hard-coded).
// The patch must upgrade exactly those packages, and a rescan of the
// result with the same database must show none of the findings.
func TestPatchFromFindings(t *testing.T) {
	e := setupPatch(t)
	ref, _ := e.appImage(t, "e2e/patch-findings")
	target := e.registry + "/e2e/patched-findings:1"
	cache, data := t.TempDir(), t.TempDir()
	ids, fixed, want := e.importFixAdvisories(t, data)
	findingIDs := func(ref string) []string { return e.findingIDs(t, data, cache, ref) }
	slices.Sort(ids)
	if d := cmp.Diff(ids, findingIDs(ref)); d != "" {
		t.Fatalf("findings of the original (-records +scan):\n%s", d)
	}

	// The dry run prints the plan from the database alone: every binary
	// package of the advisories' sources, with the advisory it fixes.
	planOut, stderr, err := e.runLong(t, "patch", ref, "--dry-run", "-f", "json", "--data-dir", data, "--cache-dir", cache)
	if err != nil {
		t.Fatalf("drydock patch --dry-run: %v\n%s", err, stderr)
	}
	var plan patch.Plan
	if err := json.Unmarshal(planOut, &plan); err != nil {
		t.Fatalf("patch --dry-run -f json: %v\n%s", err, planOut)
	}
	var planned, wantPlanned []string
	for _, it := range plan.Items {
		planned = append(planned, it.Package+" "+it.Target+" "+strings.Join(it.Findings, ","))
		wantPlanned = append(wantPlanned, it.Package+" "+fixed[it.Source]+" DRYDOCK-E2E-"+it.Source)
	}
	if d := cmp.Diff(wantPlanned, planned); d != "" || len(planned) != len(want) {
		t.Errorf("dry-run plan (-advisories +plan):\n%s\n%d items, want %d", d, len(planned), len(want))
	}
	tr, _ := name.ParseReference(target, name.Insecure)
	var terr *transport.Error
	if _, err := remote.Head(tr); !errors.As(err, &terr) || terr.StatusCode != 404 {
		t.Errorf("%s after a dry run: %v, want 404", target, err)
	}

	stdout, stderr, err := e.runLong(t, "patch", ref, "-t", target, "--apt-source", e.source, "-f", "json", "--data-dir", data, "--cache-dir", cache)
	if err != nil {
		t.Fatalf("drydock patch: %v\n%s", err, stderr)
	}
	var out patch.Outcome
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("patch -f json: %v\n%s", err, stdout)
	}
	if out.Plan == nil || out.Plan.Mode != patch.ModeFindings {
		t.Fatalf("plan %+v, want the findings selection", out.Plan)
	}
	var got []string
	for _, u := range out.Upgrades {
		got = append(got, u.Package+" "+u.From+" -> "+u.To)
	}
	slices.Sort(want)
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("upgrades (-packages of the advisories' sources +drydock patch):\n%s", d)
	}
	if left := findingIDs(target); len(left) > 0 {
		t.Errorf("a rescan of the patched image still finds %v", left)
	}
}

// findingIDs scans ref with the database in data and returns the ids of
// the importFixAdvisories records it finds.
func (e *patchEnv) findingIDs(t *testing.T, data, cache, ref string) []string {
	t.Helper()
	out, stderr, err := e.runLong(t, "scan", ref, "-f", "json", "--data-dir", data, "--cache-dir", cache)
	if err != nil {
		t.Fatalf("scan %s: %v\n%s", ref, err, stderr)
	}
	var doc struct {
		Findings []struct {
			ID string `json:"id"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("scan -f json: %v", err)
	}
	var got []string
	for _, f := range doc.Findings {
		if strings.HasPrefix(f.ID, "DRYDOCK-E2E-") {
			got = append(got, f.ID)
		}
	}
	slices.Sort(got)
	return slices.Compact(got)
}

// importFixAdvisories writes one OSV record per Debian source package that
// scripts/debian-rootfs-upgraded.sh upgraded (affected below the upgraded
// version) and imports them into data. It returns the record IDs, the fixed
// source versions by source, and the binary upgrades expected
// ("name from -> to").
func (e *patchEnv) importFixAdvisories(t *testing.T, data string) (ids []string, fixed map[string]string, want []string) {
	t.Helper()
	osv := t.TempDir()
	before := map[string]pkg{}
	for _, p := range dpkgPackages(t, e.rootfs) {
		before[p.Name] = p
	}
	fixed = map[string]string{} // source → fixed source version
	for _, p := range dpkgPackages(t, e.upgraded) {
		if b, ok := before[p.Name]; ok && b.Version != p.Version {
			fixed[p.SourceName] = p.SourceVersion
			want = append(want, p.Name+" "+b.Version+" -> "+p.Version)
		}
	}
	if len(fixed) == 0 {
		t.Fatal("the upgraded rootfs has no newer package")
	}
	for src, v := range fixed {
		id := "DRYDOCK-E2E-" + src
		ids = append(ids, id)
		rec := map[string]any{
			"schema_version": "1.6.0", "id": id, "modified": "2026-01-01T00:00:00Z", "summary": "end-to-end test advisory for " + src,
			"affected": []any{map[string]any{
				"package": map[string]string{"ecosystem": "Debian:12", "name": src},
				"ranges":  []any{map[string]any{"type": "ECOSYSTEM", "events": []any{map[string]string{"introduced": "0"}, map[string]string{"fixed": v}}}},
			}},
		}
		b, _ := json.Marshal(rec)
		if err := os.WriteFile(filepath.Join(osv, id+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, err := e.runLong(t, "db", "import", "--data-dir", data, osv); err != nil {
		t.Fatalf("db import: %v\n%s", err, stderr)
	}
	slices.Sort(ids)
	slices.Sort(want)
	return ids, fixed, want
}

// TestPatchRebuildExecutor runs rebuild.kind patch as the freshness loop
// would, for an image whose base has not moved: it pushes the patch, and
// a retried request finds it and runs nothing.
func TestPatchRebuildExecutor(t *testing.T) {
	e := setupPatch(t)
	ref, orig := e.appImage(t, "e2e/patch-exec")
	od, _ := orig.Digest()
	r, _ := name.ParseReference(ref, name.Insecure)
	current := r.Context().Digest(od.String()).String()
	target := e.registry + "/e2e/patch-exec:1-patched"
	cfg := map[string]string{"select": "all-updates", "sources": e.source, "buildah": e.buildah, "work_dir": t.TempDir()}
	x, err := rebuild.New("patch", cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := rebuild.Request{Name: "app", Target: target, Current: current, OldBase: current, NewBase: current, ID: "patch-e2e"}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	res, err := x.Rebuild(ctx, req)
	if err != nil {
		t.Fatalf("patch executor: %v", err)
	}
	t.Logf("%s", res.Log)
	pr, err := name.ParseReference(res.Image, name.Insecure)
	if err != nil {
		t.Fatalf("result image %q: %v", res.Image, err)
	}
	pimg, err := remote.Image(pr)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := pimg.Manifest()
	if m.Annotations[patchexec.AnnotationOriginal] != od.String() {
		t.Errorf("annotation %s = %q, want %s", patchexec.AnnotationOriginal, m.Annotations[patchexec.AnnotationOriginal], od)
	}
	after := versions(dpkgPackages(t, e.upgraded))
	for _, p := range strings.Split(m.Annotations[patchexec.AnnotationPackages], ",") {
		n, v, _ := strings.Cut(p, "=")
		if after[n] != v {
			t.Errorf("patched %s to %s, the upgraded rootfs has %s", n, v, after[n])
		}
	}

	cfg["buildah"] = "/nonexistent/buildah"
	x, err = rebuild.New("patch", cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := x.Rebuild(ctx, req)
	if err != nil {
		t.Fatalf("retried patch: %v", err)
	}
	if again.Image != res.Image {
		t.Errorf("retry returned %s, want the pushed %s", again.Image, res.Image)
	}
}
