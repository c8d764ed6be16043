package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/version"
	"github.com/drydock/drydock/test/e2e/e2eimage"
)

// Environment set by scripts/test.sh for the freshness tests.
const (
	envUpgradedTar = "DRYDOCK_E2E_ROOTFS_UPGRADED_TAR" // the rootfs after apt-get upgrade against bookworm-security
	envNotifyPort  = "DRYDOCK_E2E_NOTIFY_PORT"         // the registry posts its events to 127.0.0.1:<port>/events/distribution
	envNotifyToken = "DRYDOCK_E2E_NOTIFY_TOKEN"        // ... with ?token=<token>
)

// watchProc is a `drydock watch` child process.
type watchProc struct {
	cmd *exec.Cmd
	log *bytes.Buffer
	mu  *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func startWatch(t *testing.T, bin string, env []string, args ...string) *watchProc {
	t.Helper()
	return startProc(t, bin, env, append([]string{"watch", "--log-level", "info"}, args...)...)
}

// startProc starts a long-running drydock command (watch, server).
func startProc(t *testing.T, bin string, env []string, args ...string) *watchProc {
	t.Helper()
	p := &watchProc{log: &bytes.Buffer{}, mu: &sync.Mutex{}}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = lockedWriter{p.mu, p.log}
	p.cmd.Stderr = lockedWriter{p.mu, p.log}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("drydock %s log:\n%s", args[0], p.output())
		}
	})
	return p
}

