package dotnet

import (
	"context"
	"errors"
	"io"
	"testing"
)

// TestDeepNesting feeds app/app.deps.json made of a valid prefix and then 400 MiB of "["
// (generated, never held in memory): the extractor must fail with
// ErrMalformed after reading a little of it, not grow encoding/json's stack
// until memory runs out.
func TestDeepNesting(t *testing.T) {
	for _, tt := range []struct{ prefix, name string }{
		{`{"targets":`, "skipped key"}, {`{"libraries":{"a/1":`, "decoded library"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &nestingReaderAt{prefix: tt.prefix, size: 400 << 20}
			if r.size > MaxFileSize {
				r.size = MaxFileSize
			}
			in := input("app/app.deps.json", nil)
			in.Reader, in.Size = r, r.size
			_, err := New().Extract(context.Background(), in)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
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
