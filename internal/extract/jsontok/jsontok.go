// Package jsontok reads JSON token by token for extractors whose files can
// be large (lockfiles, deps.json, composer's installed.json): a skipped
// subtree is never held in memory, and every error wraps the caller's own
// sentinel so callers keep branching on their ErrMalformed.
//
// Nesting is capped at MaxDepth: encoding/json's Token keeps one stack entry
// per open container, so a file of a few hundred MiB of "[" would otherwise
// grow that stack to gigabytes.
package jsontok

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// MaxDepth is the deepest nesting of arrays and objects a skipped value may
// have. Real lockfiles, deps.json and installed.json files nest a handful of
// levels; 512 leaves generous room while keeping the decoder's stack small.
const MaxDepth = 512

// ErrTooDeep is wrapped (beside the caller's malformed sentinel) when a value
// nests deeper than MaxDepth.
var ErrTooDeep = fmt.Errorf("JSON nests deeper than %d levels", MaxDepth)

// ExpectDelim reads one token and fails unless it is want.
func ExpectDelim(dec *json.Decoder, want json.Delim, malformed error) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %w", malformed, UnexpectedEOF(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: want %q, got %v", malformed, want, tok)
	}
	return nil
}

// Key reads an object key.
func Key(dec *json.Decoder, malformed error) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("%w: %w", malformed, UnexpectedEOF(err))
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: want an object key, got %v", malformed, tok)
	}
	return s, nil
}

// Skip skips one value, token by token.
func Skip(dec *json.Decoder, malformed error) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %w", malformed, UnexpectedEOF(err))
	}
	if d, ok := tok.(json.Delim); ok {
		return SkipRest(dec, d, malformed)
	}
	return nil
}

// SkipRest skips to the end of the container opened by open. The decoder
// itself checks that delimiters match, so counting depth is enough. It fails
// with ErrTooDeep once the container nests deeper than MaxDepth.
func SkipRest(dec *json.Decoder, open json.Delim, malformed error) error {
	if open != '{' && open != '[' {
		return fmt.Errorf("%w: unexpected %q", malformed, open)
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %w", malformed, UnexpectedEOF(err))
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
				if depth > MaxDepth {
					return fmt.Errorf("%w: %w", malformed, ErrTooDeep)
				}
			} else {
				depth--
			}
		}
	}
	return nil
}

// UnexpectedEOF turns io.EOF inside a value into io.ErrUnexpectedEOF: the
// file ended before the value did.
func UnexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Describe rewords an encoding/json decoding error for a user: a type error
// names the JSON field and the kinds involved ("field version: got an array,
// want a string") instead of Go's struct and type names, a nesting error
// becomes ErrTooDeep, and the "json: " prefix goes. Other errors pass
// through unchanged.
func Describe(err error) error {
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := kindName(te.Type.Kind())
		got := te.Value
		if sp := strings.IndexByte(got, ' '); sp > 0 {
			got = got[:sp] // "number 1.5" → "number"
		}
		got = map[string]string{"array": "an array", "object": "an object", "number": "a number", "string": "a string", "bool": "a boolean"}[got]
		if got == "" {
			got = "a " + te.Value
		}
		if te.Field == "" {
			return fmt.Errorf("got %s, want %s", got, want)
		}
		return fmt.Errorf("field %s: got %s, want %s", te.Field, got, want)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Error(), "exceeded max depth") {
			return ErrTooDeep
		}
		return fmt.Errorf("%s (byte %d)", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value of another kind"
}
