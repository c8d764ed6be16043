package vulndb

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestInstall(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.sqlite")
	recs := filepath.Join(dir, "recs")
	os.MkdirAll(recs, 0o755)
	os.WriteFile(filepath.Join(recs, "A-1.json"), []byte(`{"id":"A-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}`), 0o644)
	if _, err := Import(ctx, src, []string{recs}); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(src)
	dst := filepath.Join(dir, "data", "vulndb.sqlite")
	os.MkdirAll(filepath.Dir(dst), 0o755)

	for _, tc := range []struct {
		name string
		fill func(w io.Writer) error
		ok   bool
	}{
		{"database", func(w io.Writer) error { _, err := w.Write(good); return err }, true},
		{"not a database", func(w io.Writer) error { _, err := w.Write(bytes.Repeat([]byte("x"), 4096)); return err }, false},
		{"truncated", func(w io.Writer) error { _, err := w.Write(good[:len(good)/2]); return err }, false},
		{"writer fails", func(w io.Writer) error { w.Write(good[:100]); return errors.New("connection reset") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(dst)
			err := Install(ctx, dst, tc.fill)
			if (err == nil) != tc.ok {
				t.Fatalf("Install: %v, want ok %v", err, tc.ok)
			}
			after, _ := os.ReadFile(dst)
			if !tc.ok && !bytes.Equal(before, after) {
				t.Error("a refused install changed the database")
			}
			if tc.ok && !bytes.Equal(after, good) {
				t.Error("installed database differs")
			}
			tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), ".vulndb.sqlite.download-*"))
			if len(tmps) != 0 {
				t.Errorf("temporary files left: %v", tmps)
			}
		})
	}
}
