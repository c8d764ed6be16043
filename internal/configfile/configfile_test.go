package configfile

import (
	"testing"
	"time"
)

func TestDecodeJSON(t *testing.T) {
	type doc struct {
		Name  string            `json:"name"`
		List  []string          `json:"list"`
		Map   map[string]string `json:"map"`
		Inner struct {
			Enabled bool `json:"enabled"`
		} `json:"inner"`
	}
	for _, tc := range []struct{ yaml, want string }{
		{"name: a\nlist: [x]\n", ""},
		{"nmae: a\n", `unknown field "nmae"`},
		{"list: {a: b}\n", "list: got a mapping, want a list"},
		{"map: [a]\n", "map: got a list, want a mapping"},
		{"inner: {enabled: maybe}\n", "inner.enabled: got a string, want true or false"},
		{"name: [a]\n", "name: got a list, want a string"},
		{"- a\n", "got a list, want a mapping"},
	} {
		j, empty, err := ToJSON([]byte(tc.yaml))
		if err != nil || empty {
			t.Fatalf("%q: ToJSON: %v, empty %v", tc.yaml, err, empty)
		}
		var d doc
		err = DecodeJSON(j, &d)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%q: got error %q, want %q", tc.yaml, got, tc.want)
		}
	}
}

func TestToJSON(t *testing.T) {
	if _, empty, err := ToJSON([]byte("# only a comment\n")); err != nil || !empty {
		t.Errorf("comment only: empty %v, err %v; want empty", empty, err)
	}
	if _, _, err := ToJSON([]byte("a: 1\na: 2\n")); err == nil {
		t.Error("duplicate key: no error")
	}
}

func TestParseExpiry(t *testing.T) {
	got, err := ParseExpiry(" 2026-12-31 ")
	if want := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC); err != nil || !got.Equal(want) {
		t.Errorf("date: %v, %v; want %v (the end of that day)", got, err, want)
	}
	got, err = ParseExpiry("2026-12-31T10:00:00+02:00")
	if want := time.Date(2026, 12, 31, 8, 0, 0, 0, time.UTC); err != nil || !got.Equal(want) {
		t.Errorf("RFC 3339: %v, %v; want %v", got, err, want)
	}
	if _, err := ParseExpiry("next week"); err == nil {
		t.Error("next week: no error")
	}
}
