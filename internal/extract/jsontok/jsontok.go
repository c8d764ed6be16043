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
