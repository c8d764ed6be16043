package match

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/inventory"
)

func TestUncovered(t *testing.T) {
	inv := &inventory.Inventory{
		OS: &inventory.OS{ID: "debian", VersionID: "12"},
		Packages: []inventory.Package{
			{Name: "libssl3", Type: inventory.TypeDeb, SourceName: "openssl"},
			{Name: "zlib1g", Type: inventory.TypeDeb},
			{Name: "requests", Type: inventory.TypePyPI},
			{Name: "golang.org/x/text", Type: inventory.TypeGolang},
			{Name: "thing", Type: "unknown-type"},
		},
	}
	tests := []struct {
		loaded []string
		want   []string
	}{
		{[]string{"Debian", "PyPI", "Go"}, nil},
		{[]string{"pypi", "go"}, []string{"the database holds no Debian advisories: 2 package(s) were not checked (load them with drydock db update --ecosystem \"Debian\" or db import)"}},
		{nil, []string{
			"the database holds no Debian advisories: 2 package(s) were not checked (load them with drydock db update --ecosystem \"Debian\" or db import)",
			"the database holds no Go advisories: 1 package(s) were not checked (load them with drydock db update --ecosystem \"Go\" or db import)",
			"the database holds no PyPI advisories: 1 package(s) were not checked (load them with drydock db update --ecosystem \"PyPI\" or db import)",
		}},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range Uncovered(inv, tt.loaded) {
			got = append(got, p.Message)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("loaded %v (-want +got):\n%s", tt.loaded, diff)
		}
	}
}
