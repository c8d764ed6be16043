package match

import (
	"cmp"
	"slices"
	"strings"

	"github.com/drydock/drydock/internal/version"
	"github.com/drydock/drydock/internal/vulndb"
)

// cveOf finds the CVE inside distribution ids such as DEBIAN-CVE-2024-1234
// or UBUNTU-CVE-2024-6387, and a bare CVE id: the match of
// `(?:^|-)(CVE-\d{4}-\d{4,})$`, written out by hand because the regexp was
// a tenth of the matching time (it runs on every alias of every hit).
func cveOf(id string) string {
	// The number after the last dash: four or more digits.
	i := strings.LastIndexByte(id, '-')
	if i < 0 || len(id)-i-1 < 4 || !asciiDigits(id[i+1:]) {
		return ""
	}
	// Before it, "CVE-" and a four-digit year, at the start or after a dash.
	start := i - 8
	if start < 0 || id[start:start+4] != "CVE-" || !asciiDigits(id[start+4:i]) {
		return ""
	}
	if start > 0 && id[start-1] != '-' {
		return ""
	}
	return id[start:]
}

func asciiDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// aliasesOf gathers an advisory's other ids: all of aliases (the same
// vulnerability by definition) and only the CVE ids of upstream and related,
// whose other entries may describe a wider or different issue.
func aliasesOf(adv *vulndb.Advisory) []string {
	set := map[string]bool{}
	set[cveOf(adv.ID)] = true
	for _, a := range adv.Aliases {
		set[a] = true
	}
	for _, list := range [][]string{adv.Upstream, adv.Related} {
		for _, a := range list {
			set[cveOf(a)] = true
		}
	}
	delete(set, "")
	delete(set, adv.ID)
	return sortedKeys(set)
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// identities are the ids that make two advisories the same vulnerability:
// the id, the CVE inside it, and the declared aliases (not upstream or
// related, which a USN or ALSA shares with many other advisories).
func identities(adv *vulndb.Advisory) []string {
	out := append([]string{adv.ID}, adv.Aliases...)
	if c := cveOf(adv.ID); c != "" {
		out = append(out, c)
	}
	return out
}

// candidate is a finding before merging, with its advisory's identities.
type candidate struct {
	f   Finding
	ids []string
}

// primaryRank prefers an ecosystem-native id (GO-, PYSEC-, RUSTSEC-, DSA-,
// USN-, ALSA-, ...) over a GHSA, and a GHSA over a bare CVE, so that the
// primary id of a merged finding does not depend on lookup order.
func primaryRank(id string) int {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return 2
	case strings.HasPrefix(id, "GHSA-"):
		return 1
	}
	return 0
}

// merge folds findings of the same package whose advisories are the same
// vulnerability (one's id or CVE is among the other's aliases, e.g. a GHSA
// and a PYSEC record) into one, and drops exact duplicates.
func merge(found []candidate) []Finding {
	type group struct {
		f   Finding
		ids map[string]bool
	}
	byPkg := map[string][]*group{}
	var order []string
	for _, c := range found {
		f, ids := c.f, c.ids
		pk := f.Package.Key() + "\x00" + f.Package.Layer
		if _, ok := byPkg[pk]; !ok {
			order = append(order, pk)
		}
		var into *group
		for _, g := range byPkg[pk] {
			for _, id := range ids {
				if g.ids[id] {
					into = g
					break
				}
			}
			if into != nil {
				break
			}
		}
		if into == nil {
			g := &group{f: f, ids: map[string]bool{}}
			for _, id := range ids {
				g.ids[id] = true
			}
			byPkg[pk] = append(byPkg[pk], g)
			continue
		}
		for _, id := range ids {
			into.ids[id] = true
		}
		into.f = combine(into.f, f)
	}
	var out []Finding
	for _, pk := range order {
		for _, g := range byPkg[pk] {
			out = append(out, g.f)
		}
	}
	return out
}

// combine merges b into a: the primary id by primaryRank (then the smaller
// id), all other ids as aliases, the union of fixed versions, the better
// severity.
func combine(a, b Finding) Finding {
	ids := map[string]bool{}
	for _, f := range []Finding{a, b} {
		ids[f.ID] = true
		for _, x := range f.Aliases {
			ids[x] = true
		}
	}
	primary := a
	if ra, rb := primaryRank(a.ID), primaryRank(b.ID); rb < ra || (rb == ra && b.ID < a.ID) {
		primary = b
	}
	out := primary
	delete(ids, out.ID)
	out.Aliases = sortedKeys(ids)
	if out.Summary == "" {
		out.Summary = cmp.Or(a.Summary, b.Summary)
	}
	if better(b.Severity, a.Severity) {
		out.Severity = b.Severity
	} else {
		out.Severity = a.Severity
	}
	out.FixedVersions = append(slices.Clone(a.FixedVersions), b.FixedVersions...)
	if c, err := version.For(out.Ecosystem); err == nil {
		out.FixedVersions = sortVersions(out.FixedVersions, c)
	}
	return out
}

// sortVersions sorts and de-duplicates versions oldest first; versions the
// comparer rejects keep their place at the end in string order.
func sortVersions(vs []string, c version.Comparer) []string {
	if len(vs) == 0 {
		return nil
	}
	vs = slices.Clone(vs)
	slices.SortStableFunc(vs, func(a, b string) int {
		va, vb := c.Valid(a), c.Valid(b)
		if va && vb {
			r, _ := c.Compare(a, b)
			if r != 0 {
				return r
			}
			return strings.Compare(a, b)
		}
		if va != vb {
			if va {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(vs)
}

// compareFindings orders findings worst first, then by id, then by package.
func compareFindings(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(ratingRank(b.Severity.Rating), ratingRank(a.Severity.Rating)),
		cmp.Compare(b.Severity.Score, a.Severity.Score),
		strings.Compare(a.ID, b.ID),
		strings.Compare(a.Package.Name, b.Package.Name),
		strings.Compare(a.Package.Version, b.Package.Version),
		strings.Compare(a.Package.Path, b.Package.Path),
		strings.Compare(a.Package.Layer, b.Package.Layer),
	)
}

// pep503 is PyPI's name normalisation: re.sub(r"[-_.]+", "-", name).lower().
func pep503(name string) string {
	var b strings.Builder
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			if !sep {
				b.WriteByte('-')
			}
			sep = true
			continue
		}
		sep = false
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
