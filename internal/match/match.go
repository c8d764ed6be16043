// Package match finds the vulnerabilities of an inventory: it maps each
// package to its OSV ecosystem, asks a Reader for the advisories naming it,
// and evaluates their affected ranges with the ecosystem's version order
// (package version). It works on inventories, never on images, so a
// stored inventory can be re-matched whenever the database changes; and it
// depends on the database only through the small Reader interface below.
package match

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/version"
	"github.com/drydock/drydock/internal/vulndb"
)

// Reader answers which advisories name a package. The vulndb store
// implements it; tests use an in-memory one. No assertion against the store
// type lives here, so that match depends on vulndb's record types only.
type Reader interface {
	// Affecting returns the advisories with an affected entry for name in
	// ecosystem (the store may widen the ecosystem, e.g. "Debian:12" also
	// reads entries filed under bare "Debian").
	Affecting(ctx context.Context, ecosystem, name string) ([]*vulndb.Advisory, error)
}

// BatchReader is implemented by Readers that can answer for many names of
// one ecosystem at once (the vulndb store). Match then looks up all of an
// inventory's packages with one call per ecosystem instead of one per
// package, and advisories shared by several packages are read once.
type BatchReader interface {
	// AffectingMany returns, for each name with advisories, what Affecting
	// would return for it; names without advisories may be absent.
	AffectingMany(ctx context.Context, ecosystem string, names []string) (map[string][]*vulndb.Advisory, error)
}

// TrimmedBatchReader is a BatchReader that can leave out of each advisory
// what matching never reads: the affected entries of other packages and
// the references (the vulndb store). Match prefers it; evaluate only reads
// the entries that apply to the package, so the result is the same.
type TrimmedBatchReader interface {
	// AffectingManyTrimmed is AffectingMany, except that each advisory
	// may hold only its affected entries for one of names (at least every
	// entry naming one of them) and no references.
	AffectingManyTrimmed(ctx context.Context, ecosystem string, names []string) (map[string][]*vulndb.Advisory, error)
}

// AliasReader is implemented by Readers that can find every record of a
// vulnerability by any of its ids, whatever package or ecosystem it is
// filed under (the vulndb store). Match uses it to rate findings whose own
// records carry no severity.
type AliasReader interface {
	KnownAs(ctx context.Context, ids []string) ([]*vulndb.Advisory, error)
}

// ProblemStage is the inventory.Problem stage of matching problems.
const ProblemStage = "match"

// Result is the outcome of matching one inventory.
type Result struct {
	// Findings are sorted by severity (worst first), then ID, then package.
	Findings []Finding `json:"findings"`
	// Problems name packages that could not be matched (no ecosystem, a
	// version that does not parse) and advisory data that could not be
	// evaluated. Matching goes on around them.
	Problems []inventory.Problem `json:"problems,omitempty"`
}

// Match finds the vulnerabilities of inv's packages. Each distinct
// (ecosystem, name) is looked up once. It fails only when the Reader fails
// or ctx ends; everything else becomes a Problem.
func Match(ctx context.Context, r Reader, inv *inventory.Inventory) (*Result, error) {
	m := matcher{
		seenProblem: map[string]bool{},
		cache:       map[[2]string][]*vulndb.Advisory{},
		cmps:        map[string]version.Comparer{},
	}
	pkgs := make([]lookup, len(inv.Packages))
	for i := range inv.Packages {
		pkgs[i] = m.prepare(inv.OS, inv.Packages[i])
	}
	if br, ok := r.(BatchReader); ok {
		if err := m.prefetch(ctx, br, pkgs); err != nil {
			return nil, err
		}
	}
	for i := range inv.Packages {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("match: %w", err)
		}
		if err := m.pkg(ctx, r, inv.Packages[i], pkgs[i]); err != nil {
			return nil, err
		}
	}
	found := merge(m.found)
	if ar, ok := r.(AliasReader); ok {
		if err := rateByAlias(ctx, ar, found); err != nil {
			return nil, err
		}
	}
	for i := range found {
		f := &found[i]
		f.URL = advisoryURL(f.ID)
		if f.SeveritySource == "" {
			f.SeveritySource = originOf(f.Severity)
		}
	}
	return &Result{Findings: sortFindings(found), Problems: m.problems}, nil
}

