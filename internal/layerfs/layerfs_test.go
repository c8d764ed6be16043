package layerfs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

// listExtractor reads "name version" lines from files named pkgs.txt. It is
// a test plugin: the real extractors are tested in their own packages, and
// this one makes layer attribution easy to read.
type listExtractor struct{}

var _ extract.Extractor = listExtractor{}

func (listExtractor) Name() string { return "test/list" }
func (listExtractor) Version() int { return 1 }
func (listExtractor) Required(p string, fi fs.FileInfo) bool {
	return strings.HasSuffix(p, "pkgs.txt")
}
func (listExtractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	sc := bufio.NewScanner(io.NewSectionReader(in.Reader, 0, in.Size))
	var out []inventory.Package
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			return out, fmt.Errorf("bad line %q", sc.Text())
		}
		out = append(out, inventory.Package{Name: f[0], Version: f[1], Type: "generic"})
	}
	return out, sc.Err()
}

type entry struct {
	name, body, link string
	typ              byte
}

func mkTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: e.typ, Linkname: e.link}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func walker(t testing.TB) *Walker {
	return &Walker{
		Extractors:   []extract.Extractor{listExtractor{}},
		MetaRequired: func(p string) bool { return p == "etc/os-release" || p == "usr/lib/os-release" },
		TempDir:      t.TempDir(),
	}
}

func walk(t *testing.T, entries ...entry) *Result {
	t.Helper()
	r, err := walker(t).WalkTar(context.Background(), bytes.NewReader(mkTar(t, entries...)))
	if err != nil {
		t.Fatalf("WalkTar: %v", err)
	}
	return r
}

type pv struct{ Name, Version, Path, Layer string }

func summary(pkgs []inventory.Package) []pv {
	var out []pv
	for _, p := range pkgs {
		out = append(out, pv{p.Name, p.Version, p.Path, p.Layer})
	}
	return out
}

