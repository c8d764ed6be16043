// Package extractors lists every extractor drydock has, in one explicit map,
// so that adding one is a one-line change here and nothing registers itself
// behind the reader's back through init.
package extractors

import (
	"fmt"
	"sort"
	"strings"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/extract/lang/dotnet"
	"github.com/drydock/drydock/internal/extract/lang/gobinary"
	"github.com/drydock/drydock/internal/extract/lang/java"
	"github.com/drydock/drydock/internal/extract/lang/npm"
	"github.com/drydock/drydock/internal/extract/lang/php"
	"github.com/drydock/drydock/internal/extract/lang/python"
	"github.com/drydock/drydock/internal/extract/lang/ruby"
	"github.com/drydock/drydock/internal/extract/lang/rustaudit"
	"github.com/drydock/drydock/internal/extract/os/apk"
	"github.com/drydock/drydock/internal/extract/os/dpkg"
	"github.com/drydock/drydock/internal/extract/os/rpm"
)

// registry maps each extractor's Name to its constructor.
var registry = map[string]func() extract.Extractor{
	apk.Name:  apk.New,
	dpkg.Name: dpkg.New,
	rpm.Name:  rpm.New,

	dotnet.Name: dotnet.New,
	npm.Name:    npm.New,
	php.Name:    php.New,
	python.Name: python.New,
	ruby.Name:   ruby.New,

	gobinary.Name:  gobinary.New,
	java.Name:      java.New,
	rustaudit.Name: rustaudit.New,
}

// Names returns the names of all extractors, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Default returns a fresh instance of every extractor, sorted by name so
// that runs are reproducible.
func Default() []extract.Extractor {
	names := Names()
	out := make([]extract.Extractor, len(names))
	for i, n := range names {
		out[i] = registry[n]()
	}
	return out
}

// ByName returns the named extractors, sorted by name and without
// duplicates, for a --extractors flag. An unknown name is an error that
// lists the known ones.
func ByName(names ...string) ([]extract.Extractor, error) {
	seen := map[string]bool{}
	var unknown []string
	for _, n := range names {
		if _, ok := registry[n]; !ok {
			unknown = append(unknown, fmt.Sprintf("%q", n))
			continue
		}
		seen[n] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("extractors: unknown %s (known: %s)", strings.Join(unknown, ", "), strings.Join(Names(), ", "))
	}
	sorted := make([]string, 0, len(seen))
	for n := range seen {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	out := make([]extract.Extractor, len(sorted))
	for i, n := range sorted {
		out[i] = registry[n]()
	}
	return out, nil
}
