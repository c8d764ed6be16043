package report

import (
	"io"
	"slices"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/drydock/drydock/internal/finding"
)

// Property names the scan report adds to CycloneDX vulnerabilities and
// metadata.
const (
	propFixPath    = "drydock:fix-path"
	propSuppressed = "drydock:suppressed"
	propDBUpdated  = "drydock:db-updated-at"
	propDBStale    = "drydock:db-stale"
	propExpired    = "drydock:expired-ignore"
)

// scanCycloneDXFormatter writes the image's SBOM, built by the same code as
// the SBOM format, plus a vulnerabilities section: one vulnerability per
// advisory id, affecting every component it was found in, as consumers
// such as Dependency-Track expect.
type scanCycloneDXFormatter struct{ opts Options }

func (f scanCycloneDXFormatter) Format(w io.Writer, r *ScanReport) error {
	inv := scanInventory(r)
	now := f.opts.now()
	bom, refs := cycloneDXBOM(inv, f.opts, now, kindUUID(inv, f.opts, now, "scan"))

	findings := sortedFindings(r.Findings)
	var order []string
	byID := map[string][]finding.Finding{}
	for _, fd := range findings {
		if _, ok := byID[fd.ID]; !ok {
			order = append(order, fd.ID)
		}
		byID[fd.ID] = append(byID[fd.ID], fd)
	}
	vulns := make([]cdx.Vulnerability, 0, len(order))
	for _, id := range order {
		vulns = append(vulns, cdxVulnerability(id, byID[id], refs))
	}
	if len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}

	var props []cdx.Property
	if bom.Metadata.Properties != nil {
		props = *bom.Metadata.Properties
	}
	if !r.DB.UpdatedAt.IsZero() {
		props = append(props, cdx.Property{Name: propDBUpdated, Value: r.DB.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z")})
	}
	if r.DB.Stale {
		props = append(props, cdx.Property{Name: propDBStale, Value: "true"})
	}
	if n := len(r.Suppressed); n > 0 {
		props = append(props, cdx.Property{Name: propSuppressed, Value: strconv.Itoa(n)})
	}
	for _, e := range r.Expired {
		props = append(props, cdx.Property{Name: propExpired, Value: expiredText(e)})
	}
	if len(props) > 0 {
		bom.Metadata.Properties = &props
	}
	return writeCycloneDX(w, bom, "cyclonedx scan report")
}

// cdxVulnerability describes one advisory id found in one or more packages.
// The findings are sorted worst first, so the first one's severity is the
// advisory's worst rating.
func cdxVulnerability(id string, fs []finding.Finding, refs map[string]string) cdx.Vulnerability {
	worst := fs[0]
	src := sourceOf(id)
	v := cdx.Vulnerability{
		ID:          id,
		Source:      &cdx.Source{Name: src.Name, URL: src.URL},
		Description: worst.Summary,
		Ratings:     &[]cdx.VulnerabilityRating{cdxRating(worst.Severity)},
		Advisories:  &[]cdx.Advisory{{Title: id, URL: src.URL}},
	}
	if len(worst.Aliases) > 0 {
		aliases := make([]cdx.VulnerabilityReference, 0, len(worst.Aliases))
		for _, a := range worst.Aliases {
			as := sourceOf(a)
			aliases = append(aliases, cdx.VulnerabilityReference{ID: a, Source: &cdx.Source{Name: as.Name, URL: as.URL}})
		}
		v.References = &aliases
	}

	var affects []cdx.Affects
	var recs []string
	var fixPaths []string
	seenRef := map[string]bool{}
	for _, fd := range fs {
		ref, ok := refs[fd.Package.Key()]
		if !ok {
			// A finding whose package is not in the inventory (a caller
			// that filtered one and not the other) still needs a target;
			// its purl is the best reference it has.
			ref = fd.Package.PURL
		}
		if ref != "" && !seenRef[ref] {
			seenRef[ref] = true
			affects = append(affects, cdx.Affects{Ref: ref, Range: &[]cdx.AffectedVersions{{
				Version: fd.Package.Version, Status: cdx.VulnerabilityStatusAffected,
			}}})
		}
		if fixable(fd) {
			recs = append(recs, "Upgrade "+displayName(fd.Package)+" to "+fd.FixedVersions[len(fd.FixedVersions)-1])
		}
		if fd.FixPath != "" && !slices.Contains(fixPaths, fd.FixPath) {
			fixPaths = append(fixPaths, fd.FixPath)
		}
	}
	if len(affects) > 0 {
		v.Affects = &affects
	}
	v.Recommendation = strings.Join(slices.Compact(recs), "; ")
	if len(fixPaths) > 0 {
		props := make([]cdx.Property, 0, len(fixPaths))
		for _, p := range fixPaths {
			props = append(props, cdx.Property{Name: propFixPath, Value: p})
		}
		v.Properties = &props
	}
	return v
}

// cdxRating maps a finding's severity. CVSS vectors keep their version as
// the method; vendor ratings (Debian urgency, GHSA) have no score and are
// "other", justified by naming the vendor scale.
func cdxRating(s finding.Severity) cdx.VulnerabilityRating {
	r := cdx.VulnerabilityRating{
		Severity: cdx.Severity(strings.ToLower(normRating(s.Rating))),
		Vector:   s.Vector,
	}
	switch {
	case strings.HasPrefix(s.Vector, "CVSS:4.0/"):
		r.Method = cdx.ScoringMethodCVSSv4
	case strings.HasPrefix(s.Vector, "CVSS:3.1/"):
		r.Method = cdx.ScoringMethodCVSSv31
	case strings.HasPrefix(s.Vector, "CVSS:3.0/"):
		r.Method = cdx.ScoringMethodCVSSv3
	default:
		// The encoder would turn an empty method into "other" anyway
		// (cyclonedx-go converts unsupported methods); say it here.
		r.Method = cdx.ScoringMethodOther
		if s.Source != "" {
			r.Justification = "rated by " + s.Source
		}
	}
	if s.Score > 0 {
		score := s.Score
		r.Score = &score
	}
	return r
}
