// Package hostile feeds crafted inputs to the built drydock binary, as a
// user would, and holds it to the project's bar for bad input: exit code 2
// (1 for a failed gate, 0 where a damaged file inside an image is reported as
// a problem of that file), a one-line error naming the problem without Go
// type names or panic traces, peak memory under a stated bound (the child's
// rusage), nothing written outside drydock's cache and data directories,
// and no half-written cache entry or database.
//
// The inputs are generated at test time (gen_test.go), never committed as
// large binaries. Run with -v for the table (input, exit code, message, peak
// RSS); scripts/fuzz.sh prints it too.
package hostile

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the drydock binary built once by TestMain.
var bin string

// launchEnv makes the test binary a launcher: it runs the command in its
// arguments and writes the child's peak RSS (KiB) to the file named by
// rssFileEnv. Go starts children with vfork semantics (CLONE_VM), so a
// child's ru_maxrss starts at its parent's resident size when it execs; a
// test process that generated large inputs would inflate every reading. The
// launcher is a fresh, small process, so what it measures is drydock's own
// peak plus at most the launcher's few MiB.
const (
	launchEnv  = "DRYDOCK_HOSTILE_LAUNCH"
	rssFileEnv = "DRYDOCK_HOSTILE_RSS_FILE"
)

func launch() int {
	rssFile := os.Getenv(rssFileEnv)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, launchEnv+"=") && !strings.HasPrefix(kv, rssFileEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// If the launcher is killed (a test timeout), the child goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "launcher:", err)
		return 125
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	cmd.Wait()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && rssFile != "" {
		os.WriteFile(rssFile, []byte(fmt.Sprint(ru.Maxrss)), 0o644)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// rssDir holds the launcher's reports, outside every sandbox.
var rssDir string

// launcherCommand runs bin with args through the launcher; rss reads the
// child's peak RSS in MiB after it exited.
func launcherCommand(ctx context.Context, environ []string, args ...string) (cmd *exec.Cmd, rss func() float64) {
	f, err := os.CreateTemp(rssDir, "rss-")
	if err != nil {
		panic(err)
	}
	f.Close()
	cmd = exec.CommandContext(ctx, os.Args[0], append([]string{bin}, args...)...)
	cmd.Env = append(environ, launchEnv+"=1", rssFileEnv+"="+f.Name())
	return cmd, func() float64 {
		b, _ := os.ReadFile(f.Name())
		os.Remove(f.Name())
		var kib float64
		fmt.Sscan(string(b), &kib)
		return kib / 1024
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(launchEnv) == "1" {
		os.Exit(launch())
	}
	dir, err := os.MkdirTemp("", "drydock-hostile-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bin = filepath.Join(dir, "drydock")
	rssDir = dir
	build := exec.Command("go", "build", "-o", bin, "github.com/drydock/drydock/cmd/drydock")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build drydock:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	printTable()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one sandbox: a HOME whose XDG cache and data directories are the
// only places drydock may write, a working directory, a TMPDIR that must be
// empty again after every run, and a directory of inputs.
type env struct {
	root, home, cache, data, cwd, tmp, in string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{
		root:  root,
		home:  filepath.Join(root, "home"),
		cache: filepath.Join(root, "home", ".cache", "drydock"),
		data:  filepath.Join(root, "home", ".local", "share", "drydock"),
		cwd:   filepath.Join(root, "cwd"),
		tmp:   filepath.Join(root, "tmp"),
		in:    filepath.Join(root, "in"),
	}
	for _, d := range []string{e.home, e.cwd, e.tmp, e.in} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) environ() []string {
	return []string{
		"HOME=" + e.home,
		"XDG_CACHE_HOME=" + filepath.Join(e.home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(e.home, ".local", "share"),
		"XDG_CONFIG_HOME=" + filepath.Join(e.home, ".config"),
		"TMPDIR=" + e.tmp,
		"PATH=" + os.Getenv("PATH"),
		"DOCKER_CONFIG=" + filepath.Join(e.home, ".docker"),
	}
}

// outcome is what one run of drydock did.
type outcome struct {
	code           int
	stdout, stderr string
	rssMiB         float64
	took           time.Duration
}

// run runs drydock in the sandbox and checks the walls that hold for every
// input: no write outside the cache and data directories, TMPDIR left
// empty, no half-written cache entry.
func (e *env) run(t *testing.T, timeout time.Duration, args ...string) outcome {
	t.Helper()
	before := snapshot(t, e.root)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd, rss := launcherCommand(ctx, e.environ(), append([]string{"--log-level", "error"}, args...)...)
	cmd.Dir = e.cwd
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	o := outcome{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("drydock %s: still running after %s", strings.Join(args, " "), timeout)
	}
	if cmd.ProcessState == nil {
		t.Fatalf("drydock %s: %v", strings.Join(args, " "), err)
	}
	o.code = cmd.ProcessState.ExitCode()
	o.rssMiB = rss()
	e.checkWalls(t, before)
	return o
}

// checkWalls fails on any file created or changed outside the cache and
// data directories, on anything left in TMPDIR, and on cache scratch or
// cache entries that do not carry their own checksum.
func (e *env) checkWalls(t *testing.T, before map[string]string) {
	t.Helper()
	after := snapshot(t, e.root)
	allowed := func(p string) bool {
		return within(p, e.cache) || within(p, e.data)
	}
	for p, sig := range after {
		if old, ok := before[p]; (!ok || old != sig) && !allowed(p) && p != e.cache && p != e.data {
			if within(e.cache, p) || within(e.data, p) {
				continue // a parent directory of the allowed ones, created by drydock
			}
			t.Errorf("wrote outside its directories: %s", rel(e.root, p))
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && !allowed(p) {
			t.Errorf("removed %s", rel(e.root, p))
		}
	}
	entries, _ := os.ReadDir(e.tmp)
	for _, de := range entries {
		t.Errorf("left %s in TMPDIR", de.Name())
	}
	filepath.WalkDir(e.cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		base := d.Name()
		if strings.HasPrefix(base, ".tmp-") || (d.IsDir() && strings.HasPrefix(base, "run-")) {
			t.Errorf("half-written cache entry or scratch left: %s", rel(e.root, p))
		}
		if !d.IsDir() && strings.HasSuffix(base, ".json") && strings.Contains(p, string(filepath.Separator)+"layers"+string(filepath.Separator)) {
			checkCacheEntry(t, p)
		}
		return nil
	})
}

// checkCacheEntry checks a layer cache entry's first line is the SHA-256 of
// the rest (the format layerfs.Cache writes atomically).
func checkCacheEntry(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("read cache entry: %v", err)
		return
	}
	sum, payload, ok := bytes.Cut(b, []byte("\n"))
	h := sha256.Sum256(payload)
	if !ok || string(sum) != hex.EncodeToString(h[:]) {
		t.Errorf("cache entry %s is not intact", filepath.Base(p))
	}
}

func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}

func rel(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return r
}

// snapshot maps every path under root to its type, size and mtime. Inputs
// are generated before the snapshot, so changes to them count as writes.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		sig := fmt.Sprintf("%v %d", fi.Mode(), fi.Size())
		if !fi.IsDir() {
			sig += " " + fi.ModTime().String()
		}
		m[p] = sig
		return nil
	})
	return m
}

// badText matches what must never reach a user: panic traces, Go type
// names, addresses.
var badText = regexp.MustCompile(`panic|goroutine [0-9]|runtime error|\*[a-z0-9]+\.[A-Z][A-Za-z]+|\b[a-z0-9]+\.[A-Z][A-Za-z]*Error\b|Go (value|struct|type)|0x[0-9a-f]{8,}`)

// expectError checks a failed run: the wanted exit code and one line on
// stderr, "drydock: ...", matching msg and free of internals.
func expectError(t *testing.T, o outcome, code int, msg string) {
	t.Helper()
	if o.code != code {
		t.Errorf("exit code %d, want %d; stderr:\n%s", o.code, code, o.stderr)
	}
	checkMessage(t, strings.TrimRight(o.stderr, "\n"), msg)
}

func checkMessage(t *testing.T, line, msg string) {
	t.Helper()
	if strings.Count(line, "\n") > 0 {
		t.Errorf("error is not one line:\n%s", line)
	}
	if !strings.HasPrefix(line, "drydock: ") && !strings.HasPrefix(line, "problem: ") {
		t.Errorf("error %q does not start with drydock:", line)
	}
	if badText.MatchString(line) {
		t.Errorf("error exposes internals: %q", line)
	}
	if msg != "" && !regexp.MustCompile(msg).MatchString(line) {
		t.Errorf("error %q does not match %q", line, msg)
	}
}

// expectRSS checks the peak resident set against a stated bound.
func expectRSS(t *testing.T, o outcome, maxMiB float64) {
	t.Helper()
	if o.rssMiB > maxMiB {
		t.Errorf("peak RSS %.0f MiB, bound %.0f MiB", o.rssMiB, maxMiB)
	}
}

var sandboxPath = regexp.MustCompile(`/[^\s:"]*?/[0-9]{3}/`)

// The table collects one row per input for -v and scripts/fuzz.sh.
var (
	tableMu sync.Mutex
	table   []row
)

type row struct {
	input, message string
	code           int
	rssMiB         float64
	took           time.Duration
}

// record adds an outcome to the table under the running test's name.
func record(t *testing.T, o outcome, message string) {
	tableMu.Lock()
	defer tableMu.Unlock()
	if message == "" {
		message = firstLine(o.stderr)
	}
	// Sandbox paths only widen the table.
	message = sandboxPath.ReplaceAllString(message, "$$SANDBOX/")
	table = append(table, row{input: t.Name()[strings.IndexByte(t.Name(), '/')+1:], code: o.code, message: message, rssMiB: o.rssMiB, took: o.took})
}

func firstLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	if sc.Scan() {
		return sc.Text()
	}
	return ""
}

func printTable() {
	if !testing.Verbose() || len(table) == 0 {
		return
	}
	sort.SliceStable(table, func(i, j int) bool { return table[i].input < table[j].input })
	fmt.Println("HOSTILE TABLE BEGIN")
	fmt.Printf("%-36s %4s %8s %7s  %s\n", "INPUT", "EXIT", "PEAK RSS", "TIME", "MESSAGE")
	for _, r := range table {
		msg := r.message
		if len(msg) > 110 {
			msg = msg[:107] + "..."
		}
		fmt.Printf("%-36s %4d %6.0f M %6.1fs  %s\n", r.input, r.code, r.rssMiB, r.took.Seconds(), msg)
	}
	fmt.Println("HOSTILE TABLE END")
}
