package scratch

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain doubles as the helper process that holds a scratch directory
// until it is killed, as a scan killed mid-spill would.
func TestMain(m *testing.M) {
	if base := os.Getenv("SCRATCH_TEST_HOLD"); base != "" {
		d, err := New(base)
		if err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		os.WriteFile(filepath.Join(d.Path, "file-spill"), make([]byte, 1<<20), 0o600)
		os.Stdout.WriteString(d.Path + "\n")
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hold starts a process holding a scratch directory under base.
func hold(t *testing.T, base string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SCRATCH_TEST_HOLD="+base)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	return cmd, strings.TrimSpace(line)
}

func age(t *testing.T, p string, d time.Duration) {
	t.Helper()
	old := time.Now().Add(-d)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestCleanRemovesOnlyDeadRuns(t *testing.T) {
	base := t.TempDir()
	killed, dead := hold(t, base)
	_, live := hold(t, base)
	killed.Process.Kill()
	killed.Wait()

	// A directory left without a lock file (a run that died before taking
	// it), old and young.
	lockless := filepath.Join(base, "run-lockless")
	young := filepath.Join(base, "run-young")
	for _, d := range []string{lockless, young} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(base, "not-a-run")
	os.MkdirAll(other, 0o755)
	for _, d := range []string{dead, live, lockless, other} {
		age(t, d, 48*time.Hour)
	}

	n, err := Clean(base, DefaultMaxAge, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir  string
		kept bool
	}{{dead, false}, {live, true}, {lockless, false}, {young, true}, {other, true}} {
		if exists(c.dir) != c.kept {
			t.Errorf("%s: kept = %v, want %v", filepath.Base(c.dir), exists(c.dir), c.kept)
		}
	}
	if n != 2 {
		t.Errorf("removed %d, want 2", n)
	}
}

// A run killed a moment ago is not mistaken for a starting run forever:
// once settled it goes; while young it stays (a run that has made its
// directory but not yet locked it looks the same).
func TestCleanWaitsForUnlockedDirectoriesToSettle(t *testing.T) {
	base := t.TempDir()
	killed, dead := hold(t, base)
	killed.Process.Kill()
	killed.Wait()
	if Clean(base, DefaultMaxAge, time.Now()); !exists(dead) {
		t.Fatalf("a directory unlocked a moment ago was removed")
	}
	age(t, dead, 2*settle)
	if Clean(base, DefaultMaxAge, time.Now()); exists(dead) {
		t.Fatalf("a dead run's directory was kept")
	}
}

func TestNewAndRelease(t *testing.T) {
	base := filepath.Join(t.TempDir(), "tmp")
	d, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	age(t, d.Path, 48*time.Hour)
	// Its own lock keeps it from another run's clean-up.
	if Clean(base, DefaultMaxAge, time.Now()); !exists(d.Path) {
		t.Fatal("a live run's directory was removed")
	}
	d.Release()
	if exists(d.Path) {
		t.Fatal("Release left the directory")
	}
}