func TestSquash(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]entry
		want   []pv
	}{
		{
			name:   "single layer",
			layers: [][]entry{{{name: "app/pkgs.txt", body: "a 1\nb 2\n"}}},
			want:   []pv{{"a", "1", "app/pkgs.txt", "L0"}, {"b", "2", "app/pkgs.txt", "L0"}},
		},
		{
			name: "upper layer rewrites the file: unchanged packages keep their layer, upgrades move",
			layers: [][]entry{
				{{name: "var/pkgs.txt", body: "a 1\nb 1\n"}},
				{{name: "var/pkgs.txt", body: "a 1\nb 2\nc 1\n"}},
			},
			want: []pv{{"a", "1", "var/pkgs.txt", "L0"}, {"b", "2", "var/pkgs.txt", "L1"}, {"c", "1", "var/pkgs.txt", "L1"}},
		},
		{
			name: "whiteout deletes a file",
			layers: [][]entry{
				{{name: "x/pkgs.txt", body: "a 1\n"}, {name: "y/pkgs.txt", body: "b 1\n"}},
				{{name: "x/.wh.pkgs.txt"}},
			},
			want: []pv{{"b", "1", "y/pkgs.txt", "L0"}},
		},
		{
			name: "whiteout of a directory deletes everything below it",
			layers: [][]entry{
				{{name: "x/sub/pkgs.txt", body: "a 1\n"}, {name: "xy/pkgs.txt", body: "b 1\n"}},
				{{name: ".wh.x"}},
			},
			want: []pv{{"b", "1", "xy/pkgs.txt", "L0"}},
		},
		{
			name: "opaque directory hides lower content but keeps its own",
			layers: [][]entry{
				{{name: "d/old/pkgs.txt", body: "a 1\n"}},
				{{name: "d/", typ: tar.TypeDir}, {name: "d/.wh..wh..opq"}, {name: "d/new/pkgs.txt", body: "b 1\n"}},
			},
			want: []pv{{"b", "1", "d/new/pkgs.txt", "L1"}},
		},
		{
			name: "a whiteout in a layer does not hide the same layer's own file",
			layers: [][]entry{
				{{name: "d/pkgs.txt", body: "a 1\n"}},
				{{name: "d/pkgs.txt", body: "a 2\n"}, {name: "d/.wh.pkgs.txt"}},
			},
			want: []pv{{"a", "2", "d/pkgs.txt", "L1"}},
		},
		{
			name: "hostile and absolute names",
			layers: [][]entry{{
				{name: "../../escape/pkgs.txt", body: "evil 1\n"},
				{name: "a/../../escape2/pkgs.txt", body: "evil 2\n"},
				{name: "/abs/pkgs.txt", body: "ok 1\n"},
				{name: "./rel/./pkgs.txt", body: "ok 2\n"},
			}},
			want: []pv{{"ok", "1", "abs/pkgs.txt", "L0"}, {"ok", "2", "rel/pkgs.txt", "L0"}},
		},
		{
			name: "hardlink to a wanted file carries its packages",
			layers: [][]entry{{
				{name: "a/pkgs.txt", body: "a 1\n"},
				{name: "b/pkgs.txt", typ: tar.TypeLink, link: "a/pkgs.txt"},
			}},
			want: []pv{{"a", "1", "a/pkgs.txt", "L0"}, {"a", "1", "b/pkgs.txt", "L0"}},
		},
		{
			name: "symlink replaces a lower file",
			layers: [][]entry{
				{{name: "a/pkgs.txt", body: "a 1\n"}},
				{{name: "a/pkgs.txt", typ: tar.TypeSymlink, link: "/etc/passwd"}},
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var layers []Layer
			for i, es := range tt.layers {
				layers = append(layers, Layer{Index: i, DiffID: fmt.Sprintf("L%d", i), Result: walk(t, es...)})
			}
			got := summary(Squash(layers).Packages())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHostileEntriesAreReported(t *testing.T) {
	r := walk(t, entry{name: "../../etc/pkgs.txt", body: "x 1\n"}, entry{name: "h/pkgs.txt", typ: tar.TypeLink, link: "../../../etc/shadow"})
	if len(r.Problems) != 2 {
		t.Fatalf("want 2 problems, got %+v", r.Problems)
	}
	if len(r.Files) != 0 {
		t.Errorf("no file may be kept, got %v", r.Files)
	}
}

func TestResolveSymlinks(t *testing.T) {
	layers := []Layer{
		{Index: 0, Result: walk(t,
			entry{name: "usr/lib/os-release", body: "ID=debian\n"},
			entry{name: "etc/os-release", typ: tar.TypeSymlink, link: "../usr/lib/os-release"},
		)},
	}
	tree := Squash(layers)
	b, ok := tree.Meta("etc/os-release")
	if !ok || string(b) != "ID=debian\n" {
		t.Fatalf("Meta(etc/os-release) = %q, %v", b, ok)
	}
	tests := []struct {
		links map[string]string
		in    string
		want  string
		ok    bool
	}{
		{map[string]string{"etc/os-release": "../usr/lib/os-release"}, "etc/os-release", "usr/lib/os-release", true},
		{map[string]string{"etc/os-release": "/usr/lib/os-release"}, "etc/os-release", "usr/lib/os-release", true},
		{map[string]string{"lib": "usr/lib"}, "lib/apk/db/installed", "usr/lib/apk/db/installed", true},
		{map[string]string{"etc": "../../../../outside"}, "etc/os-release", "outside/os-release", true},
		{map[string]string{"a": "b", "b": "a"}, "a/x", "", false},
		{map[string]string{"a": "/"}, "a/etc/x", "etc/x", true},
	}
	for _, tt := range tests {
		tr := &Tree{symlinks: tt.links}
		got, ok := tr.Resolve(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Resolve(%q) with %v = %q, %v; want %q, %v", tt.in, tt.links, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLimits(t *testing.T) {
	w := walker(t)
	w.MaxFileSize = 10
	w.MemoryLimit = 4
	r, err := w.WalkTar(context.Background(), bytes.NewReader(mkTar(t,
		entry{name: "big/pkgs.txt", body: "toolong 1.0.0\n"},
		entry{name: "spill/pkgs.txt", body: "a 1\nb 2\n"},
	)))
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(r.Files["spill/pkgs.txt"]); len(got) != 2 {
		t.Errorf("file over the memory limit must be spilled to disk and read, got %v", got)
	}
	if pk, ok := r.Files["big/pkgs.txt"]; !ok || len(pk) != 0 {
		t.Errorf("oversized file must be present with no packages, got %v %v", pk, ok)
	}
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Message, "over the 10 byte limit") {
		t.Errorf("problems = %+v", r.Problems)
	}
	if ents, _ := os.ReadDir(w.TempDir); len(ents) != 0 {
		t.Errorf("temp dir not cleaned: %v", ents)
	}
}

func TestTruncatedLayer(t *testing.T) {
	b := mkTar(t, entry{name: "a/pkgs.txt", body: strings.Repeat("a 1\n", 1000)})
	_, err := walker(t).WalkTar(context.Background(), bytes.NewReader(b[:1500]))
	if !errors.Is(err, ErrLayer) {
		t.Fatalf("want ErrLayer, got %v", err)
	}
}

func TestHugeSparseFileIsSkippedCheaply(t *testing.T) {
	// A 10 GB sparse file: tar stores only its map of holes, so skipping it
	// must neither read nor hold 10 GB. archive/tar cannot write sparse
	// files, so the header block is built by hand.
	var buf bytes.Buffer
	buf.Write(gnuSparseHeader(t, "huge.img", 10<<30))
	buf.Write(make([]byte, 1024))
	r, err := walker(t).WalkTar(context.Background(), &buf)
	if err != nil {
		t.Fatalf("WalkTar: %v", err)
	}
	if len(r.Files) != 0 {
		t.Errorf("files = %v", r.Files)
	}
}

// gnuSparseHeader builds an old-GNU sparse header ('S') describing a file of
// realSize bytes with no data blocks at all.
func gnuSparseHeader(t testing.TB, name string, realSize int64) []byte {
	blk := make([]byte, 512)
	copy(blk[0:], name)
	copy(blk[100:], "0000644\x00")
	copy(blk[108:], "0000000\x00")
	copy(blk[116:], "0000000\x00")
	copy(blk[124:], "00000000000\x00") // size in archive: 0 data bytes
	copy(blk[136:], "00000000000\x00")
	blk[156] = 'S'
	copy(blk[257:], "ustar  \x00")
	// realsize at offset 483 (12 bytes octal)
	copy(blk[483:], fmt.Sprintf("%011o\x00", realSize))
	// one sparse entry at 386: offset=realSize, numbytes=0 (a trailing hole)
	copy(blk[386:], fmt.Sprintf("%011o\x00", realSize))
	copy(blk[398:], fmt.Sprintf("%011o\x00", 0))
	copy(blk[148:], "        ")
	var sum int64
	for _, c := range blk {
		sum += int64(c)
	}
	copy(blk[148:], fmt.Sprintf("%06o\x00 ", sum))
	return blk
}

func TestWalkDirDoesNotFollowSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "pkgs.txt"), []byte("evil 1\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(root, "app"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "app", "pkgs.txt"), []byte("good 1\n"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(root, "link")))
	must(t, os.Symlink(filepath.Join(outside, "pkgs.txt"), filepath.Join(root, "app2-pkgs.txt")))
	r, err := walker(t).WalkDir(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	got := summary(Squash([]Layer{{Result: r}}).Packages())
	want := []pv{{"good", "1", "app/pkgs.txt", ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCache(t *testing.T) {
	c, err := OpenCache(t.TempDir())
	must(t, err)
	id := Key{Space: KeyBlob, Digest: "sha256:" + strings.Repeat("ab", 32)}
	diffID := "sha256:" + strings.Repeat("cd", 32)
	res := walk(t, entry{name: "a/pkgs.txt", body: "a 1\n"}, entry{name: "etc/os-release", body: "ID=x\n"})
	want := &Entry{DiffID: diffID, Result: res}
	must(t, c.Put(id, "sig1", want))

	got, corrupt, err := c.Get(id, "sig1")
	if err != nil || corrupt || got == nil {
		t.Fatalf("Get = %v, %v, %v", got, corrupt, err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got, _, _ := c.Get(id, "sig2"); got != nil {
		t.Errorf("another extractor signature must miss")
	}
	if got, _, _ := c.Get(Key{Space: KeyFile, Digest: id.Digest}, "sig1"); got != nil {
		t.Errorf("the same digest in another key space must miss")
	}
	// The entry is not found by the diffID it records: only its key selects it.
	if got, _, _ := c.Get(Key{Space: KeyBlob, Digest: diffID}, "sig1"); got != nil {
		t.Errorf("an entry must not be found by its diffID")
	}

	// Corrupt the entry: flip a byte in the payload.
	p, _ := c.path(id, "sig1")
	b, _ := os.ReadFile(p)
	b[len(b)-3] ^= 0xff
	must(t, os.WriteFile(p, b, 0o644))
	got, corrupt, err = c.Get(id, "sig1")
	if err != nil || !corrupt || got != nil {
		t.Fatalf("corrupt entry: Get = %v, %v, %v; want miss flagged corrupt", got, corrupt, err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("corrupt entry must be removed")
	}
	// Truncated entry.
	must(t, c.Put(id, "sig1", want))
	b, _ = os.ReadFile(p)
	must(t, os.WriteFile(p, b[:len(b)/2], 0o644))
	if got, corrupt, _ := c.Get(id, "sig1"); got != nil || !corrupt {
		t.Errorf("truncated entry must be a corrupt miss")
	}

	for _, bad := range []string{"sha256:../../etc", "sha256:" + strings.Repeat("A", 64), "md5:abcd", "sha256:" + strings.Repeat("a", 63), ""} {
		k := Key{Space: KeyBlob, Digest: bad}
		if _, _, err := c.Get(k, "s"); !errors.Is(err, ErrBadDigest) {
			t.Errorf("Get(%q) err = %v, want ErrBadDigest", bad, err)
		}
		if err := c.Put(k, "s", want); !errors.Is(err, ErrBadDigest) {
			t.Errorf("Put(%q) err = %v, want ErrBadDigest", bad, err)
		}
		// An entry must record a well-formed diffID.
		if err := c.Put(id, "s", &Entry{DiffID: bad, Result: res}); !errors.Is(err, ErrBadDigest) {
			t.Errorf("Put(entry with diffID %q) err = %v, want ErrBadDigest", bad, err)
		}
	}
	for _, k := range []Key{{Space: "../x", Digest: id.Digest}, {Space: "", Digest: id.Digest}} {
		if err := c.Put(k, "s", want); err == nil {
			t.Errorf("Put with key space %q: want error", k.Space)
		}
	}
	if err := c.Put(id, "../s", want); err == nil {
		t.Errorf("Put with signature ../s: want error")
	}
}

func FuzzWalkTar(f *testing.F) {
	f.Add(mkTar(f, entry{name: "a/pkgs.txt", body: "a 1\n"}, entry{name: "etc/os-release", body: "ID=x"}))
	f.Add(mkTar(f, entry{name: "../x/pkgs.txt", body: "a 1\n"}, entry{name: "l", typ: tar.TypeSymlink, link: "/../../"}))
	f.Add(mkTar(f, entry{name: "a/.wh..wh..opq"}, entry{name: ".wh.b"}, entry{name: "h/pkgs.txt", typ: tar.TypeLink, link: "a/pkgs.txt"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		w := walker(t)
		w.MaxFileSize = 1 << 16
		res, _ := w.WalkTar(context.Background(), bytes.NewReader(data))
		if res == nil {
			t.Fatal("nil result")
		}
		for _, pe := range res.Panics {
			t.Fatalf("recovered panic: %v\n%s", pe, pe.Stack)
		}
		for p := range res.Files {
			if strings.HasPrefix(p, "/") || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") || p == ".." {
				t.Fatalf("path escapes root: %q", p)
			}
		}
		tree := Squash([]Layer{{Result: res}})
		_ = tree.Packages()
		_, _ = tree.Resolve("etc/os-release")
	})
}

func BenchmarkWalkTar(b *testing.B) {
	var es []entry
	for i := 0; i < 5000; i++ {
		es = append(es, entry{name: fmt.Sprintf("usr/share/doc/p%d/copyright", i), body: strings.Repeat("x", 2000)})
	}
	es = append(es, entry{name: "var/pkgs.txt", body: strings.Repeat("a 1\n", 1000)})
	data := mkTar(b, es...)
	w := walker(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.WalkTar(context.Background(), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// sniffExtractor wants every file but keeps only those starting "GOOD",
// counting the files it was asked to parse.
type sniffExtractor struct{ parsed *int }

func (sniffExtractor) Name() string                           { return "test/sniff" }
func (sniffExtractor) Version() int                           { return 1 }
func (sniffExtractor) Required(p string, fi fs.FileInfo) bool { return strings.HasPrefix(p, "bin/") }
func (sniffExtractor) Sniff(p string, head []byte) bool       { return bytes.HasPrefix(head, []byte("GOOD")) }
func (s sniffExtractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	*s.parsed++
	b := make([]byte, in.Size)
	if _, err := in.Reader.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return []inventory.Package{{Name: string(b), Version: "1"}}, nil
}

func TestSniffSkipsUnwantedContent(t *testing.T) {
	parsed := 0
	w := walker(t)
	w.Extractors = append(w.Extractors, sniffExtractor{&parsed})
	r, err := w.WalkTar(context.Background(), bytes.NewReader(mkTar(t,
		entry{name: "bin/a", body: "GOOD and the rest of the file"},
		entry{name: "bin/b", body: "#!/bin/sh\necho not for us\n"},
		entry{name: "bin/c", body: "GO"},
		entry{name: "x/pkgs.txt", body: "a 1\n"},
	)))
	if err != nil {
		t.Fatal(err)
	}
	if parsed != 1 {
		t.Errorf("parsed %d files, want only the one that sniffed right", parsed)
	}
	if got := r.Files["bin/a"]; len(got) != 1 || got[0].Name != "GOOD and the rest of the file" {
		t.Errorf("the sniffed file must reach the extractor whole, got %+v", got)
	}
	if _, ok := r.Files["bin/b"]; ok {
		t.Errorf("declined file kept")
	}
	if len(r.Files["x/pkgs.txt"]) != 1 {
		t.Errorf("the walk must go on after a sniffed file: %v", r.Files)
	}
}

// panicExtractor panics on every file named boom.
type panicExtractor struct{}

func (panicExtractor) Name() string                          { return "test/panic" }
func (panicExtractor) Version() int                          { return 1 }
func (panicExtractor) Required(p string, _ fs.FileInfo) bool { return filepath.Base(p) == "boom" }
func (panicExtractor) Extract(context.Context, *extract.Input) ([]inventory.Package, error) {
	var s []int
	return nil, fmt.Errorf("unreachable: %d", s[len(s)]) // an index out of range: a runtime error, as real parser bugs are
}

// TestExtractorPanicIsKeptApart checks the last line of defence: a panicking
// extractor costs its file only, is reported as a problem without a stack,
// and is recorded in Result.Panics so that tests and fuzz targets fail on it.
func TestExtractorPanicIsKeptApart(t *testing.T) {
	w := walker(t)
	w.Extractors = append(w.Extractors, panicExtractor{})
	res, err := w.WalkTar(context.Background(), bytes.NewReader(mkTar(t, entry{name: "a/boom", body: "x"}, entry{name: "a/pkgs.txt", body: "a 1\n"})))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Panics) != 1 || res.Panics[0].Op != "test/panic: read a/boom" || len(res.Panics[0].Stack) == 0 {
		t.Fatalf("Panics = %v, want one from test/panic on a/boom with a stack", res.Panics)
	}
	if got := len(res.Files["a/pkgs.txt"]); got != 1 {
		t.Errorf("a/pkgs.txt: %d packages, want 1: a panic elsewhere must not cost other files", got)
	}
	var msgs []string
	for _, p := range res.Problems {
		msgs = append(msgs, p.Message)
	}
	want := []string{"test/panic: read a/boom: internal error while parsing (please report it): runtime error: index out of range [0] with length 0"}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
