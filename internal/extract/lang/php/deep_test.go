package php

import (
	"testing"

	"github.com/drydock/drydock/internal/extract/extracttest"
)

// TestDeepNesting: app/vendor/composer/installed.json of a valid prefix
// and then 256 MiB of "[" fails with ErrMalformed after reading a little
// of it.
func TestDeepNesting(t *testing.T) {
	extracttest.DeepNesting(t, New(), "app/vendor/composer/installed.json", min(400<<20, MaxFileSize), ErrMalformed,
		extracttest.Nesting{Name: "skipped key", Prefix: `{"zzz":`},
		extracttest.Nesting{Name: "decoded package", Prefix: `{"packages":[`},
		extracttest.Nesting{Name: "composer 1 list", Prefix: `[`})
}