func (p *watchProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// stop sends SIGTERM and expects a clean exit.
func (p *watchProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("drydock watch exited with %v after SIGTERM", err)
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

func digestOf(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return d.Digest.String()
}

// waitMoved polls the registry until ref points at another digest than old.
func waitMoved(t *testing.T, ref, old string, deadline time.Duration, p *watchProc) string {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if d := digestOf(t, ref); d != old {
			return d
		}
		if p != nil && p.cmd.ProcessState != nil {
			t.Fatalf("drydock watch exited: %v", p.cmd.ProcessState)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s still at %s after %v", ref, old, deadline)
	return ""
}

// TestWatchKillMidRebuild really kills a `drydock watch` child (SIGKILL) in
// the middle of a rebase — while its manifest upload hangs in the registry —
// restarts it on the same store, and checks that the application tag is
// pushed exactly once, by the rebuild with the same ID.
func TestWatchKillMidRebuild(t *testing.T) {
	bin := buildDrydock(t)
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var mu sync.Mutex
	var tagPuts int
	var digestPuts []string // digests of manifest PUTs by digest
	hang := false           // armed once the setup pushes are done
	inflight := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/kill/app/manifests/") {
			mu.Lock()
			first := hang
			hang = false
			mu.Unlock()
			if first { // the first upload of the rebuilt image hangs; the process dies meanwhile
				inflight <- struct{}{}
				<-release
				http.Error(w, "connection lost", http.StatusServiceUnavailable)
				return
			}
			mu.Lock()
			if i := strings.Index(r.URL.Path, "/manifests/sha256:"); i >= 0 {
				digestPuts = append(digestPuts, r.URL.Path[i+len("/manifests/"):])
			} else {
				tagPuts++
			}
			mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	base, _ := random.Image(1024, 1)
	baseRef := host + "/kill/base:1"
	push(t, baseRef, base)
	bd, _ := base.Digest()
	app, err := e2eimage.App(base, baseRef, bd)
	if err != nil {
		t.Fatal(err)
	}
	appRef := host + "/kill/app:1"
	push(t, appRef, app)
	mu.Lock()
	tagPuts, digestPuts = 0, nil // count from here on
	hang = true
	mu.Unlock()
	before := digestOf(t, appRef)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "drydock.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
watch:
  pollInterval: 200ms
  debounce: 100ms
images:
  - name: app
    image: %s
    base: %s
    rebuild:
      kind: rebase
`, appRef, baseRef)), 0o644)
	store := filepath.Join(dir, "watch.sqlite")
	args := []string{"--config", cfgPath, "--store", store, "--no-scan", "--listen", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data"), "--cache-dir", filepath.Join(dir, "cache")}

	w1 := startWatch(t, bin, nil, args...)
	time.Sleep(time.Second) // let it record the current base
	newBase, _ := random.Image(1024, 1)
	push(t, baseRef, newBase)
	select {
	case <-inflight:
	case <-time.After(60 * time.Second):
		t.Fatalf("no rebuild started; log:\n%s", w1.output())
	}
	if err := w1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w1.cmd.Wait()
	close(release)

	st, err := freshness.OpenStore(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	running, _ := st.Rebuilds(context.Background(), freshness.StateRunning)
	st.Close()
	if len(running) != 1 {
		t.Fatalf("after the kill the store holds %d running rebuilds, want 1", len(running))
	}
	id := running[0].ID
	if d := digestOf(t, appRef); d != before {
		t.Fatalf("app moved to %s although its push hung", d)
	}

	w2 := startWatch(t, bin, nil, args...)
	after := waitMoved(t, appRef, before, 60*time.Second, w2)
	time.Sleep(2 * time.Second) // room for a duplicate, if there were one
	w2.stop(t)

	mu.Lock()
	defer mu.Unlock()
	if tagPuts != 1 {
		t.Errorf("the app tag was pushed %d times after the kill, want exactly 1", tagPuts)
	}
	// The rebase pushes by digest, then tags: the hung upload was never
	// stored, so the resumed rebuild uploads the same image once, by the
	// digest the tag now names.
	if len(digestPuts) != 1 || digestPuts[0] != after {
		t.Errorf("manifest PUTs by digest after the kill = %v, want exactly one, of %s", digestPuts, after)
	}
	st, err = freshness.OpenStore(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, _ := st.Rebuilds(context.Background())
	if len(all) != 1 || all[0].ID != id || all[0].State != freshness.StateDone || all[0].Attempts != 2 || !strings.HasSuffix(all[0].Result, after) {
		t.Errorf("rebuilds = %+v; want one, ID %s, done after 2 attempts, result %s", all, id, after)
	}
	t.Logf("rebuild %s resumed after SIGKILL: %s → %s", id, before, after)
}

// TestWatchRealRegistryRebaseAndBuildah pushes a genuinely newer Debian base
// (apt-get upgrade against bookworm-security) to Debian's docker-registry,
// whose notifications point at `drydock watch`; with no other action, both
// application images — one rebased, one rebuilt by buildah from a real
// Dockerfile — must move to images whose dpkg status shows newer versions.
func TestWatchRealRegistryRebaseAndBuildah(t *testing.T) {
	e := setup(t)
	upgradedTar := need(t, envUpgradedTar, "upgraded Debian rootfs")
	port := need(t, envNotifyPort, "notification port")
	token := need(t, envNotifyToken, "notification token")
	buildah, err := exec.LookPath("buildah")
	if err != nil {
		t.Fatalf("buildah is not installed (scripts/test.sh installs it): %v", err)
	}
	bin := buildDrydock(t)
	e.bin = bin
	dir := t.TempDir()

	base, err := e2eimage.Debian(e.rootfsTar)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := e2eimage.Debian(upgradedTar)
	if err != nil {
		t.Fatal(err)
	}
	baseRef := e.registry + "/e2e/base:12"
	push(t, baseRef, base)
	bd, _ := base.Digest()

	// The rebase application: base + one layer, annotated with its base.
	app, err := e2eimage.App(base, baseRef, bd)
	if err != nil {
		t.Fatal(err)
	}
	rebaseRef := e.registry + "/e2e/app-rebase:1"
	push(t, rebaseRef, app)

	// The buildah application: a real Dockerfile built FROM the base.
	ctxDir := filepath.Join(dir, "app")
	os.MkdirAll(ctxDir, 0o755)
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(fmt.Sprintf(
		"ARG BASE=%s\nFROM $BASE\nCOPY hello.txt /app/hello.txt\nRUN test -s /var/lib/dpkg/status && cat /app/hello.txt\n", baseRef)), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "hello.txt"), []byte("hello from the drydock e2e buildah app\n"), 0o644)
	store := []string{"--storage-driver", "vfs", "--root", filepath.Join(dir, "buildah", "root"), "--runroot", filepath.Join(dir, "buildah", "run")}
	buildRef := e.registry + "/e2e/app-build:1"
	bctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, args := range [][]string{
		append(append([]string{}, store...), "bud", "--isolation", "chroot", "--tls-verify=false", "-t", buildRef, ctxDir),
		append(append([]string{}, store...), "push", "--tls-verify=false", buildRef),
	} {
		cmd := exec.CommandContext(bctx, buildah, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	beforeRebase := digestOf(t, rebaseRef)
	beforeBuild := digestOf(t, buildRef)
	invRebase := e.sbomJSON(t, filepath.Join(dir, "cache"), rebaseRef)
	invBuild := e.sbomJSON(t, filepath.Join(dir, "cache"), buildRef)

	buildCmd, _ := json.Marshal(append(append([]string{buildah}, store...), "bud", "--isolation", "chroot", "--tls-verify=false",
		"--build-arg", "BASE={{.NewBase}}", "-t", "{{.Target}}", "{{.Context}}"))
	pushCmd, _ := json.Marshal(append(append([]string{buildah}, store...), "push", "--tls-verify=false", "{{.Target}}"))
	cfgPath := filepath.Join(dir, "drydock.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
watch:
  pollInterval: 0s      # events only: the registry's notifications must do it
  debounce: 1s
  events:
    tokenEnv: DRYDOCK_E2E_NOTIFY_TOKEN
images:
  - name: app-rebase
    image: %s
    base: %s
    rebuild:
      kind: rebase
  - name: app-build
    image: %s
    base: %s
    rebuild:
      kind: build
      with:
        context: %s
        command: '%s'
        push: '%s'
        verify: base
`, rebaseRef, baseRef, buildRef, baseRef, ctxDir, buildCmd, pushCmd)), 0o644)

	addr := "127.0.0.1:" + port
	w := startWatch(t, bin, []string{"DRYDOCK_E2E_NOTIFY_TOKEN=" + token},
		"--config", cfgPath, "--store", filepath.Join(dir, "watch.sqlite"), "--listen", addr,
		"--data-dir", filepath.Join(dir, "data"), "--cache-dir", filepath.Join(dir, "cache"))
	waitListening(t, addr)
	time.Sleep(3 * time.Second) // the start-up reconcile: nothing to do

	if d := digestOf(t, rebaseRef); d != beforeRebase {
		t.Fatalf("app-rebase moved before the base did: %s", d)
	}
	start := time.Now()
	push(t, baseRef, newer)
	afterRebase := waitMoved(t, rebaseRef, beforeRebase, 5*time.Minute, w)
	t.Logf("rebase: base push → rebuilt app pushed in %v", time.Since(start).Round(time.Millisecond))
	afterBuild := waitMoved(t, buildRef, beforeBuild, 10*time.Minute, w)
	t.Logf("buildah: base push → rebuilt app pushed in %v", time.Since(start).Round(time.Millisecond))

	for _, c := range []struct {
		name   string
		ref    string
		before *inventory.Inventory
	}{
		{"rebase", rebaseRef[:strings.LastIndex(rebaseRef, ":")] + "@" + afterRebase, invRebase},
		{"build", buildRef[:strings.LastIndex(buildRef, ":")] + "@" + afterBuild, invBuild},
	} {
		after := e.sbomJSON(t, filepath.Join(dir, "cache"), c.ref)
		newerPkgs, older := compareDeb(t, c.before, after)
		if len(older) > 0 {
			t.Errorf("%s: packages went backwards: %v", c.name, older)
		}
		if len(newerPkgs) == 0 {
			t.Errorf("%s: no package in the rebuilt image is newer than before", c.name)
			continue
		}
		t.Logf("%s: %d packages newer after the rebuild, e.g. %s", c.name, len(newerPkgs), newerPkgs[0])
	}
	// The buildah image still carries its own file.
	w.stop(t)
}

// compareDeb lists the deb packages whose version rose and fell from a to b.
func compareDeb(t *testing.T, a, b *inventory.Inventory) (newer, older []string) {
	t.Helper()
	old := map[string]string{}
	for _, p := range a.Packages {
		if p.Type == inventory.TypeDeb {
			old[p.Name] = p.Version
		}
	}
	var cmp version.Dpkg
	for _, p := range b.Packages {
		v, ok := old[p.Name]
		if p.Type != inventory.TypeDeb || !ok {
			continue
		}
		c, err := cmp.Compare(p.Version, v)
		if err != nil {
			t.Errorf("compare %s %s with %s: %v", p.Name, p.Version, v, err)
			continue
		}
		switch {
		case c > 0:
			newer = append(newer, fmt.Sprintf("%s %s > %s", p.Name, p.Version, v))
		case c < 0:
			older = append(older, fmt.Sprintf("%s %s < %s", p.Name, p.Version, v))
		}
	}
	return newer, older
}