// sortFindings sorts stably by compareFindings. It sorts pointers and then
// copies: a Finding is large (it holds the whole inventory.Package), and
// moving the values themselves through the stable sort's rotations was a
// sixth of the matching time.
func sortFindings(fs []Finding) []Finding {
	if fs == nil {
		return nil
	}
	ps := make([]*Finding, len(fs))
	for i := range fs {
		ps[i] = &fs[i]
	}
	slices.SortStableFunc(ps, func(a, b *Finding) int { return compareFindings(*a, *b) })
	out := make([]Finding, len(fs))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

type matcher struct {
	found       []candidate
	problems    []inventory.Problem
	seenProblem map[string]bool
	cache       map[[2]string][]*vulndb.Advisory
	// cmps holds one memoising comparer per ecosystem: the same range
	// events and listed versions recur across a package's advisories and
	// across packages, and parsing them was most of the matching time.
	cmps map[string]version.Comparer
	// semver reads the SEMVER ranges of ecosystems whose own order is
	// another one.
	semver version.Comparer
}

// lookup is what matching a package needs, worked out before any lookup so
// that all lookups of an ecosystem can be made in one call.
type lookup struct {
	eco, name, ver string
	cmp            version.Comparer
	// semver is the comparer of the entries' SEMVER ranges.
	semver version.Comparer
	// problem, when set, says why the package cannot be matched.
	problem string
	// skip is set for packages that have nothing to match and are not a
	// failure either: the main module of a Go binary built outside version
	// control has no version ("(devel)"), and no advisory names it.
	skip bool
}

func (m *matcher) prepare(os *inventory.OS, p inventory.Package) lookup {
	if p.Type == inventory.TypeGolang && p.Version == "" {
		return lookup{skip: true}
	}
	eco, ok := Ecosystem(os, p)
	if !ok {
		distro := "no detected OS"
		if os != nil {
			distro = strings.TrimSpace(os.ID + " " + os.VersionID)
		}
		return lookup{problem: fmt.Sprintf("%s package %s %s: no vulnerability ecosystem for %s", p.Type, p.Name, p.Version, distro)}
	}
	c, err := version.For(eco)
	if err != nil {
		return lookup{problem: fmt.Sprintf("%s package %s %s: %v", p.Type, p.Name, p.Version, err)}
	}
	cmp, ok := m.cmps[eco]
	if !ok {
		cmp = version.Memo(c)
		m.cmps[eco] = cmp
	}
	semver := cmp
	switch c.(type) {
	case version.Go:
		// Go's comparer already is SemVer, and also reads the
		// "v"-prefixed module versions of inventories.
	case version.SemVer:
	default:
		if m.semver == nil {
			m.semver = version.Memo(version.SemVer{})
		}
		semver = m.semver
	}
	name, ver := lookupName(p)
	if !cmp.Valid(ver) {
		return lookup{problem: fmt.Sprintf("%s package %s: version %q does not parse in %s: %v", p.Type, p.Name, ver, eco, version.ErrInvalid)}
	}
	return lookup{eco: eco, name: name, ver: ver, cmp: cmp, semver: semver}
}

// prefetch fills the cache with one AffectingMany call per ecosystem.
func (m *matcher) prefetch(ctx context.Context, br BatchReader, pkgs []lookup) error {
	names := map[string][]string{}
	var ecos []string
	for _, l := range pkgs {
		if l.problem != "" || l.skip {
			continue
		}
		key := [2]string{l.eco, l.name}
		if _, ok := m.cache[key]; ok {
			continue
		}
		m.cache[key] = nil // asked for; stays nil if the answer has none
		if _, ok := names[l.eco]; !ok {
			ecos = append(ecos, l.eco)
		}
		names[l.eco] = append(names[l.eco], l.name)
	}
	for _, eco := range ecos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("match: %w", err)
		}
		var res map[string][]*vulndb.Advisory
		var err error
		if tr, ok := br.(TrimmedBatchReader); ok {
			res, err = tr.AffectingManyTrimmed(ctx, eco, names[eco])
		} else {
			res, err = br.AffectingMany(ctx, eco, names[eco])
		}
		if err != nil {
			return fmt.Errorf("match %s: %w", eco, err)
		}
		for name, advs := range res {
			if key := [2]string{eco, name}; m.cache[key] == nil {
				if _, asked := m.cache[key]; asked {
					m.cache[key] = advs
				}
			}
		}
	}
	return nil
}

