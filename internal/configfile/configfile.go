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
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ToJSON converts a YAML document to JSON, rejecting duplicate keys and a
// second document. empty reports a document with no content (an empty
// file, or only comments), which converts to JSON null.
//
// It reads YAML with go.yaml.in/yaml/v3, drydock's one YAML library, so
// scalars follow YAML 1.2: "yes", "on" and "no" are strings, not booleans,
// and unquoted dates stay strings for the fields that parse them.
func ToJSON(b []byte) (j []byte, empty bool, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return []byte("null"), true, nil
		}
		return nil, false, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, false, yamlError(err)
		}
		return nil, false, fmt.Errorf("line %d: a second YAML document; want one", extra.Line)
	}
	c := converter{budget: maxValues}
	v, err := c.value(&doc)
	if err != nil {
		return nil, false, err
	}
	if j, err = json.Marshal(v); err != nil {
		return nil, false, err
	}
	return j, v == nil, nil
}

// maxValues bounds the values one document may expand to, so that aliases
// of aliases (a "billion laughs" file) fail instead of exhausting memory.
const maxValues = 1 << 18

// yamlError makes the library's multi-line "yaml: unmarshal errors:"
// into one line.
func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return errors.New(strings.Join(te.Errors, "; "))
	}
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

// converter turns a YAML node tree into values encoding/json writes. It
// works on nodes rather than decoded Go values so that scalars keep the
// text they were written with where JSON has no type for them (an
// unquoted date stays "2026-12-31" for the field that parses it).
type converter struct{ budget int }

func (c *converter) value(n *yaml.Node) (any, error) {
	if c.budget--; c.budget < 0 {
		return nil, fmt.Errorf("line %d: the document expands to more than %d values (aliases?)", n.Line, maxValues)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0])
	case yaml.AliasNode:
		return c.value(n.Alias)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := c.value(e)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		if err := c.mapping(n, out, map[string]int{}); err != nil {
			return nil, err
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// mapping adds n's pairs to out. Keys written twice are an error; keys
// merged in with "<<" give way to the mapping's own.
func (c *converter) mapping(n *yaml.Node, out map[string]any, line map[string]int) error {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: a mapping key must be a plain value", k.Line)
		}
		if prev, dup := line[k.Value]; dup {
			return fmt.Errorf("line %d: mapping key %q already defined at line %d", k.Line, k.Value, prev)
		}
		line[k.Value] = k.Line
		val, err := c.value(v)
		if err != nil {
			return err
		}
		out[k.Value] = val
	}
	for _, m := range merges {
		if m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, src := range srcs {
			if src.Kind == yaml.AliasNode {
				src = src.Alias
			}
			if src.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: \"<<\" merges mappings only", m.Line)
			}
			merged := map[string]any{}
			if err := c.mapping(src, merged, map[string]int{}); err != nil {
				return err
			}
			for k, v := range merged {
				if _, own := out[k]; !own {
					out[k] = v
				}
			}
		}
	}
	return nil
}

// scalar gives a scalar its JSON type by its resolved YAML 1.2 tag.
func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, yamlError(err))
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return nil, fmt.Errorf("line %d: %s is not a number JSON can hold", n.Line, n.Value)
		}
		return v, nil
	}
	return n.Value, nil // strings, timestamps, binary: as written
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
