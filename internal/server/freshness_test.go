package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/report"
	"github.com/drydock/drydock/internal/server"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/vulndb"
)

// The freshness loop runs as a job of the server: a new base push (a
// registry event) leads to the app rebuilt on it, the rebuilt digest
// crawled and scanned, a rebuild event recorded, and a verdict signed for it.
func TestServerFreshnessLoop(t *testing.T) {
	lay := demoLayout(t)
	reg := startRegistry(t)
	base := push(t, lay, "base", reg.host+"/os/debian:12")
	app := push(t, lay, "app", reg.host+"/team/app:1")
	dir := t.TempDir()
	yaml := fmt.Sprintf(`images:
  - name: app
    image: %s/team/app:1
    base: %s/os/debian:12
    rebuild:
      kind: rebase
watch:
  pollInterval: 0s
server:
  crawlInterval: 0s
  dbUpdateInterval: 0s
`, reg.host, reg.host)
	key, _ := attest.GenerateKey()
	signer, _ := attest.NewSigner(key)
	r := newReconciler(context.Background(), t, yaml, nil)
	// Verdicts are signed only against a database.
	crates := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "crates.io", "all.zip")
	if _, err := vulndb.Import(context.Background(), filepath.Join(dir, "vulndb.sqlite"), []string{crates}); err != nil {
		t.Fatal(err)
	}
	c := startServer(t, yaml, dir, filepath.Join(dir, "vulndb.sqlite"), func(o *server.Options) {
		o.Reconciler = r
		o.Signer = signer
	})

	moveBase(t, c, base, reg.host, "os/debian", "12")
	var rebuilt string
	waitFor(t, "the app rebuilt", func() bool {
		appTag, _ := name.NewTag(reg.host + "/team/app:1")
		d, err := remote.Head(appTag)
		if err == nil && d.Digest.String() != app.DigestStr() {
			rebuilt = d.Digest.String()
			return true
		}
		return false
	})
	waitFor(t, "the rebuilt image scanned and its verdict recorded", func() bool {
		var d struct {
			ScannedAt time.Time
			Verdict   *struct{ Result string }
		}
		return c.get(t, "/api/v1/images/"+rebuilt, &d) == 200 && !d.ScannedAt.IsZero() && d.Verdict != nil
	})
	var evs struct {
		Events []struct{ Kind, Digest string }
	}
	c.get(t, "/api/v1/events?kind=rebuild", &evs)
	if len(evs.Events) == 0 || evs.Events[0].Digest != rebuilt {
		t.Errorf("rebuild events = %+v; want one for %s", evs.Events, rebuilt)
	}
}

// newReconciler is the freshness loop over the config in yaml, its scans
// inventories only (verdicts come from the server's own scan jobs).
func newReconciler(ctx context.Context, t *testing.T, yaml string, deploy *loop.DeployOptions) *freshness.Reconciler {
	t.Helper()
	cfg, err := freshness.ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	scanDir := t.TempDir()
	r, err := loop.NewReconciler(ctx, loop.Options{Config: cfg, UserAgent: "drydock-test",
		Tool: attest.Scanner{Name: "drydock", Version: "test"},
		Scan: func(ctx context.Context, ref string) (*report.ScanReport, error) {
			inv, err := loop.Inventory(ctx, ref, loop.InventoryOptions{CacheDir: scanDir, TempDir: scanDir, Tool: "test"})
			if err != nil {
				return nil, err
			}
			return &report.ScanReport{Inventory: inv}, nil
		},
		Deploy: deploy,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Store.Close() })
	return r
}

