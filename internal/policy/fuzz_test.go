package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: Parse never panics, every error wraps ErrInvalidPolicy, and a
// policy it accepts evaluates without error.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(doc("  maxSeverity: HIGH\n  rules:\n    - name: a\n      expression: 'findings.exists(f, f.id == \"X\")'\n")))
	f.Add([]byte(doc("  allowedImages: [\"**/a/**/*b\"]\n  exceptions:\n    - {rules: ['*'], images: ['**'], reason: r, expires: 2026-01-01}\n")))
	f.Add([]byte("apiVersion: drydock.dev/v1\nkind: Policy\nmetadata: {name: x}\nspec: {rules: [{name: y, expression: '[1,2].map(x, x)'}]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("error does not wrap ErrInvalidPolicy: %v", err)
			}
			return
		}
		// A fuzzed rule may nest comprehensions deeply: bound it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := p.Evaluate(ctx, testInput()); err != nil && ctx.Err() == nil {
			t.Fatalf("Evaluate: %v", err)
		}
	})
}
