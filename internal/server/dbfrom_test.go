package server_test

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/dbdist"
	"github.com/drydock/drydock/internal/server"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/vulndb"
)

// Issue 16: the server pointed at a database reference (dbFrom). The first
// artifact is signed by a key it does not trust: the pull fails, is
// recorded as an event, and nothing is installed (no findings, nothing
// signed). The same database re-pushed with the trusted key is picked up
// on the retry: installed, and the crawled image re-matched with findings.
func TestServerDBFromRegistry(t *testing.T) {
	ctx := context.Background()
	lay := demoLayout(t)
	reg := startRegistry(t)
	push(t, lay, "app", reg.host+"/team/app:1")

	src := filepath.Join(t.TempDir(), "vulndb.sqlite")
	if _, err := vulndb.Import(ctx, src, []string{filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")}); err != nil {
		t.Fatal(err)
	}
	trusted, _ := attest.GenerateKey()
	untrusted, _ := attest.GenerateKey()
	pub, _ := attest.MarshalPublicKey(&trusted.PublicKey)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "db.pub")
	if err := os.WriteFile(keyFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(reg.host + "/security/vulndb:latest")
	pushDB := func(k *ecdsa.PrivateKey) {
		t.Helper()
		s, err := attest.NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dbdist.Push(ctx, src, tag, s); err != nil {
			t.Fatal(err)
		}
	}
	pushDB(untrusted)

	dbPath := filepath.Join(dir, "vulndb.sqlite")
	cfg := fmt.Sprintf(`server:
  registries:
    - registry: %s
      repositories: ["team/app"]
  crawlInterval: 1s
  dbUpdateInterval: 1s
  dbFrom: oci://%s
  dbKeys: [%s]
  dbPullInterval: 1m
`, reg.host, tag, keyFile)
	c := startServer(t, cfg, dir, dbPath, func(o *server.Options) {
		sc := o.Server
		ref, err := dbdist.ParseFrom(sc.DBFrom)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := dbdist.LoadKeys(sc.DBKeys)
		if err != nil {
			t.Fatal(err)
		}
		o.DBSync = &dbdist.Syncer{DBPath: dbPath, Ref: ref, Keys: keys}
	})

	type events struct {
		Events []struct{ Kind, Detail string }
	}
	var failed string
	waitFor(t, "the untrusted pull recorded", func() bool {
		var evs events
		c.get(t, "/api/v1/events?kind=db-update", &evs)
		for _, e := range evs.Events {
			if strings.Contains(e.Detail, "failed") {
				failed = e.Detail
				return true
			}
		}
		return false
	})
	if !strings.Contains(failed, "no valid signature by a trusted key") || !strings.Contains(failed, "installed database kept") {
		t.Errorf("failure event %q", failed)
	}
	if _, err := os.Stat(dbPath); err == nil {
		t.Error("a database signed by an untrusted key was installed")
	}
	var ims imagesResp
	waitFor(t, "the app image scanned", func() bool {
		ims = imagesResp{}
		c.get(t, "/api/v1/images", &ims)
		return len(ims.Images) == 1 && !ims.Images[0].ScannedAt.IsZero()
	})
	if ims.Images[0].Counts.Total != 0 {
		t.Errorf("findings without a database: %+v", ims.Images[0].Counts)
	}

	// Signed by the trusted key: installed on the retry, then re-matched.
	pushDB(trusted)
	waitFor(t, "findings from the pulled database", func() bool {
		ims = imagesResp{}
		c.get(t, "/api/v1/images", &ims)
		return len(ims.Images) == 1 && ims.Images[0].Counts.Total > 0
	})
	db, err := vulndb.Open(ctx, dbPath)
	if err != nil {
		t.Fatalf("installed database: %v", err)
	}
	db.Close()
}