func (m *matcher) problem(p inventory.Package, msg string) {
	key := p.Layer + "\x00" + p.Path + "\x00" + msg
	if m.seenProblem[key] {
		return
	}
	m.seenProblem[key] = true
	m.problems = append(m.problems, inventory.Problem{Stage: ProblemStage, Layer: p.Layer, Path: p.Path, Message: msg})
}

func (m *matcher) pkg(ctx context.Context, r Reader, p inventory.Package, l lookup) error {
	if l.skip {
		return nil
	}
	if l.problem != "" {
		m.problem(p, l.problem)
		return nil
	}
	eco, name, ver := l.eco, l.name, l.ver
	key := [2]string{eco, name}
	advs, ok := m.cache[key]
	if !ok {
		var err error
		advs, err = r.Affecting(ctx, eco, name)
		if err != nil {
			return fmt.Errorf("match %s %s: %w", eco, name, err)
		}
		m.cache[key] = advs
	}
	for _, adv := range advs {
		if adv == nil || adv.Withdrawn != nil {
			continue
		}
		f, hit, msgs := evaluate(adv, eco, name, ver, l.cmp, l.semver)
		for _, msg := range msgs {
			m.problem(p, msg)
		}
		if !hit {
			continue
		}
		f.Package = p
		f.Ecosystem = eco
		f.InstalledVersion = ver
		f.Layer = p.Layer
		f.FixPath = string(p.Origin)
		m.found = append(m.found, candidate{f: f, ids: identities(adv)})
	}
	return nil
}

// entryApplies reports whether an affected entry is about the package: its
// ecosystem is the package's, or the bare top-level name (which OSV uses for
// entries valid in every release), and its name is the same (PyPI names
// compared in PEP 503 form).
func entryApplies(pkg vulndb.Package, eco, name string) bool {
	top, _, _ := strings.Cut(eco, ":")
	if pkg.Ecosystem != eco && pkg.Ecosystem != top {
		return false
	}
	if top == "PyPI" {
		return pep503(pkg.Name) == pep503(name)
	}
	return pkg.Name == name
}

// evaluate decides whether adv affects version ver of the package, and
// builds the finding's advisory-derived fields if so. SEMVER ranges are
// read with semver. Messages describe advisory data that could not be
// evaluated.
func evaluate(adv *vulndb.Advisory, eco, name, ver string, cmp, semver version.Comparer) (Finding, bool, []string) {
	var msgs []string
	var hit bool
	sev := Severity{Rating: RatingUnknown}
	var fixed []string
	for i := range adv.Affected {
		aff := &adv.Affected[i]
		if !entryApplies(aff.Package, eco, name) {
			continue
		}
		affected := inVersions(aff.Versions, ver, cmp)
		for _, rng := range aff.Ranges {
			c := cmp
			switch rng.Type {
			case "ECOSYSTEM":
			case "SEMVER":
				c = semver
			default:
				// GIT ranges name commits, which an installed version
				// cannot be placed among.
				continue
			}
			in, fix, err := inRange(rng.Events, ver, c)
			if err != nil {
				msgs = append(msgs, fmt.Sprintf("advisory %s: %s range for %s %s: %v", adv.ID, rng.Type, eco, name, err))
				continue
			}
			if in {
				affected = true
				if fix != "" {
					fixed = append(fixed, fix)
				}
			}
		}
		if !affected {
			continue
		}
		hit = true
		s, sevMsgs := severityOf(adv, aff)
		msgs = append(msgs, sevMsgs...)
		if better(s, sev) {
			sev = s
		}
	}
	if !hit {
		return Finding{}, false, msgs
	}
	return Finding{
		ID:            adv.ID,
		Aliases:       aliasesOf(adv),
		Summary:       summaryOf(adv),
		FixedVersions: sortVersions(fixed, cmp),
		Severity:      sev,
		DataSource:    adv.ID,
	}, true, msgs
}

