package match

import (
	"fmt"
	"sort"
	"strings"

	"github.com/drydock/drydock/internal/inventory"
)

// Uncovered reports the packages whose ecosystem the database holds no
// advisories for at all (loaded is the database's top-level ecosystems,
// "Debian", "PyPI", ...). Without it, an image whose OS data was never
// loaded would scan clean and look safe.
func Uncovered(inv *inventory.Inventory, loaded []string) []inventory.Problem {
	have := map[string]bool{}
	for _, e := range loaded {
		have[strings.ToLower(e)] = true
	}
	missing := map[string]int{}
	for _, p := range inv.Packages {
		eco, ok := Ecosystem(inv.OS, p)
		if !ok {
			continue
		}
		top, _, _ := strings.Cut(eco, ":")
		if !have[strings.ToLower(top)] {
			missing[top]++
		}
	}
	tops := make([]string, 0, len(missing))
	for t := range missing {
		tops = append(tops, t)
	}
	sort.Strings(tops)
	var out []inventory.Problem
	for _, t := range tops {
		out = append(out, inventory.Problem{Stage: ProblemStage, Message: fmt.Sprintf(
			"the database holds no %s advisories: %d package(s) were not checked (load them with drydock db update --ecosystem %q or db import)", t, missing[t], t)})
	}
	return out
}
