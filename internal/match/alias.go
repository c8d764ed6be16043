package match

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/vulndb"
)

// originOf is finding.Origin.
func originOf(s Severity) string { return finding.Origin(s) }

// wantsAlias reports whether a finding's own records leave its severity to
// another record: they carry no CVSS and no ecosystem rating, only perhaps
// the distribution's word. The distribution's rating comes after any
// record of the vulnerability that scores it (a Debian "unimportant" is
// about backporting a fix, not about how bad the flaw is).
func wantsAlias(s Severity) bool {
	o := originOf(s)
	return o == finding.OriginNone || o == finding.OriginDistribution
}

// rateByAlias rates the findings that wantsAlias from the other records of
// their vulnerability: one lookup for all of them, then for each the best
// CVSS or ecosystem rating among the records sharing one of its ids. The
// finding's own advisory is left out (it was judged already).
func rateByAlias(ctx context.Context, ar AliasReader, fs []Finding) error {
	seen := map[string]bool{}
	var ids []string
	for i := range fs {
		if !wantsAlias(fs[i].Severity) {
			continue
		}
		for _, id := range append([]string{fs[i].ID}, fs[i].Aliases...) {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	advs, err := ar.KnownAs(ctx, ids)
	if err != nil {
		return fmt.Errorf("match: rate findings by their aliases: %w", err)
	}
	byID := map[string][]*vulndb.Advisory{}
	for _, adv := range advs {
		if adv == nil || adv.Withdrawn != nil {
			continue
		}
		for _, id := range identities(adv) {
			byID[id] = append(byID[id], adv)
		}
		for _, u := range adv.Upstream {
			if c := cveOf(u); c != "" {
				byID[c] = append(byID[c], adv)
			}
		}
	}
	for i := range fs {
		f := &fs[i]
		if !wantsAlias(f.Severity) {
			continue
		}
		best := Severity{Rating: RatingUnknown}
		done := map[string]bool{f.ID: true, f.DataSource: true}
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			for _, adv := range byID[id] {
				if done[adv.ID] {
					continue
				}
				done[adv.ID] = true
				s := recordSeverity(adv)
				if originOf(s) != finding.OriginAdvisory {
					continue
				}
				if better(s, best) {
					s.From = adv.ID
					best = s
				}
			}
		}
		if best.From != "" {
			f.Severity = best
			f.SeveritySource = finding.OriginAlias
		}
	}
	return nil
}

// recordSeverity is the best severity a record gives anywhere: its own,
// and any of its affected entries'. Vectors that do not parse are skipped
// here; they are reported when the record is matched itself.
func recordSeverity(adv *vulndb.Advisory) Severity {
	best := Severity{Rating: RatingUnknown}
	entries := adv.Affected
	if len(entries) == 0 {
		entries = []vulndb.Affected{{}}
	}
	for i := range entries {
		if s, _ := severityOf(adv, &entries[i]); better(s, best) {
			best = s
		}
	}
	return best
}

// summaryOf is an advisory's one-line title: its summary, or the first
// sentence of its details cut to a line's length (PyPA and Debian records
// often carry details only).
func summaryOf(adv *vulndb.Advisory) string {
	if s := strings.TrimSpace(adv.Summary); s != "" {
		return s
	}
	d := strings.Join(strings.Fields(adv.Details), " ")
	if i := strings.Index(d, ". "); i >= 0 {
		d = d[:i+1]
	}
	const max = 160
	if len(d) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(d[cut]) {
			cut--
		}
		if sp := strings.LastIndexByte(d[:cut], ' '); sp > max/2 {
			cut = sp
		}
		d = strings.TrimRight(d[:cut], " ,;:") + "…"
	}
	return d
}

// advisoryURL is the web page of an advisory id.
func advisoryURL(id string) string {
	_, u := finding.AdvisoryPage(id)
	return u
}
