package patchexec

import (
	"bufio"
	"fmt"
	"slices"
	"strings"

	"github.com/drydock/drydock/internal/patch"
	"github.com/drydock/drydock/internal/version"
)

// Upgrade is patch.Upgrade.
type Upgrade = patch.Upgrade

// parseSimulation reads `apt-get -s` output: "Inst name [old] (new release
// [arch])" lines are upgrades; an Inst without "[old]" installs a package
// the image does not have and a "Remv" removes one, which an in-place
// patch refuses (it would change the image's package set).
func parseSimulation(out string) ([]Upgrade, error) {
	var ups []Upgrade
	var added, removed []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Inst":
			name := f[1]
			if len(f) < 3 || !strings.HasPrefix(f[2], "[") {
				added = append(added, name)
				continue
			}
			from := strings.Trim(f[2], "[]")
			if len(f) < 4 || !strings.HasPrefix(f[3], "(") {
				return nil, fmt.Errorf("apt-get simulation: cannot read line %q", sc.Text())
			}
			u := Upgrade{Package: name, From: from, To: strings.TrimPrefix(f[3], "(")}
			if u.From == "" || u.To == "" {
				return nil, fmt.Errorf("apt-get simulation: cannot read line %q", sc.Text())
			}
			// The new version's parenthesis ends with "[arch])"; what
			// follows it names the packages the upgrade breaks for a while.
			for _, a := range f[4:] {
				if strings.HasPrefix(a, "[") && strings.HasSuffix(a, "])") {
					u.Arch = strings.TrimSuffix(strings.TrimPrefix(a, "["), "])")
					break
				}
			}
			ups = append(ups, u)
		case "Remv":
			removed = append(removed, f[1])
		}
	}
	var problems []string
	if len(added) > 0 {
		problems = append(problems, "it would install packages the image does not have: "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		problems = append(problems, "it would remove "+strings.Join(removed, ", "))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("the upgrade changes the image's package set (%s): rebuild the image instead", strings.Join(problems, "; "))
	}
	slices.SortFunc(ups, func(a, b Upgrade) int { return strings.Compare(a.Package, b.Package) })
	return ups, nil
}

// dpkgQueryFormat is what installedPackages reads.
const dpkgQueryFormat = `${Package}\t${Architecture}\t${Version}\t${source:Package}\t${source:Version}\t${db:Status-Abbrev}\n`

type installed struct {
	Arch, Version, Source, SourceVersion string
}

// parseDpkgQuery reads dpkg-query output in dpkgQueryFormat, keyed by
// package name, keeping only installed packages ("ii").
func parseDpkgQuery(out string) (map[string]installed, error) {
	m := map[string]installed{}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("dpkg-query: cannot read line %q", line)
		}
		if !strings.HasPrefix(f[5], "ii") {
			continue
		}
		m[f[0]] = installed{Arch: f[1], Version: f[2], Source: f[3], SourceVersion: f[4]}
	}
	return m, nil
}

// checkPlanned fails, naming the packages, when a planned package has no
// upgrade among ups (the configured sources have nothing newer).
func checkPlanned(plan *patch.Plan, ups []Upgrade) error {
	if plan.Mode == patch.ModeAllUpdates {
		return nil
	}
	var missing []string
	for _, it := range plan.Items {
		if !slices.ContainsFunc(ups, func(u Upgrade) bool { return u.Package == it.Package }) {
			missing = append(missing, it.Package+" (installed "+it.Installed+", wanted >= "+it.Target+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no upgrade available from the configured package sources for %s: add the security repository (--apt-source) or wait for the fix", strings.Join(missing, ", "))
	}
	return nil
}

// verify compares the package database after the upgrade with what was
// planned: the package set is unchanged, every upgrade reached exactly
// its resolved version, nothing else changed, and each planned package's
// source version reaches the plan's target. It fills in the upgrades'
// source fields.
func verify(plan *patch.Plan, before, after map[string]installed, ups []Upgrade) error {
	var problems []string
	for name := range before {
		if _, ok := after[name]; !ok {
			problems = append(problems, name+" is no longer installed")
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			problems = append(problems, name+" was installed")
		}
	}
	want := map[string]string{}
	for i, u := range ups {
		want[u.Package] = u.To
		got, ok := after[u.Package]
		if ok && got.Version != u.To {
			problems = append(problems, fmt.Sprintf("%s is at %s after the upgrade, not %s", u.Package, got.Version, u.To))
		}
		ups[i].Source, ups[i].SourceVersion = got.Source, got.SourceVersion
	}
	for name, b := range before {
		if a, ok := after[name]; ok && want[name] == "" && a.Version != b.Version {
			problems = append(problems, fmt.Sprintf("%s changed from %s to %s though it was not planned", name, b.Version, a.Version))
		}
	}
	if plan.Mode != patch.ModeAllUpdates {
		var c version.Dpkg
		for _, it := range plan.Items {
			a, ok := after[it.Package]
			if !ok || it.Target == "" {
				continue
			}
			have := a.SourceVersion
			if have == "" {
				have = a.Version
			}
			if n, err := c.Compare(have, it.Target); err != nil || n < 0 {
				problems = append(problems, fmt.Sprintf("%s is at source version %s after the upgrade, below the fixed %s", it.Package, have, it.Target))
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("the upgraded package database does not match the plan: %s", strings.Join(problems, "; "))
	}
	return nil
}
