package vulndb

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func addRecordSeeds(f *testing.F) {
	for _, dir := range []string{"testdata/mixed", "testdata/mixed/sub", "testdata/go-small"} {
		des, _ := os.ReadDir(dir)
		for _, de := range des {
			if b, err := os.ReadFile(filepath.Join(dir, de.Name())); err == nil && !de.IsDir() {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{"", "{}", `{"id":""}`, `{"id":"X","affected":[{"package":{}}]}`, `{"id":"X","modified":"not a time"}`, "[]", "null", `{"id":"\u0000"}`} {
		f.Add([]byte(s))
	}
}

func FuzzDecodeAdvisory(f *testing.F) {
	addRecordSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		adv, err := decodeAdvisory(data)
		if err != nil {
			return
		}
		if adv.ID == "" {
			t.Fatal("accepted a record without id")
		}
		for _, k := range keys(adv) {
			if k.ecosystem == "" || k.name == "" {
				t.Fatalf("empty index key %+v", k)
			}
		}
	})
}

// FuzzZipIngest feeds arbitrary bytes as an export zip through the walk and
// decode steps with small caps; nothing may panic or read past the caps.
func FuzzZipIngest(f *testing.F) {
	var buf bytes.Buffer
	for _, entries := range [][]zipEntry{
		dirEntries(f, "testdata/go-small"),
		{{"a.json", []byte(`{"id":"A","affected":[{"package":{"ecosystem":"npm","name":"a"}}]}`)}, {"b.txt", []byte("x")}},
		nil,
	} {
		p := writeZip(f, filepath.Join(f.TempDir(), "seed.zip"), entries)
		b, _ := os.ReadFile(p)
		f.Add(b)
		buf.Reset()
	}
	cfg := defaults()
	cfg.maxRecord = 1 << 16
	cfg.maxUncompessed = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		var total int
		emit := func(name string, rec []byte) error {
			total += len(rec)
			if int64(len(rec)) > cfg.maxRecord || int64(total) > cfg.maxUncompessed {
				t.Fatalf("read past the caps: record %d, total %d", len(rec), total)
			}
			if adv, err := decodeAdvisory(rec); err == nil {
				keys(adv)
			}
			return nil
		}
		_ = walkZip(context.Background(), bytes.NewReader(data), int64(len(data)), &cfg, emit, func(string, error) {})
	})
}
