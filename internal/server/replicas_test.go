package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/store"
	"github.com/drydock/drydock/internal/store/storetest"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/vulndb"
)

// slowRegistry is the in-process registry with every blob download slowed
// down, so a replica can be killed while it scans; it records which replica
// (by user agent) fetched what and every verdict pushed.
type slowRegistry struct {
	host string

	mu       sync.Mutex
	inflight map[string]string // replica → repository of a blob being served
	verdicts map[string]int    // repository → manifests pushed by digest (verdicts)
}

var replicaRE = regexp.MustCompile(`\(replica ([a-z0-9-]+)\)`)

func startSlowRegistry(t *testing.T, delay time.Duration) *slowRegistry {
	t.Helper()
	sr := &slowRegistry{inflight: map[string]string{}, verdicts: map[string]int{}}
	reg := registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/", 2)
		m := replicaRE.FindStringSubmatch(r.UserAgent())
		if r.Method == http.MethodGet && len(parts) == 2 && m != nil {
			sr.mu.Lock()
			sr.inflight[m[1]] = parts[0]
			sr.mu.Unlock()
			time.Sleep(delay)
			sr.mu.Lock()
			delete(sr.inflight, m[1])
			sr.mu.Unlock()
		}
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256:") {
			repo := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/", 2)[0]
			sr.mu.Lock()
			sr.verdicts[repo]++
			sr.mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	sr.host = strings.TrimPrefix(s.URL, "http://")
	return sr
}

// Three replicas on one PostgreSQL share the crawl and the scans; one is
// killed with SIGKILL while it downloads a layer; another finishes its
// job. Every image is scanned exactly once and gets exactly one verdict.
func TestThreeReplicasOneKilled(t *testing.T) {
	pg := storetest.PostgresURL(t)
	if testing.Short() {
		t.Skip("builds drydock and runs three servers")
	}
	const images = 6
	sr := startSlowRegistry(t, 1500*time.Millisecond)
	for i := 0; i < images; i++ {
		l, _ := random.Layer(4096, "application/vnd.oci.image.layer.v1.tar+gzip")
		img, _ := mutate.AppendLayers(mustRandomBase(t), l)
		tag, _ := name.NewTag(fmt.Sprintf("%s/apps/app%d:1", sr.host, i))
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "drydock")
	build := exec.Command("go", "build", "-o", bin, "./cmd/drydock")
	build.Dir = testenv.ModuleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	keyPrefix := filepath.Join(dir, "k")
	if out, err := exec.Command(bin, "key", "generate", "--unencrypted", "--output-key-prefix", keyPrefix).CombinedOutput(); err != nil {
		t.Fatalf("key generate: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "drydock.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`server:
  registries:
    - registry: %s
      catalog: true
      repositories: ["apps/*"]
  crawlInterval: 3s
  dbUpdateInterval: 0s
  jobTimeout: 6s
  workers: 2
`, sr.host)), 0o644)
	crates := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "crates.io", "all.zip")

	procs := map[string]*exec.Cmd{}
	for _, id := range []string{"r1", "r2", "r3"} {
		data := filepath.Join(dir, id)
		if _, err := vulndb.Import(context.Background(), filepath.Join(data, "vulndb.sqlite"), []string{crates}); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "server", "--config", cfg, "--database", pg, "--listen", "127.0.0.1:0", "--replica-id", id,
			"--key", keyPrefix+".key", "--fail-on", "critical", "--data-dir", data, "--cache-dir", filepath.Join(data, "cache"), "--log-level", "info")
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		logf, _ := os.Create(filepath.Join(dir, id+".log"))
		go func() { io.Copy(logf, bufio.NewReader(stderr)) }()
		procs[id] = cmd
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}

	// Kill the first replica seen downloading a layer.
	var victim, victimRepo string
	waitFor(t, "a replica downloading a layer", func() bool {
		sr.mu.Lock()
		defer sr.mu.Unlock()
		for id, repo := range sr.inflight {
			victim, victimRepo = id, repo
			return true
		}
		return false
	})
	if err := procs[victim].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	procs[victim].Wait()
	t.Logf("killed %s while it downloaded a layer of %s", victim, victimRepo)

	st, err := store.OpenPostgres(context.Background(), pg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		c, err := st.SeverityCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range c {
			n += v
		}
		sr.mu.Lock()
		signed := len(sr.verdicts)
		sr.mu.Unlock()
		if n == images && signed == images {
			break
		}
		if time.Now().After(deadline) {
			for _, id := range []string{"r1", "r2", "r3"} {
				b, _ := os.ReadFile(filepath.Join(dir, id+".log"))
				t.Logf("%s:\n%s", id, tail(string(b), 30))
			}
			t.Fatalf("timed out: %d of %d images scanned, %d signed", n, images, signed)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // let any duplicate show
	scans, err := st.Events(ctx, store.EventFilter{Kind: store.EventScan, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, e := range scans {
		per[e.Digest]++
	}
	if len(per) != images {
		t.Errorf("%d images have a scan event, want %d", len(per), images)
	}
	for d, n := range per {
		if n != 1 {
			t.Errorf("%s scanned %d times", d, n)
		}
	}
	sr.mu.Lock()
	defer sr.mu.Unlock()
	for repo, n := range sr.verdicts {
		if n != 1 {
			t.Errorf("%s: %d verdicts pushed, want 1", repo, n)
		}
	}
	if sr.verdicts[victimRepo] != 1 {
		t.Errorf("the killed replica's image %s has no verdict", victimRepo)
	}
}

type v1Image = v1.Image

var randomBase struct {
	once sync.Once
	img  interface{}
}

func mustRandomBase(t *testing.T) v1Image {
	t.Helper()
	randomBase.once.Do(func() {
		img, err := random.Image(2048, 2)
		if err != nil {
			t.Fatal(err)
		}
		randomBase.img = img
	})
	return randomBase.img.(v1Image)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
