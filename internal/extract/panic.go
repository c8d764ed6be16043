package extract

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// PanicError is a panic recovered while parsing untrusted input. Parsers keep
// recovering panics at their boundary so that one hostile file costs that file
// only, but a recovered panic is a bug, not a malformed input: fuzz targets
// and tests look for this type (errors.As) and fail on it, where an ordinary
// "malformed" error is an accepted outcome.
type PanicError struct {
	// Op names what was being parsed ("rpm: read var/lib/rpm/Packages").
	Op string
	// Value is what was passed to panic.
	Value any
	// Stack is the goroutine's stack at the point of recovery.
	Stack []byte
}

// Error names the operation and the panic value, never the stack: it is what a
// user sees in a scan's problems.
func (e *PanicError) Error() string {
	return fmt.Sprintf("%s: internal error while parsing (please report it): %v", e.Op, e.Value)
}

// Unwrap exposes a panic value that is itself an error (a runtime error, say).
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// Recovered wraps a value returned by recover() as a *PanicError with the
// current stack. Call it from the deferred function that recovered.
func Recovered(op string, v any) error {
	return &PanicError{Op: op, Value: v, Stack: debug.Stack()}
}

// AsPanic reports whether err is, or wraps, a recovered panic, and returns it.
func AsPanic(err error) (*PanicError, bool) {
	var pe *PanicError
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}
