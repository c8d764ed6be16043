package architecture

import (
	"os/exec"
	"strings"
	"testing"
)

// leaves are packages many others build on: they may import nothing of
// drydock's, directly or through anything they import, or they would drag
// their importers' walls down with them (policy and suppress share glob;
// every CLI output goes through outfile).
var leaves = []string{"internal/glob", "internal/outfile", "internal/testenv"}

func TestLeavesImportNothingInternal(t *testing.T) {
	for _, leaf := range leaves {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+leaf).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", leaf, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 {
			t.Fatalf("go list -deps %s listed nothing", leaf)
		}
		for _, d := range deps {
			if strings.HasPrefix(d, module) && d != module+leaf {
				t.Errorf("%s reaches %s: it must stay a leaf", leaf, strings.TrimPrefix(d, module))
			}
		}
	}
}
