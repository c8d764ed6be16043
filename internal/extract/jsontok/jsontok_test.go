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
