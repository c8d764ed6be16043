package vulndb

// Debian security tracker sources. Air-gapped users mirror the tracker
// rather than OSV, in one of two forms:
//
//   - the tracker's JSON export (https://security-tracker.debian.org/tracker/data/json):
//     source package → CVE → {description, releases: codename → {status,
//     fixed_version, urgency}}, where the tracker has already worked out
//     every supported release's state;
//   - the tracker's annotated lists (data/CVE/list, data/DSA/list,
//     data/DLA/list) as aquasecurity/vuln-list-debian lays them out, one
//     JSON file per entry under tracker/{CVE,DSA,DLA}/.
//
// Both are converted to the OSV records osv.dev publishes for Debian (its
// vulnfeeds/cmd/converters/debian), so the matcher treats them like an OSV
// Debian export: one record "DEBIAN-<CVE>" per CVE, upstream [<CVE>], one
// affected entry per source package and release ("Debian:<n>") with an
// ECOSYSTEM range {introduced 0[, fixed X]} and ecosystem_specific.urgency.
// osv.dev's converter merges all packages of a CVE into one record; so do
// we, since the store keys records by id and two records with one id would
// overwrite each other.
//
// The records are handed to the builder as JSON through the same path as
// OSV files, so every check and statistic of readSource applies to them.
// Entries then counts records produced (plus entries that could not be
// read), not files.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drydock/drydock/internal/version"
)

// debianReleases maps codenames to the release numbers OSV's "Debian:<n>"
// ecosystems use. osv.dev reads distro-info's debian.csv, which spells
// etch…squeeze "4.0"…"6.0"; we use the bare major there because the matcher
// asks for "Debian:<major>" from os-release. sid and experimental have no
// number and so no ecosystem: they are skipped, as osv.dev does. A mirror's
// tracker/distributions.json may add codenames released after this table.
var debianReleases = map[string]string{
	"buzz": "1.1", "rex": "1.2", "bo": "1.3", "hamm": "2.0", "slink": "2.1",
	"potato": "2.2", "woody": "3.0", "sarge": "3.1", "etch": "4", "lenny": "5",
	"squeeze": "6", "wheezy": "7", "jessie": "8", "stretch": "9", "buster": "10",
	"bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15",
}

// debianUrgencyUnknown is what the tracker's JSON export says when the
// security team has not rated an issue; the annotated lists then say
// nothing, and we fill in the same words so both forms convert alike.
const debianUrgencyUnknown = "not yet assigned"

// debianCVE is one CVE's converted state before it becomes a record.
type debianCVE struct {
	details string
	// affected: source package → release number → state. Releases where
	// the package is not affected are absent.
	affected map[string]map[string]debianState
}

// debianState is one affected (package, release): fixed is empty when no
// fix exists.
type debianState struct{ fixed, urgency string }

func (c *debianCVE) set(pkg, rel string, s debianState) {
	if c.affected == nil {
		c.affected = map[string]map[string]debianState{}
	}
	if c.affected[pkg] == nil {
		c.affected[pkg] = map[string]debianState{}
	}
	c.affected[pkg][rel] = s
}

