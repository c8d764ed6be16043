package layerfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

// Per-layer lists are bounded (issue 17): a layer of hostile entries must
// not grow the result, the report or the cache entry without limit.

func TestProblemsAreCappedWithACount(t *testing.T) {
	var es []entry
	for i := 0; i < 2500; i++ {
		es = append(es, entry{name: fmt.Sprintf("../x/%d", i), body: "x"})
	}
	es = append(es, entry{name: "../" + strings.Repeat("a", 100_000), body: "x"})
	w := walker(t)
	w.MaxProblems = 1000
	r, err := w.WalkTar(context.Background(), bytes.NewReader(mkTar(t, es...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) != 1000 || r.ProblemsOmitted != 1501 {
		t.Errorf("problems listed %d, omitted %d; want 1000 and 1501", len(r.Problems), r.ProblemsOmitted)
	}
	// The omitted count survives the cache.
	c, _ := OpenCache(t.TempDir())
	k := Key{Space: KeyBlob, Digest: "sha256:" + strings.Repeat("1", 64)}
	must(t, c.Put(k, "s", &Entry{DiffID: "sha256:" + strings.Repeat("2", 64), Result: r}))
	got, _, err := c.Get(k, "s")
	if err != nil || got == nil || got.Result.ProblemsOmitted != 1501 || len(got.Result.Problems) != 1000 {
		t.Errorf("cache entry lost the count: %+v %v", got, err)
	}

	// Image-controlled paths and messages are kept short.
	w.MaxProblems = 0
	r, err = w.WalkTar(context.Background(), bytes.NewReader(mkTar(t, entry{name: "../" + strings.Repeat("a", 100_000), body: "x"})))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) != 1 || len(r.Problems[0].Path) > maxProblemPath+len("…") {
		t.Errorf("a 100 KB path was kept at %d bytes", len(r.Problems[0].Path))
	}
}

func TestTooManySymlinksFailsTheLayer(t *testing.T) {
	w := walker(t)
	w.MaxSymlinks = 100
	mk := func(n int) []byte {
		var es []entry
		for i := 0; i < n; i++ {
			es = append(es, entry{name: fmt.Sprintf("l/%d", i), typ: tar.TypeSymlink, link: "../etc"})
		}
		// Deep ones are not kept, so they do not count.
		for i := 0; i < 500; i++ {
			es = append(es, entry{name: fmt.Sprintf("a/b/c/d/%d", i), typ: tar.TypeSymlink, link: "x"})
		}
		return mkTar(t, es...)
	}
	r, err := w.WalkTar(context.Background(), bytes.NewReader(mk(100)))
	if err != nil || len(r.Symlinks) != 100 {
		t.Fatalf("100 symlinks: %d kept, err %v", len(r.Symlinks), err)
	}
	_, err = w.WalkTar(context.Background(), bytes.NewReader(mk(101)))
	if !errors.Is(err, ErrTooManySymlinks) || !errors.Is(err, ErrLayer) {
		t.Fatalf("101 symlinks: err = %v, want ErrTooManySymlinks", err)
	}
}

// tempRecorder records the scratch directory each extraction was given.
type tempRecorder struct {
	listExtractor
	dirs map[string]int
}

func (r *tempRecorder) Name() string { return "test/temp" }
func (r *tempRecorder) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	if fi, err := os.Stat(in.TempDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("scratch directory %q not usable: %v", in.TempDir, err)
	}
	// Leave a file behind: the walk must clean it up.
	f, err := os.CreateTemp(in.TempDir, "left-")
	if err != nil {
		return nil, err
	}
	f.Close()
	r.dirs[in.TempDir]++
	return nil, nil
}

// Thousands of small wanted files (var/lib/dpkg/status.d) cost no
// directory operations each: one scratch directory serves the whole walk,
// and it is gone afterwards.
func TestOneScratchDirectoryPerWalk(t *testing.T) {
	rec := &tempRecorder{dirs: map[string]int{}}
	w := walker(t)
	w.Extractors = []extract.Extractor{rec, listExtractor{}}
	var es []entry
	for i := 0; i < 300; i++ {
		es = append(es, entry{name: fmt.Sprintf("d/%d/pkgs.txt", i), body: "a 1\n"})
	}
	r, err := w.WalkTar(context.Background(), bytes.NewReader(mkTar(t, es...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Problems) != 0 {
		t.Fatalf("problems: %+v", r.Problems[0])
	}
	if len(rec.dirs) != 1 {
		t.Errorf("%d scratch directories for 300 files, want 1", len(rec.dirs))
	}
	for d, n := range rec.dirs {
		if n != 300 {
			t.Errorf("scratch %s used %d times, want 300", d, n)
		}
	}
	if ents, _ := os.ReadDir(w.TempDir); len(ents) != 0 {
		t.Errorf("scratch left behind: %v", ents)
	}
	// A layer with no wanted file makes no directory at all.
	rec.dirs = map[string]int{}
	if _, err := w.WalkTar(context.Background(), bytes.NewReader(mkTar(t, entry{name: "x", body: "y"}))); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(w.TempDir); len(ents) != 0 || len(rec.dirs) != 0 {
		t.Errorf("scratch made for a layer with nothing wanted: %v", ents)
	}
}

// Squash applies a layer's whiteouts in one pass over the tree, not one pass
// per whiteout (a layer may hold a million): every whiteout still hides its
// path and everything below it, and nothing else.
func TestSquashManyWhiteouts(t *testing.T) {
	lower := newResult()
	for i := 0; i < 5000; i++ {
		lower.Files[fmt.Sprintf("d%d/pkgs.txt", i)] = []inventory.Package{{Name: fmt.Sprint(i), Version: "1"}}
	}
	lower.Symlinks["o/link"] = "x"
	lower.Symlinks["o"] = "y"
	upper := newResult()
	for i := 0; i < 200_000; i++ {
		upper.Whiteouts = append(upper.Whiteouts, fmt.Sprintf("gone/%d", i))
	}
	// Hide every even directory, by whiteout of the directory or of the file.
	for i := 0; i < 5000; i += 2 {
		if i%4 == 0 {
			upper.Whiteouts = append(upper.Whiteouts, fmt.Sprintf("d%d", i))
		} else {
			upper.Whiteouts = append(upper.Whiteouts, fmt.Sprintf("d%d/pkgs.txt", i))
		}
	}
	upper.Opaque = []string{"o"}
	tree := Squash([]Layer{{Index: 0, Result: lower}, {Index: 1, Result: upper}})
	if got := len(tree.Packages()); got != 2500 {
		t.Errorf("%d packages left, want the 2,500 in odd directories", got)
	}
	for _, p := range tree.Packages() {
		var n int
		fmt.Sscan(p.Name, &n)
		if n%2 == 0 {
			t.Errorf("%s survived its whiteout", p.Path)
		}
	}
	if _, ok := tree.symlinks["o/link"]; ok {
		t.Errorf("o/link survived the opaque o")
	}
	if _, ok := tree.symlinks["o"]; !ok {
		t.Errorf("the opaque directory o itself was removed")
	}
}
