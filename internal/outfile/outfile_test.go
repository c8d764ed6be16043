package outfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func text(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

var errHalfway = errors.New("formatter failed halfway")

func failing(w io.Writer) error {
	io.WriteString(w, "half a rep")
	return errHalfway
}

func TestRegularFilesAreReplacedAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.json")
	if err := Write(p, 0o644, text("one")); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, 0o644, failing); !errors.Is(err, errHalfway) || !strings.Contains(err.Error(), p) {
		t.Fatalf("failing write: err = %v, want errHalfway naming the path", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Errorf("after a failed write the file holds %q, want the old %q", b, "one")
	}
	if err := Write(p, 0o600, text("two")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" || fi.Mode().Perm() != 0o600 {
		t.Errorf("file holds %q mode %v, want %q mode 0600", b, fi.Mode().Perm(), "two")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the report (no temp files left)", len(ents))
	}
}

func TestSymlinkToRegularFileUpdatesTheTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "link.json")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.json", link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, 0o644, text("new")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link is no longer a symlink: %v, %v", fi, err)
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Errorf("target holds %q, want %q", b, "new")
	}
}

// TestCharDeviceStaysADevice writes to a device node made like /dev/null
// (char 1,3) in a temp dir, which must still be a character device
// afterwards. Without root (no mknod) it uses /dev/null itself, which a
// broken Write could then not replace anyway.
func TestCharDeviceStaysADevice(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "null")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, int(mkdev(1, 3))); err != nil {
		if !errors.Is(err, syscall.EPERM) {
			t.Fatal(err)
		}
		dev = "/dev/null"
	}
	for _, p := range []string{dev} {
		if err := Write(p, 0o644, text("discarded")); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&fs.ModeCharDevice == 0 {
			t.Fatalf("%s is no longer a character device: mode %v", p, fi.Mode())
		}
	}
	if ents, _ := filepath.Glob("/dev/.null.tmp-*"); len(ents) != 0 {
		t.Errorf("temp files left in /dev: %v", ents)
	}
}

func mkdev(major, minor uint32) uint64 {
	return uint64(major)<<8 | uint64(minor)
}

func TestFIFOIsWrittenInPlace(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- "open: " + err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	if err := Write(fifo, 0o644, text("through the pipe")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "through the pipe" {
			t.Errorf("reader got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader never got the data")
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("%s is no longer a FIFO: %v, %v", fifo, fi, err)
	}
}

// TestDescriptorPathAppends writes through /proc/self/fd/N, as
// `-o /dev/stdout >> log` does: the file the descriptor names keeps its
// inode and its earlier content.
func TestDescriptorPathAppends(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(p)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if err := Write(fd, 0o644, text("report\n")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(p)
	if b, _ := os.ReadFile(p); string(b) != "earlier\nreport\n" || !os.SameFile(before, after) {
		t.Errorf("file holds %q (same file: %v), want the report appended in place", b, os.SameFile(before, after))
	}
}

func TestDirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	err := Write(dir, 0o644, text("x"))
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("err = %v, want one saying it is a directory", err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("directory replaced: %v, %v", fi, err)
	}
}

func TestMissingDirectoryFails(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "such", "dir", "out.json")
	if err := Write(p, 0o644, text("x")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}
