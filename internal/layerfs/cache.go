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

// Cache stores layer results on disk. An entry is found by a Key that the
// image's manifest commits to (the digest of the layer blob as the manifest
// names it, or the identity of a local archive file) and by a signature of the
// extractors that made it, so a result made by other extractors is never
// reused. It is never found by the uncompressed digest (diffID) an image's
// config claims: the config is the attacker's to write, and a claimed diffID
// selecting another image's analysis is exactly the poisoning to prevent.
// Each entry records the diffID its layer's bytes were verified to have when
// they were first read, for the caller to compare with the config's claim.
//
// Entries are written to a temp file and renamed, and carry a checksum: a
// torn or corrupt entry is detected on read, removed, and counted as a miss.
type Cache struct {
	dir string
}

// Key names a cache entry.
type Key struct {
	// Space says what Digest is: KeyBlob or KeyFile.
	Space string
	// Digest is "sha256:<hex>" (or sha512).
	Digest string
}

// Key spaces.
const (
	// KeyBlob: Digest is the layer blob's digest as the (verified) manifest
	// names it; the blob was hashed against it when first read.
	KeyBlob = "blob"
	// KeyFile: Digest identifies one layer of one local file (an archive)
	// that has not changed since the entry was made.
	KeyFile = "file"
)

// Entry is one layer's cached analysis.
type Entry struct {
	// DiffID is the digest the layer's uncompressed bytes were found to
	// have when the entry was made.
	DiffID string  `json:"diffID"`
	Result *Result `json:"result"`
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

func (c *Cache) path(k Key, sig string) (string, error) {
	if !ValidDigest(k.Digest) {
		return "", fmt.Errorf("%w: %q", ErrBadDigest, k.Digest)
	}
	if k.Space != KeyBlob && k.Space != KeyFile {
		return "", fmt.Errorf("layer cache: unknown key space %q", k.Space)
	}
	if !validSig(sig) {
		return "", fmt.Errorf("layer cache: malformed signature %q", sig)
	}
	alg, h, _ := strings.Cut(k.Digest, ":")
	return filepath.Join(c.dir, sig, k.Space, alg, h[:2], h+".json"), nil
}

func validSig(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, ch := range s {
		if (ch < '0' || ch > '9') && (ch < 'a' || ch > 'z') {
			return false
		}
	}
	return true
}

// Get returns the cached entry for the layer. A missing entry is a miss; a
// corrupt one is removed and also a miss, with corrupt set so callers can
// say so.
func (c *Cache) Get(k Key, sig string) (e *Entry, corrupt bool, err error) {
	p, err := c.path(k, sig)
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
	e, ok := decodeEntry(b)
	if !ok {
		_ = os.Remove(p)
		return nil, true, nil
	}
	return e, false, nil
}

func decodeEntry(b []byte) (*Entry, bool) {
	sumHex, payload, ok := bytes.Cut(b, []byte("\n"))
	if !ok || len(sumHex) != 64 {
		return nil, false
	}
	sum := sha256.Sum256(payload)
	if hex.EncodeToString(sum[:]) != string(sumHex) {
		return nil, false
	}
	var e Entry
	if err := json.Unmarshal(payload, &e); err != nil || e.Result == nil || !ValidDigest(e.DiffID) {
		return nil, false
	}
	if e.Result.Files == nil {
		e.Result.Files = newResult().Files
	}
	return &e, true
}

// Put stores a layer's entry atomically. Callers put only what they
// verified: the layer's bytes hashed to k (for KeyBlob) and to e.DiffID.
func (c *Cache) Put(k Key, sig string, e *Entry) error {
	p, err := c.path(k, sig)
	if err != nil {
		return err
	}
	if e == nil || e.Result == nil || !ValidDigest(e.DiffID) {
		return fmt.Errorf("write layer cache entry: %w: %q", ErrBadDigest, entryDiffID(e))
	}
	payload, err := json.Marshal(e)
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

func entryDiffID(e *Entry) string {
	if e == nil {
		return ""
	}
	return e.DiffID
}
