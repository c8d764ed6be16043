package scanner

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// ErrDigestMismatch means a layer's content does not hash to the digest the
// manifest or config names: the source lies or the data is corrupt.
var ErrDigestMismatch = errors.New("layer digest mismatch")

// layerStream opens a layer's uncompressed content. The returned reader
// checks, when drained to EOF, that the compressed bytes hash to the
// manifest digest (unless the transport already did) and the uncompressed
// bytes to the config's diffID.
type layerStream struct {
	io.Reader
	closers   []func() error
	diff      hash.Hash
	wantDiff  v1.Hash
	comp      hash.Hash
	wantComp  v1.Hash
	compCount *countingReader
	wantSize  int64
	// src is the buffered compressed stream, drained after the
	// decompressor stops so the whole blob is hashed.
	src io.Reader
	// transportVerified: the compressed stream was checked by the
	// transport against the layer's digest (remote layers).
	transportVerified bool
	blobDigest        v1.Hash
}

// blobVerified reports whether Finish checked (or the transport checked)
// the compressed bytes against digest.
func (s *layerStream) blobVerified(digest string) bool {
	switch {
	case s.comp != nil:
		return s.wantComp.String() == digest
	case s.transportVerified:
		return s.blobDigest.String() == digest
	}
	return false
}

func openLayer(l v1.Layer, diffID v1.Hash, verifyCompressed, preferUncompressed bool) (*layerStream, error) {
	s := &layerStream{wantDiff: diffID, diff: sha256.New()}
	if diffID.Algorithm != "sha256" {
		return nil, fmt.Errorf("layer %s: unsupported digest algorithm %q", diffID, diffID.Algorithm)
	}
	if preferUncompressed {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("open layer %s: %w", diffID, err)
		}
		s.closers = append(s.closers, rc.Close)
		s.Reader = io.TeeReader(rc, s.diff)
		return s, nil
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("open layer %s: %w", diffID, err)
	}
	s.closers = append(s.closers, rc.Close)
	var src io.Reader = rc
	if !verifyCompressed {
		if d, err := l.Digest(); err == nil {
			s.transportVerified, s.blobDigest = true, d
		}
	}
	if verifyCompressed {
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("layer digest: %w", err)
		}
		if d.Algorithm != "sha256" {
			return nil, fmt.Errorf("layer %s: unsupported digest algorithm %q", d, d.Algorithm)
		}
		size, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("layer size: %w", err)
		}
		s.comp, s.wantComp, s.wantSize = sha256.New(), d, size
		s.compCount = &countingReader{r: rc}
		src = io.TeeReader(s.compCount, s.comp)
	}
	br := bufio.NewReaderSize(src, 1<<16)
	magic, _ := br.Peek(4)
	var plain io.Reader
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("open layer %s: gzip: %w", diffID, err)
		}
		// Layers are one gzip member; reading further members would let
		// trailing data pass unchecked into the tar.
		zr.Multistream(false)
		s.closers = append(s.closers, zr.Close)
		plain = zr
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("open layer %s: zstd: %w", diffID, err)
		}
		s.closers = append(s.closers, func() error { zr.Close(); return nil })
		plain = zr
	default:
		plain = br
	}
	s.Reader = io.TeeReader(plain, s.diff)
	s.src = br
	return s, nil
}

// Finish drains what the tar reader left (padding, trailing blocks) and
// checks the digests.
func (s *layerStream) Finish() error {
	if _, err := io.Copy(io.Discard, s.Reader); err != nil {
		return fmt.Errorf("read layer %s: %w", s.wantDiff, err)
	}
	if got := hex.EncodeToString(s.diff.Sum(nil)); got != s.wantDiff.Hex {
		return fmt.Errorf("%w: uncompressed content of layer hashes to sha256:%s, config says %s", ErrDigestMismatch, got, s.wantDiff)
	}
	// Drain the compressed stream too: the transport's own digest check
	// (remote layers) only fires at EOF.
	if s.src != nil {
		if _, err := io.Copy(io.Discard, s.src); err != nil {
			return fmt.Errorf("read layer %s: %w", s.wantDiff, err)
		}
	}
	if s.comp != nil {
		if s.compCount.n != s.wantSize {
			return fmt.Errorf("%w: layer %s is %d bytes, manifest says %d", ErrDigestMismatch, s.wantComp, s.compCount.n, s.wantSize)
		}
		if got := hex.EncodeToString(s.comp.Sum(nil)); got != s.wantComp.Hex {
			return fmt.Errorf("%w: layer blob hashes to sha256:%s, manifest says %s", ErrDigestMismatch, got, s.wantComp)
		}
	}
	return nil
}

// Close releases the layer's readers.
func (s *layerStream) Close() error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	return first
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
