package dbdist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/vulndb"
)

// osvDir writes n OSV records per ecosystem into a fresh directory per
// ecosystem and returns the directories.
func osvDirs(t *testing.T, n map[string]int, tag string) []string {
	t.Helper()
	var dirs []string
	for eco, count := range n {
		dir := filepath.Join(t.TempDir(), eco)
		os.MkdirAll(dir, 0o755)
		for i := range count {
			writeRecordN(t, dir, eco, fmt.Sprintf("DRY-%s-%s-%d", strings.ReplaceAll(eco, ".", ""), tag, i), i)
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

func writeRecord(t testing.TB, dir, eco, id string) { writeRecordN(t, dir, eco, id, 0) }

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeRecordN(t testing.TB, dir, eco, id string, i int) {
	t.Helper()
	rec := map[string]any{
		"schema_version": "1.6.0", "id": id, "modified": "2026-01-02T03:04:05Z",
		"summary": "test advisory " + id,
		"affected": []any{map[string]any{
			"package": map[string]string{"ecosystem": eco, "name": fmt.Sprintf("pkg-%d", i)},
			"ranges":  []any{map[string]any{"type": "ECOSYSTEM", "events": []any{map[string]string{"introduced": "0"}, map[string]string{"fixed": "1.0.1"}}}},
		}},
	}
	b, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func buildDB(t *testing.T, n map[string]int, tag string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vulndb.sqlite")
	if _, err := vulndb.Import(context.Background(), p, osvDirs(t, n, tag)); err != nil {
		t.Fatal(err)
	}
	return p
}

// contentDigest hashes what a database holds (every row of the index,
// advisories, aliases and sources, in key order), not its bytes: a pulled
// database is assembled from per-ecosystem parts.
func contentDigest(t testing.TB, p string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+p+"?mode=ro&immutable=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := sha256.New()
	for _, q := range []string{
		`SELECT ecosystem, name, advisory_id FROM affected ORDER BY 1, 2, 3`,
		`SELECT id, modified, hex(data) FROM advisories ORDER BY 1`,
		`SELECT alias, advisory_id FROM aliases ORDER BY 1, 2`,
		`SELECT ecosystem, source, etag, last_modified, updated_at, records, newest_modified FROM sources ORDER BY 1`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%v\x00", vals)
		}
		rows.Close()
		fmt.Fprintf(h, "--\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileDigest(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type keypair struct {
	signer  *attest.Signer
	keys    *attest.Keys
	privPEM []byte
	pubPEM  []byte
}

func newKey(t *testing.T) keypair { return newKeyB(t) }

func newKeyB(t testing.TB) keypair {
	t.Helper()
	k, err := attest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := attest.NewSigner(k)
	keys, _ := attest.NewKeys(&k.PublicKey)
	priv, _ := attest.MarshalPrivateKey(k, nil)
	pub, _ := attest.MarshalPublicKey(&k.PublicKey)
	return keypair{s, keys, priv, pub}
}

// tamperRegistry is the in-process registry; while corrupt is set it flips
// a byte in the middle of every database layer blob it serves.
type tamperRegistry struct {
	srv     *httptest.Server
	host    string
	corrupt atomic.Bool
	// layerBytes counts database layer bytes served.
	layerBytes atomic.Int64
	layers     sync.Map // digest → true: database layer digests
}

func newRegistry(t *testing.T, referrers bool) *tamperRegistry { return newRegistryWith(t, referrers) }

func newRegistryB(t testing.TB) *tamperRegistry { return newRegistryWith(t, true) }

func newRegistryWith(t testing.TB, referrers bool) *tamperRegistry {
	t.Helper()
	tr := &tamperRegistry{}
	inner := registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0)))
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := strings.LastIndex(r.URL.Path, "/blobs/")
		if r.Method != http.MethodGet || i < 0 {
			inner.ServeHTTP(w, r)
			return
		}
		if _, ok := tr.layers.Load(r.URL.Path[i+len("/blobs/"):]); !ok {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if tr.corrupt.Load() && len(body) > 0 {
			body = bytes.Clone(body)
			body[len(body)/2] ^= 0xff
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		n, _ := w.Write(body)
		tr.layerBytes.Add(int64(n))
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

func (tr *tamperRegistry) push(t *testing.T, db string, tag string, k keypair) *PushResult {
	t.Helper()
	ref, _ := name.NewTag(tr.host + "/security/vulndb:" + tag)
	res, err := Push(context.Background(), db, ref, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	// Remember the layer digest so the wrapper can find it.
	b, err := fetchManifest(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range b.Layers {
		tr.layers.Store(l.Digest.String(), true)
	}
	return res
}

func TestPushPull(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers-api", false: "tag-schema"}[referrers], func(t *testing.T) { testPushPull(t, referrers) })
	}
}

func testPushPull(t *testing.T, referrers bool) {
	ctx := context.Background()
	tr := newRegistry(t, referrers)
	good, other := newKey(t), newKey(t)
	dbA := buildDB(t, map[string]int{"npm": 40, "PyPI": 30}, "a")
	res := tr.push(t, dbA, "latest", good)
	if len(res.Sources) != 2 {
		t.Errorf("pushed sources %+v, want npm and PyPI", res.Sources)
	}
	ref, _ := name.ParseReference(tr.host + "/security/vulndb:latest")
	local := filepath.Join(t.TempDir(), "vulndb.sqlite")

	// Right key: installed, byte for byte.
	got, err := Pull(ctx, local, ref, good.keys)
	if err != nil {
		t.Fatal(err)
	}
	if got.Unchanged || got.Bytes == 0 || got.Bytes != res.Bytes {
		t.Errorf("first pull: unchanged %v, %d bytes, want the %d-byte layer", got.Unchanged, got.Bytes, res.Bytes)
	}
	if contentDigest(t, local) != contentDigest(t, dbA) {
		t.Error("pulled database differs from the pushed one")
	}
	db, err := vulndb.Open(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	advs, _ := db.Affecting(ctx, "npm", "pkg-3")
	db.Close()
	if len(advs) != 1 {
		t.Errorf("pulled database: %d advisories for npm pkg-3, want 1", len(advs))
	}

	// Unchanged: nothing downloaded.
	before := tr.layerBytes.Load()
	got, err = Pull(ctx, local, ref, good.keys)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Unchanged || got.Bytes != 0 || tr.layerBytes.Load() != before {
		t.Errorf("unchanged pull: unchanged %v, %d bytes (registry served %d)", got.Unchanged, got.Bytes, tr.layerBytes.Load()-before)
	}
	want := fileDigest(t, local)

	// Wrong key: a newer database signed by a key nobody trusts is refused.
	time.Sleep(1100 * time.Millisecond) // signed times have second precision
	dbB := buildDB(t, map[string]int{"npm": 41, "PyPI": 30}, "b")
	tr.push(t, dbB, "latest", other)
	_, err = Pull(ctx, local, ref, good.keys)
	if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "no valid signature by a trusted key") {
		t.Errorf("pull signed by an untrusted key: %v, want ErrUntrusted", err)
	}
	if fileDigest(t, local) != want {
		t.Error("refused pull changed the database")
	}

	// Signed by the trusted key, but the layer is altered in transit.
	tr.push(t, dbB, "latest", good)
	tr.corrupt.Store(true)
	_, err = Pull(ctx, local, ref, good.keys)
	tr.corrupt.Store(false)
	if err == nil {
		t.Error("tampered layer installed")
	}
	if fileDigest(t, local) != want {
		t.Error("tampered pull changed the database")
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(local), ".vulndb.sqlite.download-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// And then the same artifact, untampered, is installed.
	if _, err := Pull(ctx, local, ref, good.keys); err != nil {
		t.Fatal(err)
	}
	if contentDigest(t, local) != contentDigest(t, dbB) {
		t.Error("second database not installed")
	}

	// An older signed artifact is refused (a replay would hide advisories).
	old, _ := name.ParseReference(res.Manifest.String())
	_, err = Pull(ctx, local, old, good.keys)
	if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "refusing to go back") {
		t.Errorf("pull of an older artifact: %v, want a refusal", err)
	}

	// Not a database.
	img, _ := name.ParseReference(tr.host + "/security/vulndb@" + res.Signature.DigestStr())
	if _, err := Pull(ctx, local, img, good.keys); err == nil || !strings.Contains(err.Error(), "not a drydock vulnerability database") {
		t.Errorf("pull of a signature manifest: %v", err)
	}
}

// TestPullSIGKILL runs the real binary, kills it while the layer is half
// sent, and checks the old database is intact and the next pull works.
func TestPullSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the drydock binary")
	}
	bin := filepath.Join(t.TempDir(), "drydock")
	build := exec.Command("go", "build", "-o", bin, "./cmd/drydock")
	build.Dir = testenv.ModuleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	k := newKey(t)
	dir := t.TempDir()
	pub := filepath.Join(dir, "db.pub")
	os.WriteFile(pub, k.pubPEM, 0o644)

	// A registry that, once armed, sends half of the layer and stalls.
	var (
		armed   atomic.Bool
		halfway = make(chan struct{}, 1)
		release = make(chan struct{})
	)
	inner := registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	var layer atomic.Value
	layer.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !armed.Load() || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+layer.Load().(string)) {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		select {
		case halfway <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, _ := name.NewTag(host + "/security/vulndb:latest")

	dbA := buildDB(t, map[string]int{"npm": 20, "PyPI": 20}, "a")
	if _, err := Push(context.Background(), dbA, ref, k.signer); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	run := func() *exec.Cmd {
		c := exec.Command(bin, "db", "pull", ref.String(), "--key", pub, "--data-dir", data)
		c.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
		return c
	}
	if out, err := run().CombinedOutput(); err != nil {
		t.Fatalf("first pull: %v\n%s", err, out)
	}
	local := filepath.Join(data, "vulndb.sqlite")
	want := fileDigest(t, local)

	// The incremental path: only npm changed (and grew), so only its
	// layer is fetched, and that download is the one killed.
	dbB := filepath.Join(t.TempDir(), "vulndb.sqlite")
	copyFile(t, dbA, dbB)
	if _, err := vulndb.Import(context.Background(), dbB, osvDirs(t, map[string]int{"npm": 3000}, "b")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	res, err := Push(context.Background(), dbB, ref, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fetchManifest(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if l.Annotations[AnnotationEcosystem] == "npm" {
			layer.Store(l.Digest.String())
		}
	}
	armed.Store(true)
	c := run()
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-halfway:
	case <-time.After(60 * time.Second):
		c.Process.Kill()
		t.Fatalf("the pull never reached the layer:\n%s", out.String())
	}
	time.Sleep(100 * time.Millisecond) // let it write what it received
	if err := c.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	if got := fileDigest(t, local); got != want {
		t.Fatal("SIGKILL mid-pull changed the database")
	}
	db, err := vulndb.Open(context.Background(), local)
	if err != nil {
		t.Fatalf("database after SIGKILL: %v", err)
	}
	db.Close()
	armed.Store(false)
	// The next pull, as "db update --from oci://", installs the new one.
	again := exec.Command(bin, "db", "update", "--from", "oci://"+ref.String(), "--key", pub, "--data-dir", data)
	again.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	if out, err := again.CombinedOutput(); err != nil {
		t.Fatalf("db update --from after SIGKILL: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "installed") || !strings.Contains(string(out), "1 of 2 layers") {
		t.Errorf("db update --from printed %q, want the npm layer alone installed", out)
	}
	if contentDigest(t, local) != contentDigest(t, dbB) {
		t.Error("pull after SIGKILL did not install the new database")
	}
	leftovers, _ := filepath.Glob(filepath.Join(data, ".vulndb.sqlite.*-*"))
	dl, _ := filepath.Glob(filepath.Join(data, "vulndb.sqlite.parts", ".dl-*"))
	if leftovers = append(leftovers, dl...); len(leftovers) != 0 {
		t.Errorf("temporary files left after the next pull: %v", leftovers)
	}
}

// TestPullIncremental: one layer per ecosystem; an ecosystem that did not
// change keeps its layer digest, and a pull downloads only the changed
// one. A cached part altered on disk is fetched again; a tampered or
// untrusted incremental pull leaves the database as it was.
func TestPullIncremental(t *testing.T) {
	ctx := context.Background()
	tr := newRegistry(t, true)
	good, other := newKey(t), newKey(t)
	ref, _ := name.ParseReference(tr.host + "/security/vulndb:latest")
	local := filepath.Join(t.TempDir(), "vulndb.sqlite")
	layerOf := func(res *PushResult, eco string) LayerStatement {
		t.Helper()
		for _, l := range res.Layers {
			if l.Ecosystem == eco {
				return l
			}
		}
		t.Fatalf("no %s layer in %+v", eco, res.Layers)
		return LayerStatement{}
	}
	// changeNpm copies db and re-imports npm with new records.
	changeNpm := func(db, tag string) string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "vulndb.sqlite")
		copyFile(t, db, out)
		if _, err := vulndb.Import(ctx, out, osvDirs(t, map[string]int{"npm": 45}, tag)); err != nil {
			t.Fatal(err)
		}
		return out
	}
	pull := func(what string, wantDownloaded int) *PullResult {
		t.Helper()
		got, err := Pull(ctx, local, ref, good.keys)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got.Downloaded != wantDownloaded || got.Layers != 2 {
			t.Errorf("%s: downloaded %d of %d layers, want %d of 2", what, got.Downloaded, got.Layers, wantDownloaded)
		}
		return got
	}

	dbA := buildDB(t, map[string]int{"npm": 40, "PyPI": 30}, "a")
	resA := tr.push(t, dbA, "latest", good)
	again := tr.push(t, dbA, "again", good)
	for _, eco := range []string{"npm", "PyPI"} {
		if layerOf(again, eco).Digest != layerOf(resA, eco).Digest {
			t.Errorf("pushing the same database twice gave %s two layer digests", eco)
		}
	}
	pull("first pull", 2)
	if contentDigest(t, local) != contentDigest(t, dbA) {
		t.Fatal("pulled database differs from the pushed one")
	}

	time.Sleep(1100 * time.Millisecond) // signed times have second precision
	dbB := changeNpm(dbA, "b")
	resB := tr.push(t, dbB, "latest", good)
	if layerOf(resB, "PyPI").Digest != layerOf(resA, "PyPI").Digest {
		t.Error("PyPI did not change, but its layer digest did")
	}
	if layerOf(resB, "npm").Digest == layerOf(resA, "npm").Digest {
		t.Error("npm changed, but its layer digest did not")
	}
	before := tr.layerBytes.Load()
	got := pull("one ecosystem changed", 1)
	npmSize := int64(0)
	if m, err := fetchManifest(resB.Manifest); err == nil {
		for _, l := range m.Layers {
			if l.Annotations[AnnotationEcosystem] == "npm" {
				npmSize = l.Size
			}
		}
	}
	if got.Bytes != npmSize || tr.layerBytes.Load()-before != npmSize {
		t.Errorf("one-ecosystem pull read %d bytes (registry served %d), want npm's %d", got.Bytes, tr.layerBytes.Load()-before, npmSize)
	}
	if contentDigest(t, local) != contentDigest(t, dbB) {
		t.Fatal("incremental pull: database differs from the pushed one")
	}

	// A kept part altered on disk is not trusted: fetched again.
	pypiPart := filepath.Join(local+".parts", strings.TrimPrefix(layerOf(resB, "PyPI").Uncompressed, "sha256:")+".sqlite")
	b, err := os.ReadFile(pypiPart)
	if err != nil {
		t.Fatalf("kept part: %v", err)
	}
	b[len(b)/2] ^= 0xff
	os.WriteFile(pypiPart, b, 0o644)
	time.Sleep(1100 * time.Millisecond)
	dbC := changeNpm(dbB, "c")
	tr.push(t, dbC, "latest", good)
	pull("with an altered kept part", 2)
	if contentDigest(t, local) != contentDigest(t, dbC) {
		t.Fatal("database after re-fetching an altered part differs from the pushed one")
	}
	want := fileDigest(t, local)

	// Incremental, tampered in transit: refused, database and parts intact.
	time.Sleep(1100 * time.Millisecond)
	dbD := changeNpm(dbC, "d")
	tr.push(t, dbD, "latest", good)
	tr.corrupt.Store(true)
	_, err = Pull(ctx, local, ref, good.keys)
	tr.corrupt.Store(false)
	if !errors.Is(err, ErrUntrusted) {
		t.Errorf("tampered incremental pull: %v, want ErrUntrusted", err)
	}
	if fileDigest(t, local) != want {
		t.Error("tampered incremental pull changed the database")
	}
	if dl, _ := filepath.Glob(filepath.Join(local+".parts", ".dl-*")); len(dl) != 0 {
		t.Errorf("download left behind: %v", dl)
	}
	// Incremental, signed by an untrusted key: refused.
	time.Sleep(1100 * time.Millisecond)
	tr.push(t, changeNpm(dbD, "e"), "latest", other)
	if _, err := Pull(ctx, local, ref, good.keys); !errors.Is(err, ErrUntrusted) {
		t.Errorf("incremental pull signed by an untrusted key: %v, want ErrUntrusted", err)
	}
	if fileDigest(t, local) != want {
		t.Error("untrusted incremental pull changed the database")
	}
}
