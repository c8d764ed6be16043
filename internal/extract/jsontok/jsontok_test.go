package jsontok

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

var errBad = errors.New("bad file")

func TestSkipAndKeys(t *testing.T) {
	dec := json.NewDecoder(strings.NewReader(`{"a": {"x": [1, {"y": 2}]}, "b": "keep"}`))
	if err := ExpectDelim(dec, '{', errBad); err != nil {
		t.Fatal(err)
	}
	k, err := Key(dec, errBad)
	if err != nil || k != "a" {
		t.Fatalf("Key = %q, %v", k, err)
	}
	if err := Skip(dec, errBad); err != nil {
		t.Fatal(err)
	}
	if k, err := Key(dec, errBad); err != nil || k != "b" {
		t.Fatalf("after Skip, Key = %q, %v", k, err)
	}
}

func TestErrorsWrapTheCallersSentinel(t *testing.T) {
	tests := []struct {
		in  string
		run func(*json.Decoder) error
		eof bool
	}{
		{`[`, func(d *json.Decoder) error { return ExpectDelim(d, '{', errBad) }, false},
		{``, func(d *json.Decoder) error { return ExpectDelim(d, '{', errBad) }, true},
		{`{"a": [1, 2`, func(d *json.Decoder) error { d.Token(); d.Token(); return Skip(d, errBad) }, true},
		{`[1]`, func(d *json.Decoder) error { d.Token(); _, err := Key(d, errBad); return err }, false},
	}
	for _, tt := range tests {
		err := tt.run(json.NewDecoder(strings.NewReader(tt.in)))
		if !errors.Is(err, errBad) {
			t.Errorf("%q: err %v does not wrap the sentinel", tt.in, err)
		}
		if tt.eof != errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: err %v, unexpected-EOF want %v", tt.in, err, tt.eof)
		}
	}
}

func TestSkipCapsDepth(t *testing.T) {
	tests := []struct {
		depth   int
		wantErr bool
	}{
		{MaxDepth, false},
		{MaxDepth + 1, true},
		{100 * MaxDepth, true},
	}
	for _, tt := range tests {
		in := `{"a":` + strings.Repeat("[", tt.depth) + strings.Repeat("]", tt.depth) + `}`
		dec := json.NewDecoder(strings.NewReader(in))
		dec.Token()
		Key(dec, errBad)
		err := Skip(dec, errBad)
		if got := err != nil; got != tt.wantErr {
			t.Errorf("depth %d: err %v, want error %v", tt.depth, err, tt.wantErr)
		}
		if tt.wantErr && (!errors.Is(err, ErrTooDeep) || !errors.Is(err, errBad)) {
			t.Errorf("depth %d: err %v does not wrap ErrTooDeep and the sentinel", tt.depth, err)
		}
	}
}

// TestSkipStopsEarlyOnEndlessNesting feeds an endless stream of "[": the
// skip must fail after reading little of it, not grow the decoder's stack
// until memory runs out.
func TestSkipStopsEarlyOnEndlessNesting(t *testing.T) {
	r := &countingReader{}
	dec := json.NewDecoder(io.MultiReader(strings.NewReader(`{"zzz":`), r))
	dec.Token()
	Key(dec, errBad)
	if err := Skip(dec, errBad); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("err %v, want ErrTooDeep", err)
	}
	if r.n > 1<<20 {
		t.Errorf("read %d bytes of nesting before failing, want well under 1 MiB", r.n)
	}
}

// countingReader is an endless stream of "[".
type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '['
	}
	r.n += len(p)
	return len(p), nil
}

func TestDescribe(t *testing.T) {
	type entry struct {
		Version string `json:"version"`
		Dev     bool   `json:"dev"`
	}
	tests := []struct {
		in   string
		into any
		want string
	}{
		{`{"version": [1]}`, &entry{}, "field version: got an array, want a string"},
		{`{"dev": "yes"}`, &entry{}, "field dev: got a string, want a boolean"},
		{`[1]`, &entry{}, "got an array, want an object"},
		{`{"version": 1.5}`, &entry{}, "field version: got a number, want a string"},
		{`{"version": }`, &entry{}, "invalid character '}' looking for beginning of value (byte 13)"},
		{strings.Repeat("[", 20000), new(any), ErrTooDeep.Error()},
		{`{"version": "1"`, &entry{}, io.ErrUnexpectedEOF.Error()},
	}
	for _, tt := range tests {
		err := Describe(json.NewDecoder(strings.NewReader(tt.in)).Decode(tt.into))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%.30q: got %v, want %q", tt.in, err, tt.want)
		}
	}
}
