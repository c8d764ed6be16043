// Package patch plans an in-place patch of an image's OS packages, the way
// Copacetic does: from a scan (inventory and findings) it selects the OS
// packages that have a fixed version, filtered by severity or by advisory
// ids, and says which version each must reach and which findings that
// fixes. It is pure: no images, no network, no processes. Executing a plan
// (a package manager in an isolated root, or packages unpacked from
// outside for distroless images) lives in internal/patchexec.
package patch

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/report"
	"github.com/drydock/drydock/internal/version"
)

// Package managers a plan is executed with.
const (
	// ManagerApt: a Debian or Ubuntu image with apt and dpkg inside.
	ManagerApt = "apt"
	// ManagerDpkgStatusD: a distroless Debian image (dpkg status.d
	// entries, no package manager inside).
	ManagerDpkgStatusD = "dpkg-status.d"
	// ManagerApk and ManagerRpm: Alpine and RHEL-family images.
	ManagerApk = "apk"
	ManagerRpm = "rpm"
)

// Modes of selection.
const (
	// ModeFindings selects packages from the scan's fixable findings (the
	// default): only what the vulnerability database says is fixed.
	ModeFindings = "findings"
	// ModeAllUpdates upgrades every installed package for which the
	// configured package sources (e.g. bookworm-security) have a newer
	// version, whatever the database says; the plan's items are then
	// resolved by the executor against those sources.
	ModeAllUpdates = "all-updates"
)

// Selection filters what is patched.
type Selection struct {
	// MinSeverity keeps findings at or above this rating (CRITICAL, HIGH,
	// MEDIUM, LOW, NONE, UNKNOWN); empty keeps all.
	MinSeverity string
	// IDs keeps findings whose id or one of whose aliases is listed; empty
	// keeps all.
	IDs []string
	// AllUpdates selects ModeAllUpdates.
	AllUpdates bool
}

