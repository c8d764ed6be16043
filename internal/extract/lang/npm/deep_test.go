package npm

import (
	"testing"

	"github.com/drydock/drydock/internal/extract/extracttest"
)

// TestDeepNesting: app/package-lock.json of a valid prefix and then 400
// MiB of "[" fails with ErrMalformed after reading a little of it.
func TestDeepNesting(t *testing.T) {
	extracttest.DeepNesting(t, New(), "app/package-lock.json", 400<<20, ErrMalformed,
		extracttest.Nesting{Name: "skipped key", Prefix: `{"lockfileVersion":3,"zzz":`},
		extracttest.Nesting{Name: "decoded entry", Prefix: `{"lockfileVersion":3,"packages":{"node_modules/a":`},
		extracttest.Nesting{Name: "v1 dependency", Prefix: `{"lockfileVersion":1,"dependencies":{"a":{"zzz":`})
}
