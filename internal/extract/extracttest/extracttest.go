// Package extracttest holds checks the extractors' tests share.
package extracttest

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/drydock/drydock/internal/extract"
)

// Nesting is one hostile file: Prefix (valid JSON up to where the
// extractor decodes or skips a value) followed by "[" to the file's size.
type Nesting struct {
	Name, Prefix string
}

// DeepNesting feeds ex, for each case, a file at path of size bytes (the
// extractor's limit at most) made of the prefix and then "[" (generated,
// never held in memory): Extract must fail with want after reading under
// 1 MiB, not grow encoding/json's stack until memory runs out.
func DeepNesting(t *testing.T, ex extract.Extractor, path string, size int64, want error, cases ...Nesting) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			r := &nestingReaderAt{prefix: tc.Prefix, size: size}
			_, err := ex.Extract(context.Background(), &extract.Input{Path: path, Reader: r, Size: r.size})
			if !errors.Is(err, want) {
				t.Fatalf("err %v, want %v", err, want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if r.read > 1<<20 {
				t.Errorf("read %d bytes before failing, want under 1 MiB", r.read)
			}
		})
	}
}

// nestingReaderAt serves prefix followed by "[" up to size bytes.
type nestingReaderAt struct {
	prefix     string
	size, read int64
}

func (r *nestingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for ; n < len(p) && off+int64(n) < r.size; n++ {
		if i := off + int64(n); i < int64(len(r.prefix)) {
			p[n] = r.prefix[i]
		} else {
			p[n] = '['
		}
	}
	r.read += int64(n)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
