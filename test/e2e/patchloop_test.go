package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/patchexec"
	"github.com/drydock/drydock/test/e2e/e2eimage"
)

// TestPatchFreshnessLoop runs `drydock rebuild` with rebuild.kind patch on
// the real registry and the debootstrap bookworm image: while the base tag
// has not moved, the application is patched because the database has fixes
// for its OS packages (the advisories derived from the upgraded rootfs), the
// result is scanned and signed; a second run finds nothing to do; once the
// upgraded rootfs is pushed as the base, the application is rebased from its
// unpatched original, so its layers are the new base's plus its own, and no
// patch layer is carried over.
func TestPatchFreshnessLoop(t *testing.T) {
	e := setupPatch(t)
	dir := t.TempDir()
	data, cache := filepath.Join(dir, "data"), filepath.Join(dir, "cache")
	ids, _, want := e.importFixAdvisories(t, data)

	base, err := e2eimage.Debian(e.rootfsTar)
	if err != nil {
		t.Fatal(err)
	}
	baseRef := e.registry + "/e2e/patchloop-base:12"
	push(t, baseRef, base)
	bd, _ := base.Digest()
	app, err := e2eimage.App(base, baseRef, bd)
	if err != nil {
		t.Fatal(err)
	}
	appRef := e.registry + "/e2e/patchloop-app:1"
	push(t, appRef, app)
	appDigest, _ := app.Digest()
	appLayers := diffIDs(t, app)

	e.run(t, "key", "generate", "--output-key-prefix", filepath.Join(dir, "loop"), "--unencrypted")
	key, pub := filepath.Join(dir, "loop.key"), filepath.Join(dir, "loop.pub")
	cfgPath := filepath.Join(dir, "drydock.yaml")
	src, _ := json.Marshal(e.source)
	bh, _ := json.Marshal(e.buildah)
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
images:
  - name: app
    image: %s
    base: %s
    rebuild:
      kind: patch
      with:
        db: %s
        sources: %s
        buildah: %s
        work_dir: %s
        on_base_update: rebase
`, appRef, baseRef, filepath.Join(data, "vulndb.sqlite"), src, bh, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "watch.sqlite")
	rebuild := func() []freshness.Item {
		t.Helper()
		out, stderr, err := e.runLong(t, "rebuild", "--config", cfgPath, "--store", store, "--format", "json",
			"--data-dir", data, "--cache-dir", cache, "--key", key, "--no-policy")
		if err != nil {
			t.Fatalf("drydock rebuild: %v\n%s\n%s", err, out, stderr)
		}
		var doc struct {
			Images []freshness.Item `json:"images"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("rebuild --format json: %v\n%s", err, out)
		}
		items := doc.Images
		if len(items) != 1 {
			t.Fatalf("rebuild reported %d items, want 1: %s", len(items), out)
		}
		return items
	}

	// 1. The base has not moved; the database has fixes: patched.
	it := rebuild()[0]
	if it.State != freshness.StateDone || !strings.Contains(it.Reason, "unchanged") || !strings.Contains(it.Reason, "OS packages have fixes") {
		t.Fatalf("first run: %+v; want a done patch because of fixes, base unchanged", it)
	}
	if it.Signed == "" {
		t.Errorf("the patched image %s was not signed", it.Result)
	}
	patchedDigest := digestOf(t, appRef)
	if patchedDigest == appDigest.String() {
		t.Fatal("the application tag did not move")
	}
	patched := remoteImage(t, appRef)
	m, _ := patched.Manifest()
	if m.Annotations[patchexec.AnnotationOriginal] != appDigest.String() {
		t.Errorf("patched image: %s = %q, want the original %s", patchexec.AnnotationOriginal, m.Annotations[patchexec.AnnotationOriginal], appDigest)
	}
	pl := diffIDs(t, patched)
	if len(pl) != len(appLayers)+1 || !slices.Equal(pl[:len(appLayers)], appLayers) {
		t.Errorf("patched layers %v, want the application's %v plus one", pl, appLayers)
	}
	got := strings.Split(m.Annotations[patchexec.AnnotationPackages], ",")
	if len(got) != len(want) {
		t.Errorf("the loop's patch upgraded %d packages (%v), the advisories name %d (%v)", len(got), got, len(want), want)
	}
	if left := e.findingIDs(t, data, cache, appRef); len(left) > 0 {
		t.Errorf("a rescan of the patched image still finds %v (advisories %v)", left, ids)
	}
	// The verdict records no policy (--no-policy), so verify needs
	// --allow-failing; without a verdict for this digest it fails anyway.
	patchedRef := e.registry + "/e2e/patchloop-app@" + patchedDigest
	if out, stderr, err := e.runLong(t, "verify", patchedRef, "--key", pub, "--allow-failing", "-f", "json"); err != nil {
		t.Errorf("verify %s: %v\n%s\n%s", patchedRef, err, out, stderr)
	}

	// 2. Nothing left to fix, base unchanged: nothing runs.
	it = rebuild()[0]
	if it.Action != freshness.ActionUpToDate || it.RebuildID != "" {
		t.Errorf("second run: %+v; want up to date", it)
	}
	if d := digestOf(t, appRef); d != patchedDigest {
		t.Errorf("the second run moved the application to %s", d)
	}

	// 3. The base moves to the upgraded rootfs: rebuilt from the original.
	newer, err := e2eimage.Debian(e.upgradedTar(t))
	if err != nil {
		t.Fatal(err)
	}
	push(t, baseRef, newer)
	it = rebuild()[0]
	if it.State != freshness.StateDone || !strings.Contains(it.Reason, "moved") {
		t.Fatalf("after the base moved: %+v; want a done rebuild because the base moved", it)
	}
	rebuilt := remoteImage(t, appRef)
	rl := diffIDs(t, rebuilt)
	wantLayers := append(diffIDs(t, newer), appLayers[len(appLayers)-1])
	if !slices.Equal(rl, wantLayers) {
		t.Errorf("rebuilt layers %v, want the new base's plus the application's %v (no patch layer)", rl, wantLayers)
	}
	rm, _ := rebuilt.Manifest()
	if v, ok := rm.Annotations[patchexec.AnnotationOriginal]; ok {
		t.Errorf("the rebuilt image still says it is a patch of %s", v)
	}
	nd, _ := newer.Digest()
	if rm.Annotations[e2eimage.AnnotationBaseDigest] != nd.String() {
		t.Errorf("rebuilt image's base digest %q, want the new base %s", rm.Annotations[e2eimage.AnnotationBaseDigest], nd)
	}
	if left := e.findingIDs(t, data, cache, appRef); len(left) > 0 {
		t.Errorf("the rebuilt image still has %v", left)
	}
}

func (e *patchEnv) upgradedTar(t *testing.T) string {
	return need(t, envUpgradedTar, "upgraded Debian rootfs")
}

func remoteImage(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("read %s: %v", ref, err)
	}
	return img
}
