package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/testenv"
)

// A base push leads drydock rebuild to rebase the app, scan it, evaluate
// the policy and sign a verdict that drydock verify then accepts.
func TestRebuildScansAndSigns(t *testing.T) {
	e := newEnv(t)
	lay := demoLayout(t)
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	if _, errOut, code := e.run(t, "db", "import", pypi); code != 0 {
		t.Fatalf("db import: %s", errOut)
	}
	keyPrefix := filepath.Join(t.TempDir(), "ci")
	if _, errOut, code := e.run(t, "key", "generate", "--unencrypted", "--output-key-prefix", keyPrefix); code != 0 {
		t.Fatalf("key generate: %s", errOut)
	}
	host := startRegistry(t, false)
	base := pushLayoutImage(t, lay, "base", host+"/os/debian:12")
	app := pushLayoutImage(t, lay, "app", host+"/team/app:1")

	// The base moves: the same image plus a security-update layer.
	baseImg, err := remote.Image(base)
	if err != nil {
		t.Fatal(err)
	}
	upd, err := random.Layer(512, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	newBase, err := mutate.AppendLayers(baseImg, upd)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(host + "/os/debian:12")
	if err := remote.Write(tag, newBase); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "drydock.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`images:
  - name: app
    image: %s/team/app:1
    base: %s/os/debian:12
    rebuild:
      kind: rebase
`, host, host)), 0o644)
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte("apiVersion: drydock.dev/v1\nkind: Policy\nmetadata:\n  name: ci\nspec:\n  maxSeverity: HIGH\n  unknownSeverity: ignore\n"), 0o644)

	out, errOut, code := e.run(t, "rebuild", "--config", cfg, "--key", keyPrefix+".key", "--policy", pol, "--format", "json")
	if code != 0 {
		t.Fatalf("rebuild: exit %d\n%s\n%s", code, out, errOut)
	}
	appTag, _ := name.NewTag(host + "/team/app:1")
	rebuilt, err := remote.Head(appTag)
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt.Digest.String() == app.DigestStr() {
		t.Fatalf("app tag did not move:\n%s", out)
	}
	out, errOut, code = e.run(t, "verify", "--key", keyPrefix+".pub", "--require-pass", "--format", "json", host+"/team/app:1")
	if code != 0 {
		t.Fatalf("verify the rebuilt image: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, rebuilt.Digest.String()) || !strings.Contains(out, `"ci"`) {
		t.Errorf("verdict is not about the rebuilt digest under policy ci:\n%s", out)
	}
}
