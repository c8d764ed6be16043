package extractors

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/extract"
)

func names(es []extract.Extractor) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestDefault(t *testing.T) {
	got := names(Default())
	if diff := cmp.Diff([]string{"lang/cargo-auditable", "lang/dotnet", "lang/gobinary", "lang/java", "lang/npm", "lang/php", "lang/python", "lang/ruby", "os/apk", "os/dpkg", "os/rpm"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Each registry key must be the Name its extractor reports, or --extractors
// and cached results would disagree on what an extractor is called.
func TestRegistryKeysMatchNames(t *testing.T) {
	for key, newFn := range registry {
		e := newFn()
		if e.Name() != key {
			t.Errorf("registry key %q builds extractor named %q", key, e.Name())
		}
		if e.Version() < 1 {
			t.Errorf("%s: Version %d, want >= 1", key, e.Version())
		}
	}
}

func TestByName(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: []string{"os/rpm", "os/dpkg", "os/rpm"}, want: []string{"os/dpkg", "os/rpm"}},
		{in: nil, want: []string{}},
		{in: []string{"os/dpkg", "lang/nope", "x"}, wantErr: `unknown "lang/nope", "x" (known: lang/cargo-auditable, lang/dotnet, lang/gobinary, lang/java, lang/npm, lang/php, lang/python, lang/ruby, os/apk, os/dpkg, os/rpm)`},
	}
	for _, tt := range tests {
		got, err := ByName(tt.in...)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ByName(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ByName(%q): %v", tt.in, err)
		}
		if diff := cmp.Diff(tt.want, append([]string{}, names(got)...)); diff != "" {
			t.Errorf("ByName(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
