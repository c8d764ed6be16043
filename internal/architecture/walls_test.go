// Package architecture holds the test that keeps drydock's import walls
// standing (see DESIGN.md): which internal package may reach which. The
// walls hold for transitive imports: a pure package that imports a
// harmless-looking one which imports the database has the database too.
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
	{"internal/version", []string{"internal"}, "version ordering is a leaf under match and vulndb", nil},
	{"internal/finding", []string{"internal"}, "the finding types are a leaf over inventory, so readers of findings need not the database",
		[]string{"internal/inventory"}},
	{"internal/extract", []string{"internal/vulndb", "internal/match", "internal/policy", "internal/scanner", "internal/image", "internal/layerfs", "internal/report", "internal/store"},
		"extractors never see the database, matcher, policy or images", nil},
	{"internal/match", []string{"internal/image", "internal/layerfs", "internal/scanner", "internal/extract", "internal/store"},
		"matching works on inventories so stored ones can be re-matched without images", nil},
	{"internal/vulndb", []string{"internal/image", "internal/layerfs", "internal/scanner", "internal/extract", "internal/match"},
		"the database knows nothing of images or matching", []string{"internal/version"}}, // version ordering is a leaf: the Debian importer orders fixes with it
	{"internal/policy", []string{"internal/image", "internal/vulndb", "internal/match", "internal/attest", "internal/admission", "internal/server", "internal/store"},
		"policy is pure: it reads findings (internal/finding), it does not make them", nil},
	{"internal/sbomread", []string{"internal"}, "reading another tool's SBOM is a leaf over inventory", []string{"internal/inventory"}},
	{"internal/rebuild", []string{"internal/deploy"}, "rebuild and deploy are orchestrated above them", nil},
	{"internal/deploy", []string{"internal/rebuild"}, "rebuild and deploy are orchestrated above them", nil},
	{"internal/layerfs", []string{"internal/image", "internal/scanner", "internal/match", "internal/vulndb"}, "layer walking is below sources and matching", nil},
	{"internal/report", []string{"internal/image", "internal/layerfs", "internal/scanner", "internal/vulndb", "internal/match"}, "formatters render results, they do not make them", nil},
	{"internal/store", []string{"internal"}, "the store keeps data; it knows no capability",
		[]string{"internal/finding", "internal/inventory"}}, // leaf data types: one severity order
}

// orchestration packages sit on top, in this order (loop is shared by
// rebuild, watch and server; jobs runs it as River jobs; server wires it
// all): each may import those before it, and no other internal package may
// import any of them.
var orchestration = []string{"internal/loop", "internal/jobs", "internal/server"}

func orchestrationRank(pkg string) int {
	for i, o := range orchestration {
		if under(pkg, o) {
			return i
		}
	}
	return -1
}

// pure packages may not reach the network, other programs or a database,
// directly or through what they import.
var pure = map[string][]string{
	"internal/policy": {"net/http", "os/exec", "database/sql", "modernc.org/sqlite"},
	// policy builds on these, so they must stay as pure.
	"internal/configfile": {"net/http", "os/exec", "database/sql", "modernc.org/sqlite"},
	"internal/finding":    {"net/http", "os/exec", "database/sql", "modernc.org/sqlite"},
	"internal/report":     {"net/http", "os/exec", "database/sql", "modernc.org/sqlite"},
	// match reaches the database only through its Reader interface; it
	// imports vulndb for the record types, so vulndb's own imports are
	// reached and only the network and other programs are banned here.
	"internal/version": {"net/http", "os/exec", "database/sql", "modernc.org/sqlite"},
	// the patch planner decides from a scan; executing the plan is patchexec's.
	"internal/patch": {"net/http", "os/exec", "database/sql", "modernc.org/sqlite"},
}

func TestImportWalls(t *testing.T) {
	// .Deps is the transitive closure of the package's imports.
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"...").Output()
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
			if strings.HasPrefix(imp, module) && under(pkg, "internal") {
				if ri := orchestrationRank(internal); ri >= 0 && orchestrationRank(pkg) < ri && !strings.HasSuffix(pkg, "_test") {
					t.Errorf("%s imports %s: orchestration is called from above (cmd/drydock), never from a capability", pkg, internal)
				}
			}
			for _, r := range rules {
				if !under(pkg, r.from) {
					continue
				}
				for _, bad := range r.to {
					if strings.HasPrefix(imp, module) && under(internal, strings.TrimSuffix(bad, "/")) && !under(internal, r.from) && !excepted(internal, r.except) {
						t.Errorf("%s reaches %s: %s", pkg, internal, r.why)
					}
				}
			}
			for p, banned := range pure {
				if !under(pkg, p) {
					continue
				}
				for _, b := range banned {
					// Standard-library entries are exact (database/sql/driver,
					// mere interfaces a uuid type implements, is fine); a
					// module bans all its packages.
					if imp == b || strings.Contains(b, ".") && strings.HasPrefix(imp, b+"/") {
						t.Errorf("%s reaches %s: it must stay pure", pkg, imp)
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
