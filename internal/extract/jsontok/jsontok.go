// Package jsontok reads JSON token by token for extractors whose files can
// be large (lockfiles, deps.json, composer's installed.json): a skipped
// subtree is never held in memory, and every error wraps the caller's own
// sentinel so callers keep branching on their ErrMalformed.
package jsontok

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

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
// itself checks that delimiters match, so counting depth is enough.
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
