package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/test/e2e/e2eimage"
)

// blobProxy stands in front of Debian's docker-registry and counts the
// blob downloads through it; the Host header is passed on, so the
// registry's notifications and upload locations name the proxy.
func blobProxy(t *testing.T, registryHost string) (string, *blobCounter) {
	t.Helper()
	n := &blobCounter{}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: registryHost})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			n.add(r.URL.Path)
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), n
}

// blobCounter counts blob downloads and keeps their paths, so that a
// failure says which blobs were read.
type blobCounter struct {
	mu    sync.Mutex
	paths []string
}

func (c *blobCounter) add(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths = append(c.paths, path)
}

// since returns the paths downloaded after the first n.
func (c *blobCounter) since(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.paths[n:])
}

func (c *blobCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.paths)
}

type apiImage struct {
	Digest    string
	ScannedAt time.Time
	Findings  []struct{ ID string }
	Verdict   *struct{ Result string }
}

func apiGet(t *testing.T, base, path string, v any) int {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func poll(t *testing.T, d time.Duration, what string, p *watchProc, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if p.cmd.ProcessState != nil {
			t.Fatalf("drydock server exited while waiting for %s", what)
		}
		if time.Now().After(end) {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestServerRealRegistry runs `drydock server` against Debian's
// docker-registry with notifications: images pushed are crawled and
// scanned (seen through the API); an OSV set imported afterwards puts
// findings on the stored images with no blob downloaded; a new base push
// (a registry notification) leads to the app rebuilt, scanned and signed.
// It takes the notification port, so it must not run in parallel with
// the freshness tests.
func TestServerRealRegistry(t *testing.T) {
	e := setup(t)
	upgradedTar := need(t, envUpgradedTar, "upgraded Debian rootfs")
	port := need(t, envNotifyPort, "notification port")
	token := need(t, envNotifyToken, "notification token")
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	bin := buildDrydock(t)
	e.bin = bin
	dir := t.TempDir()
	host, blobs := blobProxy(t, e.registry)

	base, err := e2eimage.Debian(e.rootfsTar)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := e2eimage.Debian(upgradedTar)
	if err != nil {
		t.Fatal(err)
	}
	baseRef := host + "/e2e-srv/base:12"
	push(t, baseRef, base)
	bd, _ := base.Digest()
	app, err := e2eimage.App(base, baseRef, bd)
	if err != nil {
		t.Fatal(err)
	}
	// requests 2.19.1: PYSEC-2018-28 once the PyPI set is imported.
	b := e2eimage.NewLayerBuilder()
	b.File(langDistInfo+"/METADATA", 0o644, []byte(requestsMetadata))
	b.File(langDistInfo+"/INSTALLER", 0o644, []byte("pip\n"))
	py, err := b.Layer()
	if err != nil {
		t.Fatal(err)
	}
	if app, err = mutate.AppendLayers(app, py); err != nil {
		t.Fatal(err)
	}
	appRef := host + "/e2e-srv/app:1"
	push(t, appRef, app)
	appDigest := digestOf(t, appRef)
	var imageLayers []string // what "no image download" means: none of these
	for _, img := range []v1.Image{base, app} {
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			d, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			imageLayers = append(imageLayers, d.String())
		}
	}

	key, _ := attest.GenerateKey()
	pem, err := attest.MarshalPrivateKey(key, []byte("e2e-pass"))
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "verdicts.key")
	os.WriteFile(keyPath, pem, 0o600)
	cfgPath := filepath.Join(dir, "drydock.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
registries:
  insecure: [%s]
watch:
  pollInterval: 0s
  events:
    tokenEnv: DRYDOCK_E2E_NOTIFY_TOKEN
images:
  - name: app
    image: %s
    base: %s
    rebuild:
      kind: rebase
server:
  registries:
    - registry: %s
      catalog: true
      repositories: ["e2e-srv/*"]
  crawlInterval: 1h
  dbUpdateInterval: 2s
`, host, appRef, baseRef, host)), 0o644)

	dataDir := filepath.Join(dir, "data")
	addr := "127.0.0.1:" + port
	api := "http://" + addr
	p := startProc(t, bin, []string{"DRYDOCK_E2E_NOTIFY_TOKEN=" + token, "DRYDOCK_KEY_PASSWORD=e2e-pass"},
		"server", "--log-level", "info", "--config", cfgPath, "--listen", addr, "--key", keyPath, "--fail-on", "critical",
		"--data-dir", dataDir, "--cache-dir", filepath.Join(dir, "cache"))
	waitListening(t, addr)

	var im apiImage
	// Each poll decodes into a fresh value: fields the API omits (an
	// unscanned image has no scannedAt) must not keep an earlier image's.
	poll(t, 5*time.Minute, "the app crawled and scanned", p, func() bool {
		im = apiImage{}
		return apiGet(t, api, "/api/v1/images/"+appDigest, &im) == 200 && !im.ScannedAt.IsZero()
	})
	if len(im.Findings) != 0 {
		t.Fatalf("findings before any database: %+v", im.Findings)
	}
	// The crawl resolves both repositories; their scans finish in any order.
	// The base is listed under its repository even when its digest was
	// seen first elsewhere (other e2e tests push the same Debian base).
	poll(t, 5*time.Minute, "the base crawled and scanned", p, func() bool {
		var list struct{ Images []apiImage }
		return apiGet(t, api, "/api/v1/images?repository="+url.QueryEscape(host+"/e2e-srv/base"), &list) == 200 &&
			slices.ContainsFunc(list.Images, func(im apiImage) bool { return im.Digest == bd.String() && !im.ScannedAt.IsZero() })
	})

	before := blobs.count()
	if out, err := exec.Command(bin, "db", "import", "--data-dir", dataDir, pypi).CombinedOutput(); err != nil {
		t.Fatalf("drydock db import: %v\n%s", err, out)
	}
	poll(t, 3*time.Minute, "PYSEC-2018-28 on the stored app after the re-match", p, func() bool {
		im = apiImage{}
		if apiGet(t, api, "/api/v1/images/"+appDigest, &im) != 200 {
			return false
		}
		return slices.ContainsFunc(im.Findings, func(f struct{ ID string }) bool { return f.ID == "PYSEC-2018-28" })
	})
	// Only layers count: the registry delivers push events late when it
	// has a backlog (events of other tests, retried while no server
	// listened), and the freshness check those events start may read the
	// images' small config blobs at any time.
	var layersRead []string
	for _, p := range blobs.since(before) {
		if slices.ContainsFunc(imageLayers, func(d string) bool { return strings.HasSuffix(p, "/"+d) }) {
			layersRead = append(layersRead, p)
		}
	}
	if len(layersRead) != 0 {
		t.Errorf("the re-match downloaded %d image layer(s) from the registry; want none: %v", len(layersRead), layersRead)
	}

	push(t, baseRef, newer) // the registry notifies the server
	rebuilt := waitMoved(t, appRef, appDigest, 5*time.Minute, p)
	poll(t, 5*time.Minute, "the rebuilt app scanned with a signed verdict", p, func() bool {
		im = apiImage{}
		return apiGet(t, api, "/api/v1/images/"+rebuilt, &im) == 200 && !im.ScannedAt.IsZero() && im.Verdict != nil
	})
	if !slices.ContainsFunc(im.Findings, func(f struct{ ID string }) bool { return f.ID == "PYSEC-2018-28" }) {
		t.Errorf("the rebuilt app lost its own layer's finding: %+v", im.Findings)
	}
	var evs struct {
		Events []struct{ Kind, Digest string }
	}
	apiGet(t, api, "/api/v1/events?kind=rebuild", &evs)
	if len(evs.Events) == 0 || evs.Events[0].Digest != rebuilt {
		t.Errorf("rebuild events = %+v; want one for %s", evs.Events, rebuilt)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("drydock server exited with %v after SIGTERM", err)
	}
}
