package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/inventory"
)

func TestTerminalSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"libssl3", "libssl3"},
		{"caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"},
		{"a\x1b[2J\x1b]0;pwned\x07b", `a\x1b[2J\x1b]0;pwned\x07b`},
		{"nul\x00here", `nul\x00here`},
		{"tab\there\nnew\rline", `tab\there\nnew\rline`},
		{"del\x7f c1\u009b31m", `del\x7f c1\u009b31m`},
		{"evil\u202etxt.exe", `evil\u202etxt.exe`},
		{"bad\xffutf8", `bad\xffutf8`},
		{`back\slash`, `back\slash`},
	}
	for _, tt := range tests {
		if got := terminalSafe(tt.in); got != tt.want {
			t.Errorf("terminalSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// hostileInventory holds image-controlled strings with terminal escapes,
// NULs, tabs, newlines and bidi overrides in every field the table shows.
func hostileInventory() *inventory.Inventory {
	inv := fixtureInventory()
	inv.Source.BaseName = "evil.example/base\x1b]0;title\x07:1"
	inv.OS = &inventory.OS{ID: "debian", VersionID: "12", PrettyName: "Debian\x1b[2J\x1b[H 12"}
	inv.Packages = []inventory.Package{{
		Name: "esc\x1b[31mred\x1b[0m", Version: "1.0\x00-evil", Type: inventory.TypeDeb,
		SourceName: "src\ttab", Path: "var/lib/dpkg/status", Layer: layerBase, Origin: inventory.OriginBase,
	}, {
		Name: "bidi\u202egnp.exe", Version: "2\n3", Type: inventory.TypeNPM,
		Path: "app/node_modules/x/package.json", Layer: layerApp, LayerIndex: 1, Origin: inventory.OriginApp,
	}}
	inv.Problems = []inventory.Problem{{Stage: "extract", Path: "app/\x1b[8mhidden", Message: "bad\rline"}}
	return inv
}

// TestTableEscapesGolden renders the hostile inventory as a table, with and
// without colour: no byte the image chose may reach the terminal raw.
func TestTableEscapesGolden(t *testing.T) {
	for _, color := range []bool{false, true} {
		opts := testOptions
		opts.Color = color
		name := "table-escape.golden"
		if color {
			name = "table-escape-color.golden"
		}
		got := render(t, "table", opts, hostileInventory())
		path := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read golden file (run with -update to create it): %v", err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s differs (-want +got):\n%s", path, diff)
		}
		// Only drydock's own colour codes may remain.
		rest := string(got)
		for _, c := range []string{ansiHeader, ansiApp, ansiDefault, ansiReset, ansiProblem} {
			rest = strings.ReplaceAll(rest, c, "")
		}
		for _, r := range rest {
			if (r < 0x20 && r != '\n') || r == 0x7f || unsafeRune(r) {
				t.Errorf("%s: raw control %U reaches the terminal", name, r)
			}
		}
	}
}
