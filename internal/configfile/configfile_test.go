package configfile

import (
	"strings"
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
	tests := []struct{ yaml, want, wantErr string }{
		{"a: 1\nb: [x, 2.5, true]\n", `{"a":1,"b":["x",2.5,true]}`, ""},
		{"on: yes\nno: off\n", `{"no":"off","on":"yes"}`, ""}, // YAML 1.2: strings
		{"expires: 2026-12-31\n", `{"expires":"2026-12-31"}`, ""},
		{"1: one\ntrue: t\n", `{"1":"one","true":"t"}`, ""},
		{"base: &b {x: 1}\nuse: *b\n", `{"base":{"x":1},"use":{"x":1}}`, ""},
		{"---\n", "null", ""},
		{"base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n", `{"base":{"x":1,"y":2},"use":{"x":1,"y":3}}`, ""},
		{"a: 1\na: 2\n", "", `line 2: mapping key "a" already defined at line 1`},
		{"a: 1\n---\nb: 2\n", "", "line 2: a second YAML document"},
		{"a: .inf\n", "", "line 1: .inf is not a number JSON can hold"},
		{"a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
			"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n", "", "more than 262144 values"},
		{"a: [\n", "", "did not find expected node content"},
	}
	for _, tt := range tests {
		j, _, err := ToJSON([]byte(tt.yaml))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: err = %v, want one line containing %q", tt.yaml, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(j) != tt.want {
			t.Errorf("%q: ToJSON = %s, %v; want %s", tt.yaml, j, err, tt.want)
		}
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
