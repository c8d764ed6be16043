// Package configfile reads the YAML files people write for drydock (the
// policy, the ignore file) strictly and with errors worded for them: a
// duplicate key, an unknown field or a value of the wrong shape fails the
// load, and a type error says "got a list, want a mapping" rather than
// naming Go types. It also holds the field formats those files share, such
// as an expiry date.
//
// It is a leaf (it imports nothing internal) and pure (no disk, no
// network): callers read the bytes and wrap the errors with where they
// came from.
package configfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// ToJSON converts a YAML document to JSON, rejecting duplicate keys.
// empty reports a document with no content (an empty file, or only
// comments), which converts to JSON null.
func ToJSON(b []byte) (j []byte, empty bool, err error) {
	j, err = yaml.YAMLToJSONStrict(b)
	if err != nil {
		return nil, false, err
	}
	return j, bytes.Equal(bytes.TrimSpace(j), []byte("null")), nil
}

// DecodeJSON decodes one JSON value (from ToJSON) into v with unknown
// fields rejected, and words type errors in YAML terms rather than Go's:
// "spec.rules: got a mapping, want a list".
func DecodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			want := "a string"
			switch te.Type.Kind() {
			case reflect.Struct, reflect.Map:
				want = "a mapping"
			case reflect.Slice:
				want = "a list"
			case reflect.Bool:
				want = "true or false"
			}
			got := map[string]string{"array": "list", "object": "mapping"}[te.Value]
			if got == "" {
				got = te.Value
			}
			if te.Field == "" {
				return fmt.Errorf("got %s %s, want %s", article(got), got, want)
			}
			return fmt.Errorf("%s: got %s %s, want %s", te.Field, article(got), got, want)
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// ParseExpiry reads YYYY-MM-DD (the end of that day, UTC: an entry written
// to expire on a date still applies during it) or an RFC 3339 instant.
func ParseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.AddDate(0, 0, 1), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t, nil
}

// ParseDuration reads a Go duration that may start with a number of days
// ("30d", "1d12h", "90s"), the way every drydock file and flag takes one.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q: want a duration like 90s, 5m, 24h or 30d", orig)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration like 90s, 5m, 24h or 30d", orig)
	}
	return days + d, nil
}
