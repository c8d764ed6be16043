package patch

import (
	"fmt"
	"slices"
	"strings"

	"github.com/drydock/drydock/internal/report"
)

// Rescan is what a scan of the patched image says about the patch.
type Rescan struct {
	// Remaining are the plan's targeted findings the patched image still
	// has ("ID package"); Added the OS packages it has and the original had
	// not. Both are empty after a good patch.
	Remaining []string `json:"remaining"`
	Added     []string `json:"added"`
	// Findings is the number of findings of the patched image (all kinds).
	Findings int `json:"findings"`
}

// OK reports whether the rescan confirms the patch.
func (r *Rescan) OK() bool { return len(r.Remaining) == 0 && len(r.Added) == 0 }

// Err names what the rescan found wrong, or is nil.
func (r *Rescan) Err() error {
	if r.OK() {
		return nil
	}
	var parts []string
	if len(r.Remaining) > 0 {
		parts = append(parts, "findings still present: "+strings.Join(r.Remaining, ", "))
	}
	if len(r.Added) > 0 {
		parts = append(parts, "packages the original did not have: "+strings.Join(r.Added, ", "))
	}
	return fmt.Errorf("the rescan of the patched image does not confirm the patch: %s", strings.Join(parts, "; "))
}

// CheckRescan compares the scan of the patched image (after) with the plan
// made from the original's scan (before): every finding the plan targeted
// must be gone from its package, and no OS package may be new.
func CheckRescan(plan *Plan, before, after *report.ScanReport) (*Rescan, error) {
	if plan == nil || before == nil || before.Inventory == nil || after == nil || after.Inventory == nil {
		return nil, fmt.Errorf("rescan check: a scan has no inventory")
	}
	r := &Rescan{Remaining: []string{}, Added: []string{}, Findings: len(after.Findings)}
	targeted := map[string]bool{} // "ID\x00package"
	for _, it := range plan.Items {
		for _, id := range it.Findings {
			targeted[id+"\x00"+it.Package] = true
		}
	}
	for _, f := range after.Findings {
		if targeted[f.ID+"\x00"+f.Package.Name] {
			r.Remaining = append(r.Remaining, f.ID+" "+f.Package.Name+" "+f.Package.Version)
		}
	}
	had := map[string]bool{}
	for _, p := range before.Inventory.Packages {
		if osType(p.Type) {
			had[p.Type+"\x00"+p.Name+"\x00"+p.Arch] = true
		}
	}
	for _, p := range after.Inventory.Packages {
		if osType(p.Type) && !had[p.Type+"\x00"+p.Name+"\x00"+p.Arch] {
			r.Added = append(r.Added, p.Name+" "+p.Version)
		}
	}
	slices.Sort(r.Remaining)
	r.Remaining = slices.Compact(r.Remaining)
	slices.Sort(r.Added)
	r.Added = slices.Compact(r.Added)
	return r, nil
}
