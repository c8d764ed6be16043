package layerfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Cache stores layer results on disk, keyed by the layer's uncompressed
// digest (diffID) and a signature of the extractors that made them, so a
// result made by other extractors is never reused. Entries are written to a
// temp file and renamed, and carry a checksum: a torn or corrupt entry is
// detected on read, removed, and counted as a miss.
type Cache struct {
	dir string
}

// ErrBadDigest means a diffID is not of the form alg:hex.
var ErrBadDigest = errors.New("malformed layer digest")

// OpenCache uses dir (created if needed) for layer results.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open layer cache %s: %w", dir, err)
	}
	return &Cache{dir: dir}, nil
}

// Dir is the cache directory.
func (c *Cache) Dir() string { return c.dir }

// ValidDigest reports whether d is "sha256:<64 hex>" or "sha512:<128 hex>".
// Digests come from image configs, which an attacker may write, and become
// file names here.
func ValidDigest(d string) bool {
	alg, hexpart, ok := strings.Cut(d, ":")
	if !ok {
		return false
	}
	want := map[string]int{"sha256": 64, "sha512": 128}[alg]
	if want == 0 || len(hexpart) != want {
		return false
	}
	for _, ch := range hexpart {
		if (ch < '0' || ch > '9') && (ch < 'a' || ch > 'f') {
			return false
		}
	}
	return true
}

func (c *Cache) path(diffID, sig string) (string, error) {
	if !ValidDigest(diffID) {
		return "", fmt.Errorf("%w: %q", ErrBadDigest, diffID)
	}
	alg, h, _ := strings.Cut(diffID, ":")
	return filepath.Join(c.dir, sig, alg, h[:2], h+".json"), nil
}

// Get returns the cached result for the layer. A missing entry is a miss; a
// corrupt one is removed and also a miss, with corrupt set so callers can
// say so.
func (c *Cache) Get(diffID, sig string) (res *Result, corrupt bool, err error) {
	p, err := c.path(diffID, sig)
	if err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read layer cache entry: %w", err)
	}
	res, ok := decodeEntry(b)
	if !ok {
		_ = os.Remove(p)
		return nil, true, nil
	}
	return res, false, nil
}

func decodeEntry(b []byte) (*Result, bool) {
	sumHex, payload, ok := bytes.Cut(b, []byte("\n"))
	if !ok || len(sumHex) != 64 {
		return nil, false
	}
	sum := sha256.Sum256(payload)
	if hex.EncodeToString(sum[:]) != string(sumHex) {
		return nil, false
	}
	var r Result
	if err := json.Unmarshal(payload, &r); err != nil {
		return nil, false
	}
	if r.Files == nil {
		r.Files = newResult().Files
	}
	return &r, true
}

// Put stores a layer result atomically.
func (c *Cache) Put(diffID, sig string, r *Result) error {
	p, err := c.path(diffID, sig)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode layer cache entry: %w", err)
	}
	sum := sha256.Sum256(payload)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write layer cache entry: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-")
	if err != nil {
		return fmt.Errorf("write layer cache entry: %w", err)
	}
	tmp := f.Name()
	_, werr := f.WriteString(hex.EncodeToString(sum[:]) + "\n")
	if werr == nil {
		_, werr = f.Write(payload)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, p)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write layer cache entry: %w", werr)
	}
	return nil
}