// Item is one binary package to upgrade.
type Item struct {
	Package string `json:"package"`
	Arch    string `json:"arch,omitempty"`
	// Installed is the installed binary version.
	Installed string `json:"installed"`
	// Source and SourceVersion name the source package (Debian advisories
	// name source packages, so Target is a source version there).
	Source        string `json:"source,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	// Target is the lowest version that fixes every selected finding of
	// the package (compared with the source version for Debian-family
	// packages). Empty in ModeAllUpdates: the newest version the
	// configured sources have.
	Target string `json:"target,omitempty"`
	// Findings are the ids fixed by reaching Target, sorted.
	Findings []string `json:"findings,omitempty"`
	// Severity is the worst rating among Findings.
	Severity string `json:"severity,omitempty"`
}

// Skipped is a selected finding the plan cannot fix in place, and why.
type Skipped struct {
	ID      string `json:"id"`
	Package string `json:"package"`
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

// Plan is what a patch will do.
type Plan struct {
	Image   string `json:"image,omitempty"`
	Digest  string `json:"digest,omitempty"`
	OS      string `json:"os,omitempty"`
	Manager string `json:"manager"`
	Mode    string `json:"mode"`
	Items   []Item `json:"items"`
	// Skipped are findings that matched the selection but cannot be fixed
	// by patching OS packages (no fixed version, language packages).
	Skipped []Skipped `json:"skipped,omitempty"`
	// UnknownIDs are requested ids no finding of the image carries.
	UnknownIDs []string `json:"unknownIds,omitempty"`
}

// Packages lists the planned binary package names, sorted.
func (p *Plan) Packages() []string {
	out := make([]string, 0, len(p.Items))
	for _, it := range p.Items {
		out = append(out, it.Package)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Manager says how the OS packages of inv are patched, or fails naming
// what is not supported.
func Manager(inv *inventory.Inventory) (string, error) {
	if inv == nil || inv.OS == nil || inv.OS.ID == "" {
		return "", fmt.Errorf("no operating system detected in the image (no os-release): only OS packages can be patched in place")
	}
	hasType := func(t string) bool {
		return slices.ContainsFunc(inv.Packages, func(p inventory.Package) bool { return p.Type == t })
	}
	switch {
	case inv.OS.Distroless || hasType(inventory.TypeDeb) && allFrom(inv, inventory.TypeDeb, "var/lib/dpkg/status.d/"):
		return ManagerDpkgStatusD, nil
	case hasType(inventory.TypeDeb):
		return ManagerApt, nil
	case hasType(inventory.TypeAPK):
		return ManagerApk, nil
	case hasType(inventory.TypeRPM):
		return ManagerRpm, nil
	}
	return "", fmt.Errorf("%s image has no dpkg, apk or rpm package database: nothing to patch in place", inv.OS.ID)
}

func allFrom(inv *inventory.Inventory, typ, prefix string) bool {
	for _, p := range inv.Packages {
		if p.Type == typ && !strings.HasPrefix(p.Path, prefix) {
			return false
		}
	}
	return true
}

// Make plans the patch of rep's image. In ModeFindings each OS package with
// a selected, fixable finding becomes one item whose target is the highest
// of the findings' lowest fixed versions; in ModeAllUpdates every installed
// OS package is a candidate and the executor keeps those with an update.
func Make(rep *report.ScanReport, sel Selection) (*Plan, error) {
	if rep == nil || rep.Inventory == nil {
		return nil, fmt.Errorf("patch plan: the scan has no inventory")
	}
	rank := -1
	if sel.MinSeverity != "" {
		if err := ValidSeverity(sel.MinSeverity); err != nil {
			return nil, err
		}
		rank = severityRank(strings.ToUpper(sel.MinSeverity))
	}
	mgr, err := Manager(rep.Inventory)
	if err != nil {
		return nil, err
	}
	inv := rep.Inventory
	p := &Plan{Image: inv.Source.Ref, Digest: inv.Source.Digest, Manager: mgr, Mode: ModeFindings, Items: []Item{}}
	if inv.OS != nil {
		p.OS = strings.TrimSpace(inv.OS.ID + " " + inv.OS.VersionID)
	}
	if sel.AllUpdates {
		if sel.MinSeverity != "" || len(sel.IDs) > 0 {
			return nil, fmt.Errorf("all-updates selects every package with an update: it cannot be combined with a severity or id filter")
		}
		p.Mode = ModeAllUpdates
		seen := map[string]bool{}
		for _, pk := range inv.Packages {
			if !osType(pk.Type) || seen[pk.Name+"\x00"+pk.Arch] {
				continue
			}
			seen[pk.Name+"\x00"+pk.Arch] = true
			p.Items = append(p.Items, Item{Package: pk.Name, Arch: pk.Arch, Installed: pk.Version, Source: pk.SourceName, SourceVersion: pk.SourceVersion})
		}
		sortItems(p.Items)
		return p, nil
	}

	want := map[string]bool{}
	for _, id := range sel.IDs {
		if id = strings.TrimSpace(id); id != "" {
			want[strings.ToUpper(id)] = false
		}
	}
	type key struct{ name, arch, version string }
	items := map[key]*Item{}
	for _, f := range rep.Findings {
		if rank >= 0 && severityRank(normRating(f.Severity.Rating)) < rank {
			continue
		}
		if len(want) > 0 && !wanted(want, f) {
			continue
		}
		if !osType(f.Package.Type) {
			p.Skipped = append(p.Skipped, Skipped{ID: f.ID, Package: f.Package.Name, Version: f.Package.Version,
				Reason: f.Package.Type + " package: not an OS package, rebuild the application with a fixed version"})
			continue
		}
		if len(f.FixedVersions) == 0 {
			p.Skipped = append(p.Skipped, Skipped{ID: f.ID, Package: f.Package.Name, Version: f.Package.Version, Reason: "no fixed version yet"})
			continue
		}
		c, err := version.For(f.Ecosystem)
		if err != nil {
			p.Skipped = append(p.Skipped, Skipped{ID: f.ID, Package: f.Package.Name, Version: f.Package.Version, Reason: err.Error()})
			continue
		}
		fix, err := lowestAbove(c, f.FixedVersions, installedOf(f))
		if err != nil {
			p.Skipped = append(p.Skipped, Skipped{ID: f.ID, Package: f.Package.Name, Version: f.Package.Version, Reason: err.Error()})
			continue
		}
		k := key{f.Package.Name, f.Package.Arch, f.Package.Version}
		it := items[k]
		if it == nil {
			it = &Item{Package: f.Package.Name, Arch: f.Package.Arch, Installed: f.Package.Version, Source: f.Package.SourceName, SourceVersion: f.Package.SourceVersion, Target: fix}
			items[k] = it
		} else if n, err := c.Compare(fix, it.Target); err == nil && n > 0 {
			it.Target = fix
		}
		if !slices.Contains(it.Findings, f.ID) {
			it.Findings = append(it.Findings, f.ID)
		}
		if it.Severity == "" || severityRank(normRating(f.Severity.Rating)) > severityRank(it.Severity) {
			it.Severity = normRating(f.Severity.Rating)
		}
	}
	for _, it := range items {
		slices.Sort(it.Findings)
		p.Items = append(p.Items, *it)
	}
	sortItems(p.Items)
	slices.SortFunc(p.Skipped, func(a, b Skipped) int {
		return cmp.Or(cmp.Compare(a.Package, b.Package), cmp.Compare(a.ID, b.ID))
	})
	p.Skipped = slices.Compact(p.Skipped)
	for id, found := range want {
		if !found {
			p.UnknownIDs = append(p.UnknownIDs, id)
		}
	}
	slices.Sort(p.UnknownIDs)
	return p, nil
}

func sortItems(items []Item) {
	slices.SortFunc(items, func(a, b Item) int {
		return cmp.Or(cmp.Compare(a.Package, b.Package), cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Installed, b.Installed))
	})
}

// wanted reports whether f carries one of the requested ids, and marks
// the ids it carries as found.
func wanted(want map[string]bool, f finding.Finding) bool {
	ok := false
	for _, id := range append([]string{f.ID}, f.Aliases...) {
		u := strings.ToUpper(id)
		if _, in := want[u]; in {
			want[u] = true
			ok = true
		}
	}
	return ok
}

func osType(t string) bool {
	return t == inventory.TypeDeb || t == inventory.TypeAPK || t == inventory.TypeRPM
}

func installedOf(f finding.Finding) string {
	if f.InstalledVersion != "" {
		return f.InstalledVersion
	}
	return f.Package.Version
}

// lowestAbove is the lowest of fixed newer than installed: the fixed
// versions end the matched ranges, and only one above the installed
// version fixes it.
func lowestAbove(c version.Comparer, fixed []string, installed string) (string, error) {
	best := ""
	for _, v := range fixed {
		n, err := c.Compare(v, installed)
		if err != nil {
			return "", fmt.Errorf("fixed version %q: %w", v, err)
		}
		if n <= 0 {
			continue
		}
		if best == "" {
			best = v
		} else if n, err := c.Compare(v, best); err == nil && n < 0 {
			best = v
		}
	}
	if best == "" {
		return "", fmt.Errorf("no fixed version above the installed %s", installed)
	}
	return best, nil
}

var severityOrder = []string{finding.RatingUnknown, finding.RatingNone, finding.RatingLow, finding.RatingMedium, finding.RatingHigh, finding.RatingCritical}

// severityRank orders ratings, higher is worse; -1 for an unknown name.
func severityRank(r string) int { return slices.Index(severityOrder, r) }

func normRating(r string) string {
	if severityRank(strings.ToUpper(r)) < 0 {
		return finding.RatingUnknown
	}
	return strings.ToUpper(r)
}

// Upgrade is one package a patch changed (or, in a dry run, would change).
type Upgrade struct {
	Package string `json:"package"`
	Arch    string `json:"arch,omitempty"`
	From    string `json:"from"`
	To      string `json:"to"`
	// Source and SourceVersion are the installed source package after the
	// upgrade (what Debian advisories compare).
	Source        string `json:"source,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
}

