package report

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// terminalSafe escapes what an image controls before it reaches a terminal:
// package names and versions, paths, os-release fields, annotations. Control
// characters (ESC starts sequences that can recolour, retitle or rewrite the
// screen; NUL, BEL, backspace and carriage return hide text), tabs and
// newlines (which would break the table's columns and rows), C1 controls,
// the bidirectional overrides that reorder what is shown, and invalid UTF-8
// are written as Go-style escapes (\x1b, \u202e), so what is printed is what
// is there. A backslash is left alone: it cannot affect the terminal.
func terminalSafe(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r < 0x20 || r == 0x7f || unsafeRune(r) {
			return true
		}
		i += size
	}
	return false
}

// unsafeRune reports C1 controls and the Unicode bidirectional formatting
// characters (embeddings, overrides, isolates, marks).
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
