package vulndb

import (
	"bytes"
	"context"
	"database/sql"
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

// dbRows is every row of a database but its meta, in key order, for
// comparing content rather than bytes.
func dbRows(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{
		`SELECT ecosystem || '|' || name || '|' || advisory_id FROM affected ORDER BY 1`,
		`SELECT id || '|' || modified || '|' || hex(data) FROM advisories ORDER BY 1`,
		`SELECT alias || '|' || advisory_id FROM aliases ORDER BY 1`,
		`SELECT ecosystem || '|' || source || '|' || updated_at || '|' || records || '|' || newest_modified FROM sources ORDER BY 1`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			b.WriteString(s + "\n")
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// Patch (an incremental pull) gives the same rows as assembling every
// part: one ecosystem replaced by a newer export, and one dropped.
func TestPatchEqualsAssemble(t *testing.T) {
	ctx := context.Background()
	src := realDB(t)
	newer := filepath.Join(t.TempDir(), "newer.sqlite")
	copyFile(t, src, newer)
	extra := t.TempDir()
	writeFile(t, extra, "DRY-PATCH-1.json", []byte(`{"schema_version":"1.6.0","id":"DRY-PATCH-1","modified":"2026-01-02T03:04:05Z",`+
		`"aliases":["CVE-2099-0001"],"affected":[{"package":{"ecosystem":"crates.io","name":"drydock-patch-test"},`+
		`"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}`))
	if _, err := Import(ctx, newer, []string{realZip(t, "crates.io"), extra}); err != nil {
		t.Fatal(err)
	}
	export := func(db string) map[string]string {
		st, err := openT(t, db).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		dir := t.TempDir()
		for _, e := range st.Ecosystems {
			p := filepath.Join(dir, e.Ecosystem+".part")
			if err := ExportEcosystem(ctx, db, e.Ecosystem, p); err != nil {
				t.Fatal(err)
			}
			out[e.Ecosystem] = p
		}
		return out
	}
	old, now := export(src), export(newer)
	all := func(m map[string]string, skip string) []string {
		var ps []string
		for e, p := range m {
			if e != skip {
				ps = append(ps, p)
			}
		}
		return ps
	}
	installed := filepath.Join(t.TempDir(), "vulndb.sqlite")
	if err := Assemble(ctx, installed, all(old, "")); err != nil {
		t.Fatal(err)
	}
	if err := Patch(ctx, installed, []string{"crates.io"}, []string{now["crates.io"]}); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(t.TempDir(), "want.sqlite")
	if err := Assemble(ctx, want, all(now, "")); err != nil {
		t.Fatal(err)
	}
	if dbRows(t, installed) != dbRows(t, want) {
		t.Error("crates.io replaced: the patched database differs from the assembled one")
	}
	if advs, _ := openT(t, installed).Affecting(ctx, "crates.io", "drydock-patch-test"); len(advs) != 1 {
		t.Errorf("the new crates.io record: %d advisories, want 1", len(advs))
	}
	if err := Patch(ctx, installed, []string{"Go"}, nil); err != nil {
		t.Fatal(err)
	}
	want2 := filepath.Join(t.TempDir(), "want.sqlite")
	if err := Assemble(ctx, want2, all(now, "Go")); err != nil {
		t.Fatal(err)
	}
	if dbRows(t, installed) != dbRows(t, want2) {
		t.Error("Go dropped: the patched database differs from the assembled one")
	}
	if advs, _ := openT(t, installed).Affecting(ctx, "Go", "golang.org/x/net"); len(advs) != 0 {
		t.Errorf("Go dropped, but %d advisories still match", len(advs))
	}
}