// Outcome is what a patch produced, for people and tools.
type Outcome struct {
	// Image is the digest reference of the patched image (empty in a dry
	// run), Original that of the image it was made from.
	Image    string `json:"image,omitempty"`
	Original string `json:"original"`
	DryRun   bool   `json:"dryRun,omitempty"`
	// LayerSize is the compressed size of the one layer added.
	LayerSize int64     `json:"layerSize,omitempty"`
	Upgrades  []Upgrade `json:"upgrades"`
	// Plan is the plan the patch executed.
	Plan *Plan `json:"plan"`
	// Rescan is the check of the written result; Verdicts the signed
	// verdicts pushed for it (with a key).
	Rescan   *Rescan   `json:"rescan,omitempty"`
	Verdicts []Verdict `json:"verdicts,omitempty"`
}

// Verdict is one signed verdict pushed for a patched image.
type Verdict struct {
	Subject string `json:"subject"`
	Result  string `json:"result"`
	Ref     string `json:"ref"`
}

// IndexOutcome is the patch of a multi-platform index: one outcome per
// platform (Outcome is nil when the platform had nothing to patch).
type IndexOutcome struct {
	Image     string            `json:"image,omitempty"`
	Original  string            `json:"original"`
	DryRun    bool              `json:"dryRun,omitempty"`
	Platforms []PlatformOutcome `json:"platforms"`
}

// PlatformOutcome is one platform of an IndexOutcome.
type PlatformOutcome struct {
	Platform string   `json:"platform"`
	Plan     *Plan    `json:"plan"`
	Outcome  *Outcome `json:"outcome,omitempty"`
}

// ValidSeverity checks a minimum severity name before any work is done.
func ValidSeverity(s string) error {
	if severityRank(strings.ToUpper(s)) < 0 {
		return fmt.Errorf("severity %q: want one of critical, high, medium, low, none, unknown", s)
	}
	return nil
}