// debianAdvisories builds the OSV records, ordered by id; CVEs left with no
// affected entry (not affected anywhere) yield none, as in osv.dev.
func debianAdvisories(cves map[string]*debianCVE, now time.Time) []*Advisory {
	ids := make([]string, 0, len(cves))
	for id := range cves {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []*Advisory
	for _, cve := range ids {
		c := cves[cve]
		adv := &Advisory{
			ID:       "DEBIAN-" + cve,
			Modified: now,
			Upstream: []string{cve},
			Details:  c.details,
			References: []Reference{{
				Type: "ADVISORY", URL: "https://security-tracker.debian.org/tracker/" + cve,
			}},
		}
		pkgs := make([]string, 0, len(c.affected))
		for p := range c.affected {
			pkgs = append(pkgs, p)
		}
		sort.Strings(pkgs)
		for _, p := range pkgs {
			rels := make([]string, 0, len(c.affected[p]))
			for r := range c.affected[p] {
				rels = append(rels, r)
			}
			slices.SortFunc(rels, compareRelease)
			for _, r := range rels {
				s := c.affected[p][r]
				events := []Event{{Introduced: "0"}}
				if s.fixed != "" {
					events = append(events, Event{Fixed: s.fixed})
				}
				a := Affected{
					Package: Package{Ecosystem: "Debian:" + r, Name: p},
					Ranges:  []Range{{Type: "ECOSYSTEM", Events: events}},
				}
				if s.urgency != "" {
					a.EcosystemSpecific = map[string]any{"urgency": s.urgency}
				}
				adv.Affected = append(adv.Affected, a)
			}
		}
		if len(adv.Affected) > 0 {
			out = append(out, adv)
		}
	}
	return out
}

// compareRelease orders release numbers numerically ("9" before "10").
func compareRelease(a, b string) int {
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil && fa != fb {
		if fa < fb {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// isCVEID accepts the tracker's CVE ids. The tracker also files issues
// without one ("TEMP-0000000-1A2B3C"); osv.dev converts only CVEs, and an
// id drydock cannot show anyone is of no use.
func isCVEID(id string) bool {
	rest, ok := strings.CutPrefix(id, "CVE-")
	if !ok || len(rest) < 6 || len(id) > 64 {
		return false
	}
	for _, r := range rest {
		if (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// validPackage rejects names no dpkg database could hold, so garbage in a
// damaged export is reported instead of indexed.
func validPackage(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("+-.", r) || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// validVersion rejects fixed versions that are not one printable token.
func validVersion(v string) bool {
	if v == "" || len(v) > 256 {
		return false
	}
	for _, r := range v {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// ---- tracker JSON export ----

type trackerCVE struct {
	Description string                    `json:"description"`
	Releases    map[string]trackerRelease `json:"releases"`
}

type trackerRelease struct {
	Status       string `json:"status"`
	FixedVersion string `json:"fixed_version"`
	Urgency      string `json:"urgency"`
}

// sniffTrackerJSON reports whether r starts like the tracker's JSON export:
// an object of objects of objects, the innermost with a "releases" object.
// The shape decides, not the file name: mirrors save it under any name.
func sniffTrackerJSON(r io.Reader) bool {
	dec := json.NewDecoder(r)
	want := func(d json.Delim) bool {
		tok, err := dec.Token()
		return err == nil && tok == d
	}
	key := func() (string, bool) {
		tok, err := dec.Token()
		s, ok := tok.(string)
		return s, err == nil && ok
	}
	if !want('{') {
		return false
	}
	if _, ok := key(); !ok || !want('{') {
		return false
	}
	if _, ok := key(); !ok || !want('{') {
		return false
	}
	for dec.More() {
		k, ok := key()
		if !ok {
			return false
		}
		if k == "releases" {
			return want('{')
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// jsonMismatch is called on a file that is neither a zip nor shaped like the
// tracker's export. If the file starts like JSON it reports so (isJSON) with
// what is wrong: the first syntax error, or the shape.
func jsonMismatch(r io.Reader) (why string, isJSON bool) {
	br := bufio.NewReader(r)
	for {
		c, err := br.ReadByte()
		if err != nil {
			return "", false
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if c != '{' && c != '[' {
			return "", false
		}
		br.UnreadByte()
		break
	}
	dec := json.NewDecoder(br)
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: ")), true
			}
			if errors.Is(err, io.ErrUnexpectedEOF) && dec.InputOffset() < 1<<20 {
				return fmt.Sprintf("malformed JSON: the file ends at byte %d inside a value", dec.InputOffset()), true
			}
			break // past the sniffed head: the shape is what is wrong
		}
	}
	return `JSON, but not the Debian security tracker's export (an object of source package → CVE → {"releases": {...}}); OSV records are imported as a zip or a directory`, true
}

// convertTrackerJSON converts the tracker's JSON export by osv.dev's rules:
// per source package × CVE × release, "resolved" with fixed_version "0" is
// not affected (no entry), "resolved" is fixed at fixed_version, "open" and
// "undetermined" are affected without a fix. The file is streamed one
// package at a time; a package or CVE that does not have the export's shape
// is reported to bad and skipped, while broken JSON fails the whole source
// (what follows the break cannot be trusted to be read right).
func convertTrackerJSON(r io.Reader, cfg *config, bad func(string, error)) (map[string]*debianCVE, error) {
	cr := &capReader{r: r, left: cfg.maxUncompessed}
	dec := json.NewDecoder(bufio.NewReaderSize(cr, 1<<16))
	cves := map[string]*debianCVE{}
	fail := func(err error) (map[string]*debianCVE, error) {
		if cr.left < 0 {
			return nil, fmt.Errorf("read Debian tracker JSON: %w (%d bytes)", errSourceTooBig, cfg.maxUncompessed)
		}
		return nil, fmt.Errorf("read Debian tracker JSON at byte %d: %w", dec.InputOffset(), err)
	}
	tok, err := dec.Token()
	if err != nil {
		return fail(err)
	}
	if tok != json.Delim('{') {
		return fail(errors.New("want an object of source packages"))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		pkg, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail(fmt.Errorf("package %q: %w", pkg, err))
		}
		if int64(len(raw)) > cfg.maxRecord {
			bad(pkg, fmt.Errorf("package entry is over the %d-byte record cap", cfg.maxRecord))
			continue
		}
		if !validPackage(pkg) {
			bad(truncate(pkg, 64), errors.New("not a source package name"))
			continue
		}
		var entries map[string]trackerCVE
		if err := json.Unmarshal(raw, &entries); err != nil {
			bad(pkg, fmt.Errorf("decode package entry: %w", err))
			continue
		}
		for cve, e := range entries {
			if !isCVEID(cve) {
				continue
			}
			states, err := trackerStates(e)
			if err != nil {
				bad(pkg+" "+cve, err)
				continue
			}
			c := cves[cve]
			if c == nil {
				c = &debianCVE{}
				cves[cve] = c
			}
			if c.details == "" {
				c.details = e.Description
			}
			for rel, s := range states {
				c.set(pkg, rel, s)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail(errors.New("data after the top-level object"))
	}
	return cves, nil
}

// trackerStates converts one package × CVE entry of the export, keyed by
// release number; releases without a number (sid, experimental) are left
// out.
func trackerStates(e trackerCVE) (map[string]debianState, error) {
	out := map[string]debianState{}
	for codename, r := range e.Releases {
		rel, ok := debianReleases[codename]
		if !ok {
			continue
		}
		s := debianState{urgency: r.Urgency}
		switch r.Status {
		case "resolved":
			if r.FixedVersion == "0" {
				continue
			}
			if !validVersion(r.FixedVersion) {
				return nil, fmt.Errorf("release %s: resolved with bad fixed_version %q", codename, truncate(r.FixedVersion, 64))
			}
			s.fixed = r.FixedVersion
		case "open", "undetermined":
		default:
			return nil, fmt.Errorf("release %s: unknown status %q", codename, truncate(r.Status, 64))
		}
		out[rel] = s
	}
	return out, nil
}

// capReader fails once more than left bytes have been read.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errSourceTooBig
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errSourceTooBig
	}
	return n, err
}

// ---- annotated lists (vuln-list-debian layout) ----

type annotationFile struct {
	Header struct {
		ID          string
		Description string
	}
	Annotations []annotation
}

type annotation struct {
	Type     string
	Release  string
	Package  string
	Kind     string
	Version  string
	Severity string
	Bugs     []string
}

// debianLine is one package line of an entry: "[release] - pkg <kind>" or
// "[release] - pkg version" (kind "fixed").
type debianLine struct{ kind, version, severity string }

// pkgLines gathers a package's lines for one CVE from every list.
type pkgLines struct {
	sid *debianLine           // the release-less line: unstable's state
	cve map[string]debianLine // "[release]" lines of the CVE list, by codename
	adv map[string]debianLine // lines of the DSA/DLA naming the CVE, by codename
}

type annotationSet struct {
	cves map[string]*annotatedCVE
	// named are the numbered releases any line names; see fallbackReleases.
	named map[string]bool
	// extra holds codenames a mirror's distributions.json adds; tracked,
	// when the mirror has that file, the releases it lists.
	extra   map[string]string
	tracked []string
}

type annotatedCVE struct {
	details string
	pkgs    map[string]*pkgLines
}

func (s *annotationSet) lines(cve, pkg string) *pkgLines {
	c := s.cves[cve]
	if c == nil {
		c = &annotatedCVE{pkgs: map[string]*pkgLines{}}
		s.cves[cve] = c
	}
	p := c.pkgs[pkg]
	if p == nil {
		p = &pkgLines{cve: map[string]debianLine{}, adv: map[string]debianLine{}}
		c.pkgs[pkg] = p
	}
	return p
}

func (s *annotationSet) release(codename string) (string, bool) {
	if r, ok := debianReleases[codename]; ok {
		return r, true
	}
	r, ok := s.extra[codename]
	return r, ok
}

// knownKinds are the states the tracker's lists use. "itp" is an intent to
// package: not in the archive, so nothing to match.
var knownKinds = map[string]bool{
	"fixed": true, "unfixed": true, "not-affected": true, "no-dsa": true, "ignored": true,
	"postponed": true, "end-of-life": true, "removed": true, "undetermined": true, "itp": true,
}

// parseAnnotationFile checks one entry and returns its package lines.
func parseAnnotationFile(data []byte, advisory bool) (*annotationFile, error) {
	var f annotationFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decode tracker entry: %w", err)
	}
	if f.Header.ID == "" {
		return nil, errors.New("not a tracker entry: no Header.ID")
	}
	for _, a := range f.Annotations {
		if a.Type != "package" {
			continue
		}
		if !validPackage(a.Package) {
			return nil, fmt.Errorf("%s: bad package name %q", f.Header.ID, truncate(a.Package, 64))
		}
		if !knownKinds[a.Kind] {
			return nil, fmt.Errorf("%s: %s: unknown state %q", f.Header.ID, a.Package, truncate(a.Kind, 64))
		}
		if a.Kind == "fixed" && !validVersion(a.Version) {
			return nil, fmt.Errorf("%s: %s: fixed without a valid version (%q)", f.Header.ID, a.Package, truncate(a.Version, 64))
		}
		if advisory && a.Release == "" {
			// DSA and DLA lines always name the release they fixed.
			return nil, fmt.Errorf("%s: %s: advisory line without a release", f.Header.ID, a.Package)
		}
	}
	return &f, nil
}

func (s *annotationSet) addCVE(f *annotationFile) {
	cve := f.Header.ID
	if !isCVEID(cve) {
		return
	}
	c := s.cves[cve]
	if c == nil {
		c = &annotatedCVE{pkgs: map[string]*pkgLines{}}
		s.cves[cve] = c
	}
	if c.details == "" {
		c.details = trimDescription(f.Header.Description)
	}
	for _, a := range f.Annotations {
		if a.Type != "package" {
			continue
		}
		l := debianLine{kind: a.Kind, version: a.Version, severity: a.Severity}
		p := s.lines(cve, a.Package)
		if a.Release == "" {
			p.sid = &l
			continue
		}
		p.cve[a.Release] = l
		if r, ok := s.release(a.Release); ok {
			s.named[r] = true
		}
	}
}

// addAdvisory joins a DSA or DLA into the CVEs it names: its lines are the
// only record of the fix a security update brought to a release.
func (s *annotationSet) addAdvisory(f *annotationFile) {
	var cves []string
	for _, a := range f.Annotations {
		if a.Type == "xref" {
			for _, b := range a.Bugs {
				if isCVEID(b) {
					cves = append(cves, b)
				}
			}
		}
	}
	// An advisory without CVEs has nothing to join into; osv.dev publishes
	// those as DSA records from another converter.
	for _, a := range f.Annotations {
		if a.Type != "package" {
			continue
		}
		if r, ok := s.release(a.Release); ok {
			s.named[r] = true
		}
		for _, cve := range cves {
			p := s.lines(cve, a.Package)
			l := debianLine{kind: a.Kind, version: a.Version, severity: a.Severity}
			if prev, ok := p.adv[a.Release]; ok && prev.kind == "fixed" && l.kind == "fixed" {
				// Several updates fixing one CVE: the last fix is the one
				// that worked, as trivy-db assumes too.
				if higherVersion(prev.version, l.version) {
					continue
				}
			}
			p.adv[a.Release] = l
		}
	}
}

// higherVersion reports whether a sorts after b in dpkg order; versions
// that do not parse are compared as text so the choice is still stable.
func higherVersion(a, b string) bool {
	if c, err := (version.Dpkg{}).Compare(a, b); err == nil {
		return c > 0
	}
	return a > b
}

// trimDescription drops the list's "(…)" or "[…]" around the text.
func trimDescription(d string) string {
	d = strings.TrimSpace(d)
	if len(d) >= 2 && (d[0] == '(' && d[len(d)-1] == ')' || d[0] == '[' && d[len(d)-1] == ']') {
		d = strings.TrimSpace(d[1 : len(d)-1])
	}
	return d
}

// fallbackReleases are the releases a release-less line speaks for. That
// line is unstable's state; the tracker applies it to every release it
// tracks where the package exists and no "[release]" line says otherwise,
// and trivy-db does the same with the release list of the mirror's
// distributions.json and the packages of each release's Sources. The lists
// alone do not say which releases carry a package, so we assume every
// tracked release does: an image of a release without the package never
// asks for it, so the extra entries cost index rows, not false findings.
// Tracked releases are those in distributions.json when the mirror has it,
// else every numbered release some line of the data names.
func (s *annotationSet) fallbackReleases() []string {
	var out []string
	if s.tracked != nil {
		out = slices.Clone(s.tracked)
	} else {
		for r := range s.named {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, compareRelease)
	return slices.Compact(out)
}

// resolve turns the gathered lines into per-release states.
//
// For a release with an advisory (DSA/DLA) line, that line decides: fixed at
// its version (the higher one when the CVE list names a fix too), or not
// affected. Otherwise the CVE list's "[release]" line decides: a version is
// the fix; <unfixed>, <no-dsa>, <postponed>, <ignored>, <removed> and
// <undetermined> are affected without a fix (osv.dev counts the export's
// "undetermined" as affected too); <not-affected>, <end-of-life> and <itp>
// give no entry. A release neither names takes the release-less line by
// the same rules, a version becoming {introduced 0, fixed X}: that is the
// tracker's own verdict for versions at or past X and affected below it,
// the same split trivy-db makes; the fix named may be one only unstable
// ships. Urgency is the line's own, else the release-less line's, else
// "not yet assigned" as in the JSON export.
func (s *annotationSet) resolve() map[string]*debianCVE {
	fallback := s.fallbackReleases()
	out := map[string]*debianCVE{}
	for cve, c := range s.cves {
		dc := &debianCVE{details: c.details}
		for pkg, p := range c.pkgs {
			urgency := func(l debianLine) string {
				if l.severity != "" {
					return l.severity
				}
				if p.sid != nil && p.sid.severity != "" {
					return p.sid.severity
				}
				return debianUrgencyUnknown
			}
			decided := map[string]bool{}
			for codename, l := range p.adv {
				rel, ok := s.release(codename)
				if !ok {
					continue
				}
				decided[rel] = true
				if cl, ok := p.cve[codename]; ok && cl.kind == "fixed" && l.kind == "fixed" && higherVersion(cl.version, l.version) {
					l.version = cl.version
				}
				if st, ok := lineState(l); ok {
					st.urgency = urgency(l)
					dc.set(pkg, rel, st)
				}
			}
			for codename, l := range p.cve {
				rel, ok := s.release(codename)
				if !ok || decided[rel] {
					continue
				}
				decided[rel] = true
				if st, ok := lineState(l); ok {
					st.urgency = urgency(l)
					dc.set(pkg, rel, st)
				}
			}
			if p.sid == nil {
				continue
			}
			for _, rel := range fallback {
				if decided[rel] {
					continue
				}
				if st, ok := lineState(*p.sid); ok {
					st.urgency = urgency(*p.sid)
					dc.set(pkg, rel, st)
				}
			}
		}
		out[cve] = dc
	}
	return out
}

// lineState maps one line to an affected state; false means no entry.
func lineState(l debianLine) (debianState, bool) {
	switch l.kind {
	case "fixed":
		if l.version == "0" {
			return debianState{}, false
		}
		return debianState{fixed: l.version}, true
	case "unfixed", "no-dsa", "postponed", "ignored", "removed", "undetermined":
		return debianState{}, true
	}
	return debianState{}, false
}

// trackerRoot returns the directory holding CVE/, DSA/ and DLA/ when dir is
// a vuln-list-debian checkout (dir/tracker/CVE) or its tracker directory.
func trackerRoot(dir string) (string, bool) {
	isDir := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && fi.IsDir()
	}
	if isDir(filepath.Join(dir, "tracker", "CVE")) {
		return filepath.Join(dir, "tracker"), true
	}
	if isDir(filepath.Join(dir, "CVE")) && (isDir(filepath.Join(dir, "DSA")) || isDir(filepath.Join(dir, "DLA"))) {
		return dir, true
	}
	return "", false
}

// readAnnotations reads root's CVE, DSA and DLA entries. Files that are
// not tracker entries are reported to bad and skipped.
func readAnnotations(ctx context.Context, root string, cfg *config, bad func(string, error)) (*annotationSet, error) {
	s := &annotationSet{cves: map[string]*annotatedCVE{}, named: map[string]bool{}, extra: map[string]string{}}
	if err := s.readDistributions(filepath.Join(root, "distributions.json")); err != nil {
		return nil, err
	}
	var total int64
	for _, sub := range []string{"CVE", "DSA", "DLA"} {
		dir := filepath.Join(root, sub)
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("walk %s: %w", path, err)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() || !d.Type().IsRegular() || !strings.EqualFold(filepath.Ext(path), ".json") {
				return nil
			}
			data, err := readCapped(path, cfg.maxRecord)
			if err != nil {
				return err
			}
			total += int64(len(data))
			if total > cfg.maxUncompessed {
				return fmt.Errorf("read %s: %w (%d bytes)", root, errSourceTooBig, cfg.maxUncompessed)
			}
			if int64(len(data)) > cfg.maxRecord {
				bad(path, fmt.Errorf("file is over the %d-byte record cap", cfg.maxRecord))
				return nil
			}
			f, err := parseAnnotationFile(data, sub != "CVE")
			if err != nil {
				bad(path, err)
				return nil
			}
			if sub == "CVE" {
				s.addCVE(f)
			} else {
				s.addAdvisory(f)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read Debian tracker lists: %w", err)
		}
	}
	return s, nil
}

func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// readDistributions reads vuln-list-debian's distributions.json
// ({"bookworm": {"major-version": "12", ...}}), the releases the tracker
// tracks. It is optional; a damaged one fails the source, since guessing
// the release set would silently change every fallback entry.
func (s *annotationSet) readDistributions(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read Debian distributions: %w", err)
	}
	var m map[string]struct {
		MajorVersion string `json:"major-version"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("read Debian distributions %s: %w", path, err)
	}
	s.tracked = []string{}
	for codename, d := range m {
		if d.MajorVersion == "" {
			continue // sid
		}
		if _, err := strconv.ParseFloat(d.MajorVersion, 64); err != nil {
			return fmt.Errorf("read Debian distributions %s: %s: bad major-version %q", path, codename, d.MajorVersion)
		}
		rel, ok := debianReleases[codename]
		if !ok {
			rel = d.MajorVersion
			s.extra[codename] = rel
		}
		s.tracked = append(s.tracked, rel)
	}
	return nil
}

// ---- hook into readSource ----

// readDebianSource reads src when it is Debian security tracker data (the
// JSON export as a file, or a vuln-list-debian directory) and reports
// whether it was. Downloaded exports (src.ecosystem set) are OSV zips and
// never looked at.
func (b *builder) readDebianSource(ctx context.Context, src source, emit entryFunc, bad func(string, error)) (bool, error) {
	if src.ecosystem != "" {
		return false, nil
	}
	var cves map[string]*debianCVE
	if src.isZip {
		f, err := os.Open(src.path)
		if err != nil {
			return false, nil // let the zip reader report it
		}
		defer f.Close()
		head := make([]byte, 4)
		n, _ := io.ReadFull(f, head)
		if bytes.Equal(head[:n], []byte("PK\x03\x04")) {
			return false, nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return false, nil
		}
		if !sniffTrackerJSON(io.LimitReader(f, 1<<20)) {
			// JSON that is not the export's shape would otherwise reach the
			// zip reader and be reported as "not a valid zip file".
			if _, err := f.Seek(0, io.SeekStart); err == nil {
				if why, isJSON := jsonMismatch(io.LimitReader(f, 1<<20)); isJSON {
					return true, fmt.Errorf("%s: %s", src.path, why)
				}
			}
			return false, nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return true, fmt.Errorf("read %s: %w", src.path, err)
		}
		cves, err = convertTrackerJSON(f, b.cfg, bad)
		if err != nil {
			return true, fmt.Errorf("%s: %w", src.path, err)
		}
	} else {
		root, ok := trackerRoot(src.path)
		if !ok {
			return false, nil
		}
		set, err := readAnnotations(ctx, root, b.cfg, bad)
		if err != nil {
			return true, fmt.Errorf("%s: %w", src.path, err)
		}
		cves = set.resolve()
	}
	for _, adv := range debianAdvisories(cves, b.cfg.now().UTC()) {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		data, err := json.Marshal(adv)
		if err != nil {
			return true, fmt.Errorf("encode %s: %w", adv.ID, err)
		}
		if err := emit(src.path+"#"+adv.ID, data); err != nil {
			return true, err
		}
	}
	return true, nil
}
