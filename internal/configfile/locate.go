package configfile

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DecodeYAML decodes a YAML document into v strictly (duplicate keys,
// unknown fields and wrong shapes fail), with errors that name the YAML
// path and line: `line 4: watch.pollintervall: unknown field (did you mean
// pollInterval?)`. empty reports a document with no content.
func DecodeYAML(b []byte, v any) (empty bool, err error) {
	j, empty, err := ToJSON(b)
	if err != nil {
		return false, fmt.Errorf("%s", cleanYAMLError(err))
	}
	if empty {
		return true, nil
	}
	if err := DecodeJSON(j, v); err != nil {
		return false, locate(b, v, err)
	}
	return false, nil
}

// cleanYAMLError drops the converter's wrapping ("error converting YAML to
// JSON: yaml: ") from a syntax error, keeping its line.
func cleanYAMLError(err error) string {
	msg := err.Error()
	for _, p := range []string{"error converting YAML to JSON: ", "yaml: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}

// locate finds the place in the YAML that a decoding error is about.
func locate(b []byte, v any, err error) error {
	var root yaml.Node
	if yaml.Unmarshal(b, &root) != nil {
		return err
	}
	if path, n, hint := unknownField(&root, reflect.TypeOf(v), ""); n != nil {
		msg := fmt.Sprintf("line %d: %s: unknown field", n.Line, path)
		if hint != "" {
			msg += " (did you mean " + hint + "?)"
		}
		return errors.New(msg)
	}
	if path, n, verr := badValue(&root, reflect.TypeOf(v), ""); n != nil {
		return fmt.Errorf("line %d: %s: %v", n.Line, path, verr)
	}
	// A type error names the JSON path first ("spec.rules: got ...").
	if field, _, ok := strings.Cut(err.Error(), ": "); ok && fieldPath.MatchString(field) {
		if n := nodeAt(&root, field); n != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
	}
	return err
}

var fieldPath = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// unknownField walks the YAML alongside the Go type it decodes into and
// returns the first mapping key the type has no field for (compared as
// encoding/json does, ignoring case), with a likely intended name.
func unknownField(n *yaml.Node, t reflect.Type, path string) (string, *yaml.Node, string) {
	if n == nil || t == nil {
		return "", nil, ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "", nil, ""
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return unknownField(n.Content[0], t, path)
		}
	case yaml.AliasNode:
		return unknownField(n.Alias, t, path)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			switch t.Kind() {
			case reflect.Struct:
				ft, ok, names := fieldType(t, k.Value)
				if !ok {
					return p, k, closest(k.Value, names)
				}
				if q, m, h := unknownField(val, ft, p); m != nil {
					return q, m, h
				}
			case reflect.Map:
				if q, m, h := unknownField(val, t.Elem(), p); m != nil {
					return q, m, h
				}
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, item := range n.Content {
				if q, m, h := unknownField(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); m != nil {
					return q, m, h
				}
			}
		}
	}
	return "", nil, ""
}

// badValue walks the YAML alongside the Go type and returns the first value
// that a type with its own decoding (a duration) rejects, with the error:
// encoding/json reports those errors without saying where they were.
func badValue(n *yaml.Node, t reflect.Type, path string) (string, *yaml.Node, error) {
	if n == nil || t == nil {
		return "", nil, nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return "", nil, nil
		}
		return badValue(n.Content[0], t, path)
	}
	if n.Kind == yaml.AliasNode {
		return badValue(n.Alias, t, path)
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		var raw any
		if err := n.Decode(&raw); err != nil {
			return path, n, err
		}
		j, err := json.Marshal(raw)
		if err != nil {
			return "", nil, nil
		}
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(j); err != nil {
			return path, n, err
		}
		return "", nil, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			var ft reflect.Type
			switch t.Kind() {
			case reflect.Struct:
				ft, _, _ = fieldType(t, k.Value)
			case reflect.Map:
				ft = t.Elem()
			}
			if q, m, err := badValue(val, ft, p); m != nil {
				return q, m, err
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, item := range n.Content {
				if q, m, err := badValue(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); m != nil {
					return q, m, err
				}
			}
		}
	}
	return "", nil, nil
}

// fieldType finds the struct field encoding/json would decode key into.
func fieldType(t reflect.Type, key string) (reflect.Type, bool, []string) {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if ft, ok, more := fieldType(et, key); ok {
					return ft, true, nil
				} else {
					names = append(names, more...)
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		if strings.EqualFold(name, key) {
			return f.Type, true, nil
		}
		names = append(names, name)
	}
	return nil, false, names
}

// nodeAt follows a dotted path of mapping keys; at a list it stops and
// returns the list.
func nodeAt(n *yaml.Node, path string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, key := range strings.Split(path, ".") {
		if n.Kind != yaml.MappingNode {
			return n
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if strings.EqualFold(n.Content[i].Value, key) {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

// closest is the known name nearest to key by edit distance, if near.
func closest(key string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := distance(strings.ToLower(key), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
