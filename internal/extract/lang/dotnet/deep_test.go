package dotnet

import (
	"testing"

	"github.com/drydock/drydock/internal/extract/extracttest"
)

// TestDeepNesting: app/app.deps.json of a valid prefix and then 256 MiB
// of "[" fails with ErrMalformed after reading a little of it.
func TestDeepNesting(t *testing.T) {
	extracttest.DeepNesting(t, New(), "app/app.deps.json", min(400<<20, MaxFileSize), ErrMalformed,
		extracttest.Nesting{Name: "skipped key", Prefix: `{"targets":`},
		extracttest.Nesting{Name: "decoded library", Prefix: `{"libraries":{"a/1":`})
}
