package dbdist

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// installed records, beside the database, which signed artifact it came
// from, so that an unchanged pull downloads nothing and an older artifact
// is refused. The file's size and modification time tie the record to the
// database file it describes: a database replaced by "db update" or
// "db import" no longer matches, and the next pull installs in full.
type installed struct {
	Manifest     string `json:"manifest"`
	Uncompressed string `json:"uncompressed,omitempty"`
	// Parts are the uncompressed digests of the parts the database was
	// assembled from, sorted (per-ecosystem artifacts).
	Parts []string `json:"parts,omitempty"`
	// Ecosystems maps each part's ecosystem to its uncompressed digest, so
	// that the next pull can replace only the ecosystems that changed.
	Ecosystems map[string]string `json:"ecosystems,omitempty"`
	Created    time.Time         `json:"created"`
	Size       int64             `json:"size"`
	ModTime    time.Time         `json:"modTime"`
}

func installedPath(dbPath string) string { return dbPath + ".oci.json" }

func readInstalled(dbPath string) (*installed, error) {
	b, err := os.ReadFile(installedPath(dbPath))
	if err != nil {
		return nil, err
	}
	var in installed
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

func (in *installed) matches(dbPath string) bool {
	fi, err := os.Stat(dbPath)
	return err == nil && fi.Size() == in.Size && fi.ModTime().Equal(in.ModTime)
}

// writeInstalled is written after the database is swapped in: a crash
// between the two leaves a record that does not match, never one that
// vouches for the wrong file.
func writeInstalled(dbPath string, in installed) error {
	fi, err := os.Stat(dbPath)
	if err != nil {
		return fmt.Errorf("record installed database: %w", err)
	}
	in.Size, in.ModTime = fi.Size(), fi.ModTime()
	b, _ := json.Marshal(in)
	tmp := installedPath(dbPath) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("record installed database: %w", err)
	}
	if err := os.Rename(tmp, installedPath(dbPath)); err != nil {
		return fmt.Errorf("record installed database: %w", err)
	}
	return nil
}
