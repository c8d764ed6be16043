package vulndb

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Parts of the real sets, exported one per ecosystem and assembled again,
// answer every lookup as the original does; an export is byte-for-byte
// repeatable; a damaged part fails the assembly and leaves the database
// as it was.
func TestExportAssemble(t *testing.T) {
	ctx := context.Background()
	src := realDB(t)
	st, err := openT(t, src).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var parts []string
	for _, e := range st.Ecosystems {
		p := filepath.Join(dir, e.Ecosystem+".part")
		if err := ExportEcosystem(ctx, src, e.Ecosystem, p); err != nil {
			t.Fatal(err)
		}
		again := p + ".again"
		if err := ExportEcosystem(ctx, src, e.Ecosystem, again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mustRead(t, p), mustRead(t, again)) {
			t.Errorf("%s: two exports of the same content differ", e.Ecosystem)
		}
		parts = append(parts, p)
	}
	if err := ExportEcosystem(ctx, src, "NoSuchEcosystem", filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "no such ecosystem") {
		t.Errorf("export of a missing ecosystem: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); err == nil {
		t.Error("a failed export left its file")
	}

	outDir := t.TempDir()
	out := filepath.Join(outDir, "assembled.sqlite")
	if err := Assemble(ctx, out, parts); err != nil {
		t.Fatal(err)
	}
	got, err := openT(t, out).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(st, got); d != "" {
		t.Errorf("status of the assembled database (-original +assembled):\n%s", d)
	}
	a, b := openT(t, src), openT(t, out)
	for _, q := range []struct{ eco, name string }{{"PyPI", "django"}, {"Go", "golang.org/x/net"}, {"crates.io", "openssl"}, {"AlmaLinux:9", "kernel"}} {
		want, err := a.Affecting(ctx, q.eco, q.name)
		if err != nil {
			t.Fatal(err)
		}
		have, err := b.Affecting(ctx, q.eco, q.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			t.Errorf("%s %s: no advisories in the real sets; pick another package", q.eco, q.name)
		}
		if d := cmp.Diff(ids(want), ids(have)); d != "" {
			t.Errorf("%s %s (-original +assembled):\n%s", q.eco, q.name, d)
		}
	}

	before := mustRead(t, out)
	bad := filepath.Join(dir, "bad.part")
	b2 := mustRead(t, parts[0])
	os.WriteFile(bad, b2[:len(b2)/2], 0o644)
	if err := Assemble(ctx, out, append([]string{bad}, parts[1:]...)); err == nil {
		t.Error("a truncated part was assembled")
	}
	if !bytes.Equal(mustRead(t, out), before) {
		t.Error("a failed assembly changed the database")
	}
	if l := leftovers(t, outDir); len(l) != 0 {
		t.Errorf("left behind: %v", l)
	}
}