// inVersions reports whether ver is one of an affected entry's enumerated
// versions. Entries that do not parse are skipped without a problem: the
// lists enumerate every published version, including ones older than the
// ecosystem's current grammar, and such an entry can only equal the
// installed version as a string, which is checked first.
//
// The lists are long (every release of a PyPI project, for each of its
// advisories), so all strings are compared before any is parsed, and
// version.MayEqual skips the entries that cannot be equal without parsing
// them.
func inVersions(versions []string, ver string, cmp version.Comparer) bool {
	if slices.Contains(versions, ver) {
		return true
	}
	for _, v := range versions {
		if !version.MayEqual(cmp, v, ver) {
			continue
		}
		if c, err := cmp.Compare(v, ver); err == nil && c == 0 {
			return true
		}
	}
	return false
}

// inRange evaluates one OSV range per the spec's algorithm: events sorted by
// version ("introduced: 0" first; at equal versions introduced before the
// others), affected from an introduced event until a fixed event (exclusive)
// or past a last_affected event, nothing at or above a limit. It returns
// the fixed event that closes the interval holding ver, if any.
func inRange(events []vulndb.Event, ver string, cmp version.Comparer) (bool, string, error) {
	type ev struct {
		kind, v string
	}
	evs := make([]ev, 0, len(events))
	for _, e := range events {
		switch {
		case e.Introduced != "":
			evs = append(evs, ev{"introduced", e.Introduced})
		case e.Fixed != "":
			evs = append(evs, ev{"fixed", e.Fixed})
		case e.LastAffected != "":
			evs = append(evs, ev{"last_affected", e.LastAffected})
		case e.Limit != "":
			if e.Limit != "*" { // "*" is the spec's "no limit"
				evs = append(evs, ev{"limit", e.Limit})
			}
		}
	}
	for _, e := range evs {
		if e.kind == "introduced" && e.v == "0" {
			continue
		}
		if !cmp.Valid(e.v) {
			return false, "", fmt.Errorf("%s %q: %w", e.kind, e.v, version.ErrInvalid)
		}
	}
	var sortErr error
	slices.SortStableFunc(evs, func(a, b ev) int {
		za, zb := a.kind == "introduced" && a.v == "0", b.kind == "introduced" && b.v == "0"
		switch {
		case za && zb:
			return 0
		case za:
			return -1
		case zb:
			return 1
		}
		c, err := cmp.Compare(a.v, b.v)
		if err != nil {
			sortErr = err
		}
		if c == 0 && a.kind != b.kind {
			if a.kind == "introduced" {
				return -1
			}
			if b.kind == "introduced" {
				return 1
			}
		}
		return c
	})
	if sortErr != nil {
		return false, "", sortErr
	}
	affected := false
	for _, e := range evs {
		c := 1 // "introduced: 0" lies below every version
		if !(e.kind == "introduced" && e.v == "0") {
			var err error
			if c, err = cmp.Compare(ver, e.v); err != nil {
				return false, "", err
			}
		}
		if c < 0 {
			// Events are sorted: this one and all after it lie above ver,
			// so the state is final, and if this event is a fix it is the
			// one that closes ver's interval.
			if affected && e.kind == "fixed" {
				return true, e.v, nil
			}
			return affected, "", nil
		}
		switch e.kind {
		case "introduced":
			affected = true
		case "fixed":
			affected = false
		case "last_affected":
			if c > 0 {
				affected = false
			}
		case "limit":
			return false, "", nil
		}
	}
	return affected, "", nil
}