// moveBase pushes host/repo:tag anew, base with a security-update layer on
// top, and posts the registry's push event to the server.
func moveBase(t *testing.T, c *client, base name.Digest, host, repo, tag string) {
	t.Helper()
	baseImg, err := remote.Image(base)
	if err != nil {
		t.Fatal(err)
	}
	upd, _ := random.Layer(512, "application/vnd.oci.image.layer.v1.tar+gzip")
	newBase, _ := mutate.AppendLayers(baseImg, upd)
	ref, _ := name.NewTag(host + "/" + repo + ":" + tag)
	if err := remote.Write(ref, newBase); err != nil {
		t.Fatal(err)
	}
	nb, _ := newBase.Digest()
	ev := fmt.Sprintf(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"repository":%q,"tag":%q},"request":{"host":%q}}]}`, nb, repo, tag, host)
	if code, body := c.do(t, "POST", "/events/distribution?token=event-token", "", ev); code != 202 {
		t.Fatalf("push event: %d %s", code, body)
	}
}

// POST /api/v1/rebuild rebuilds the one image asked for: of two images
// whose base moved, only the requested one is rebuilt, and its rebuild
// event records it as an application image.
func TestServerRebuildOneImage(t *testing.T) {
	lay := demoLayout(t)
	reg := startRegistry(t)
	base := push(t, lay, "base", reg.host+"/os/debian:12")
	app := push(t, lay, "app", reg.host+"/team/app:1")
	appImg, _ := remote.Image(app)
	extra, _ := random.Layer(256, "application/vnd.oci.image.layer.v1.tar+gzip")
	otherImg, _ := mutate.AppendLayers(appImg, extra)
	otherTag, _ := name.NewTag(reg.host + "/team/other:1")
	if err := remote.Write(otherTag, otherImg); err != nil {
		t.Fatal(err)
	}
	otherDigest, _ := otherImg.Digest()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`images:
  - name: app
    image: %[1]s/team/app:1
    base: %[1]s/os/debian:12
    rebuild:
      kind: rebase
  - name: other
    image: %[1]s/team/other:1
    base: %[1]s/os/debian:12
    rebuild:
      kind: rebase
watch:
  pollInterval: 0s
server:
  registries:
    - registry: %[1]s
      repositories: ["team/app", "team/other"]
  crawlInterval: 1h
  dbUpdateInterval: 0s
`, reg.host)
	r := newReconciler(context.Background(), t, yaml, nil)
	c := startServer(t, yaml, dir, filepath.Join(dir, "vulndb.sqlite"), func(o *server.Options) { o.Reconciler = r })

	// The base moves; no push event: nothing is rebuilt until asked.
	baseImg, _ := remote.Image(base)
	upd, _ := random.Layer(512, "application/vnd.oci.image.layer.v1.tar+gzip")
	newBase, _ := mutate.AppendLayers(baseImg, upd)
	tag, _ := name.NewTag(reg.host + "/os/debian:12")
	if err := remote.Write(tag, newBase); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both images crawled", func() bool {
		var a, o struct{ Digest string }
		return c.get(t, "/api/v1/images/"+app.DigestStr(), &a) == 200 && c.get(t, "/api/v1/images/"+otherDigest.String(), &o) == 200
	})
	code, body := c.do(t, "POST", "/api/v1/rebuild", c.token, `{"digest":"`+app.DigestStr()+`"}`)
	if code != 202 || !strings.Contains(string(body), `"image":"app"`) {
		t.Fatalf("POST /rebuild: %d %s", code, body)
	}
	var rebuilt string
	waitFor(t, "the app rebuilt", func() bool {
		appTag, _ := name.NewTag(reg.host + "/team/app:1")
		d, err := remote.Head(appTag)
		if err == nil && d.Digest.String() != app.DigestStr() {
			rebuilt = d.Digest.String()
			return true
		}
		return false
	})
	var evs struct {
		Events []struct{ Kind, Digest, Role, Detail string }
	}
	waitFor(t, "the rebuild recorded", func() bool {
		c.get(t, "/api/v1/events?kind=rebuild", &evs)
		return len(evs.Events) > 0
	})
	if len(evs.Events) != 1 || evs.Events[0].Digest != rebuilt || evs.Events[0].Role != "app" {
		t.Errorf("rebuild events = %+v; want one, for %s, role app", evs.Events, rebuilt)
	}
	if d, err := remote.Head(otherTag); err != nil || d.Digest != otherDigest {
		t.Errorf("team/other:1 = %v (%v); want it left at %s: only the image asked for is rebuilt", d, err, otherDigest)
	}
}
