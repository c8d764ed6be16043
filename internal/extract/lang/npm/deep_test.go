package npm

import (
	"context"
	"errors"
	"io"
	"testing"
)

// TestDeepNesting feeds app/package-lock.json made of a valid prefix and then 400 MiB of "["
// (generated, never held in memory): the extractor must fail with
// ErrMalformed after reading a little of it, not grow encoding/json's stack
// until memory runs out.
func TestDeepNesting(t *testing.T) {
	for _, tt := range []struct{ prefix, name string }{
		{`{"lockfileVersion":3,"zzz":`, "skipped key"}, {`{"lockfileVersion":3,"packages":{"node_modules/a":`, "decoded entry"}, {`{"lockfileVersion":1,"dependencies":{"a":{"zzz":`, "v1 dependency"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &nestingReaderAt{prefix: tt.prefix, size: 400 << 20}
			in := input("app/package-lock.json", nil)
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
