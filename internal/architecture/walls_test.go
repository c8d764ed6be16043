// Package architecture holds the test that keeps drydock's import walls
// standing (see DESIGN.md): which internal package may import which.
package architecture

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/drydock/drydock/"

// rule forbids packages matching from (a prefix under internal/) to import
// packages matching any of to.
type rule struct {
	from string
	to   []string
	why  string
	// except are packages under to that stay allowed.
	except []string
}

var rules = []rule{
	{"internal/inventory", []string{"internal"}, "inventory is the leaf", nil},
	{"internal/configfile", []string{"internal"}, "config-file decoding is a leaf under policy and suppress", nil},
	{"internal/extract", []string{"internal/vulndb", "internal/match", "internal/policy", "internal/scanner", "internal/image", "internal/layerfs", "internal/report", "internal/store"},
		"extractors never see the database, matcher, policy or images", nil},
	{"internal/match", []string{"internal/image", "internal/layerfs", "internal/scanner", "internal/extract", "internal/store"},
		"matching works on inventories so stored ones can be re-matched without images", nil},
	{"internal/vulndb", []string{"internal/image", "internal/layerfs", "internal/scanner", "internal/extract", "internal/match"},
		"the database knows nothing of images or matching", []string{"internal/version"}}, // version ordering is a leaf: the Debian importer orders fixes with it
	{"internal/policy", []string{"internal/image", "internal/vulndb", "internal/attest", "internal/admission", "internal/server"},
		"policy is pure", nil},
	{"internal/rebuild", []string{"internal/deploy"}, "rebuild and deploy are orchestrated above them", nil},
	{"internal/deploy", []string{"internal/rebuild"}, "rebuild and deploy are orchestrated above them", nil},
	{"internal/layerfs", []string{"internal/image", "internal/scanner", "internal/match", "internal/vulndb"}, "layer walking is below sources and matching", nil},
	{"internal/report", []string{"internal/image", "internal/layerfs", "internal/scanner", "internal/vulndb"}, "formatters render results, they do not make them", nil},
}

// pure packages may not reach the network or the disk on their own.
var pure = map[string][]string{
	"internal/policy": {"net/http", "os/exec"},
	"internal/match":  {"net/http", "os/exec"},
	// policy builds on configfile, so it must stay as pure.
	"internal/configfile": {"net/http", "os/exec"},
	"internal/patch":      {"net/http", "os/exec"},
}

func TestImportWalls(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 5 {
		t.Fatalf("go list found only %d packages", len(lines))
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		for _, seg := range strings.Split(pkg, "/") {
			if seg == "util" || seg == "utils" || seg == "common" || seg == "helpers" {
				t.Errorf("%s: no util/common packages; name a package by its capability", pkg)
			}
		}
		for _, imp := range fields[1:] {
			internal := strings.TrimPrefix(imp, module)
			for _, r := range rules {
				if !under(pkg, r.from) {
					continue
				}
				for _, bad := range r.to {
					if strings.HasPrefix(imp, module) && under(internal, strings.TrimSuffix(bad, "/")) && !under(internal, r.from) && !excepted(internal, r.except) {
						t.Errorf("%s imports %s: %s", pkg, internal, r.why)
					}
				}
			}
			for p, banned := range pure {
				if !under(pkg, p) {
					continue
				}
				for _, b := range banned {
					if imp == b {
						t.Errorf("%s imports %s: it must stay pure", pkg, imp)
					}
				}
			}
		}
	}
}

func under(pkg, prefix string) bool {
	if prefix == "internal" {
		return strings.HasPrefix(pkg, "internal/") || pkg == "internal"
	}
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}

func excepted(pkg string, except []string) bool {
	for _, e := range except {
		if under(pkg, e) {
			return true
		}
	}
	return false
}
