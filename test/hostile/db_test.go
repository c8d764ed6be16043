package hostile

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// osvRecord is a minimal OSV record for a Debian package.
func osvRecord(id, pkg string, events []map[string]string) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "modified": "2024-01-01T00:00:00Z", "summary": "test record",
		"affected": []any{map[string]any{
			"package": map[string]string{"ecosystem": "Debian:12", "name": pkg},
			"ranges":  []any{map[string]any{"type": "ECOSYSTEM", "events": events}},
		}},
	})
	return b
}

var osReleaseDebian = file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n")

func TestHostileDB(t *testing.T) {
	const minute = time.Minute
	good := zipOf(t,
		zipEntry{name: "DEBIAN-CVE-2024-0001.json", body: osvRecord("DEBIAN-CVE-2024-0001", "base-files", []map[string]string{{"introduced": "0"}, {"fixed": "12.5"}})},
	)
	t.Run("osv-zip-traversal-names", func(t *testing.T) {
		e := newEnv(t)
		c := canary(t)
		rec := func(id string) []byte {
			return osvRecord(id, "base-files", []map[string]string{{"introduced": "0"}, {"fixed": "12.5"}})
		}
		var es []zipEntry
		es = append(es,
			zipEntry{name: "../../../../../../../.." + c + ".json", body: rec("DEBIAN-CVE-2024-0002")},
			zipEntry{name: "/" + strings.TrimPrefix(c, "/") + "-abs.json", body: rec("DEBIAN-CVE-2024-0003")},
			zipEntry{name: "a/../../b.json", body: []byte(`{"id": "X", "affected": [`)},
			zipEntry{name: "c.json", body: []byte("\x00\x01 not json")},
		)
		bad := writeFile(t, filepath.Join(e.in, "all.zip"), zipOf(t, es...))
		okZip := writeFile(t, filepath.Join(e.in, "good", "all.zip"), good)
		if o := e.run(t, minute, "db", "import", okZip); o.code != 0 {
			t.Fatalf("importing the good zip: exit %d: %s", o.code, o.stderr)
		}
		o := e.run(t, minute, "db", "import", bad)
		checkCanary(t, c)
		checkCanary(t, c+"-abs.json")
		record(t, o, "")
		expectError(t, o, 2, `all\.zip looks damaged: 2 of 4 entries are not OSV records`)
		expectRSS(t, o, 150)
		// The failed import left the database as it was.
		st := e.run(t, minute, "db", "status")
		if st.code != 0 || !strings.Contains(st.stdout, "good/all.zip") || strings.Contains(st.stdout, bad) {
			t.Errorf("db status after the failed import: exit %d\n%s%s", st.code, st.stdout, st.stderr)
		}
	})
	t.Run("osv-record-absurd-ranges", func(t *testing.T) {
		e := newEnv(t)
		var events []map[string]string
		for i := 0; i < 100_000; i++ {
			events = append(events, map[string]string{"introduced": fmt.Sprint(i)}, map[string]string{"fixed": fmt.Sprint(i) + ".1"})
		}
		long := strings.Repeat("9", 1<<20)
		zip := zipOf(t,
			zipEntry{name: "many-events.json", body: osvRecord("DEBIAN-CVE-2024-0010", "base-files", events)},
			zipEntry{name: "huge-version.json", body: osvRecord("DEBIAN-CVE-2024-0011", "base-files", []map[string]string{{"introduced": long}, {"fixed": "1:" + long + "~~~"}})},
			zipEntry{name: "backwards.json", body: osvRecord("DEBIAN-CVE-2024-0012", "base-files", []map[string]string{{"fixed": "0"}, {"introduced": "99"}, {"last_affected": "-1"}, {"limit": "*"}})},
			zipEntry{name: "normal.json", body: osvRecord("DEBIAN-CVE-2024-0013", "base-files", []map[string]string{{"introduced": "0"}, {"fixed": "12.5"}})},
		)
		p := writeFile(t, filepath.Join(e.in, "all.zip"), zip)
		o := e.run(t, 3*minute, "db", "import", p)
		if o.code != 0 {
			// Refusing such records is as good as taming them, if said plainly.
			record(t, o, "")
			expectError(t, o, 2, `all\.zip`)
			return
		}
		expectRSS(t, o, 400)
		img := imageOf(t, filepath.Join(e.in, "img"), layerOpts{}, osReleaseDebian, file("var/lib/dpkg/status", dpkgStatus))
		s := e.run(t, 3*minute, "scan", "oci:"+img, "-f", "json")
		record(t, s, fmt.Sprintf("import ok (%.0f MiB); scan exit %d", o.rssMiB, s.code))
		if s.code != 0 && s.code != 1 {
			t.Errorf("scan: exit %d: %s", s.code, s.stderr)
		}
		if !strings.Contains(s.stdout, "DEBIAN-CVE-2024-0013") {
			t.Errorf("the ordinary record beside the absurd ones was not matched:\n%.500s", s.stdout)
		}
		expectRSS(t, s, 400)
	})
	t.Run("osv-zip-bomb", func(t *testing.T) {
		e := newEnv(t)
		// One record inflating to 200 MiB (over the 64 MiB record limit)
		// beside an ordinary one.
		bomb := zipBomb(t, "DEBIAN-CVE-2024-0020.json", 200<<20)
		p := writeFile(t, filepath.Join(e.in, "all.zip"), bomb)
		o := e.run(t, 3*minute, "db", "import", p)
		record(t, o, "")
		expectError(t, o, 2, `all\.zip`)
		expectRSS(t, o, 250)
	})
	t.Run("debian-tracker-json-malformed", func(t *testing.T) {
		e := newEnv(t)
		p := writeFile(t, filepath.Join(e.in, "tracker.json"), []byte(`{"base-files":{"CVE-2024-0001":{"releases":{"bookworm":{"status":"open"`))
		o := e.run(t, minute, "db", "import", p)
		record(t, o, "")
		expectError(t, o, 2, `tracker\.json: .*(JSON|byte)`)
		if strings.Contains(o.stderr, "zip") {
			t.Errorf("tracker JSON reported as a zip problem: %s", o.stderr)
		}
	})
}
