package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/drydock/drydock/internal/finding"
)

const (
	// sarifSchemaURI is the $id of the official SARIF 2.1.0 schema (errata
	// 01), the one vendored in testdata/schema.
	sarifSchemaURI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	// informationURI is where the SARIF driver says to learn about drydock.
	informationURI = "https://github.com/drydock/drydock"
)

// sarifFormatter writes SARIF 2.1.0 for GitHub and Azure DevOps code
// scanning: one rule per vulnerability id, one result per finding.
//
// Suppressed findings are left out rather than written as results with
// "suppressions": GitHub code scanning ignores that property and would open
// an alert for each of them. They are counted in the run's properties.
type sarifFormatter struct{ opts Options }

func (f sarifFormatter) Format(w io.Writer, r *ScanReport) error {
	log, err := f.log(r)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("report: write sarif: %w", err)
	}
	return nil
}

func (f sarifFormatter) log(r *ScanReport) (*sarif.Report, error) {
	log, err := sarif.New(sarif.Version210, false)
	if err != nil {
		return nil, fmt.Errorf("report: sarif: %w", err)
	}
	log.Schema = sarifSchemaURI
	inv := scanInventory(r)

	driver := sarif.NewVersionedDriver(f.opts.toolName(), f.opts.toolVersion()).WithInformationURI(informationURI)
	run := sarif.NewRun(*sarif.NewTool(driver))

	findings := sortedFindings(r.Findings)
	// Findings come worst first, so rules do too; a rule's severity is its
	// worst finding's, since the same id can be rated per package.
	ruleIndex := map[string]uint{}
	byRule := map[string][]finding.Finding{}
	var ruleIDs []string
	for _, fd := range findings {
		if _, ok := ruleIndex[fd.ID]; !ok {
			ruleIndex[fd.ID] = uint(len(ruleIDs))
			ruleIDs = append(ruleIDs, fd.ID)
		}
		byRule[fd.ID] = append(byRule[fd.ID], fd)
	}
	// Set directly: the ids are unique already, and AddRule searches the
	// list on every call.
	driver.Rules = make([]*sarif.ReportingDescriptor, 0, len(ruleIDs))
	for _, id := range ruleIDs {
		driver.Rules = append(driver.Rules, sarifRule(id, byRule[id]))
	}
	for _, fd := range findings {
		run.AddResult(sarifResult(fd, ruleIndex[fd.ID]))
	}

	props := sarif.Properties{}
	addProp := func(k string, v any) {
		if s, ok := v.(string); ok && s == "" {
			return
		}
		props[k] = v
	}
	addProp("imageName", imageName(inv.Source))
	addProp("imageRef", inv.Source.Ref)
	addProp("imageDigest", inv.Source.Digest)
	addProp("os", osName(inv.OS))
	addProp("baseImage", baseText(inv.Source))
	if !r.DB.UpdatedAt.IsZero() {
		addProp("dbUpdatedAt", r.DB.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z"))
	}
	addProp("dbStale", r.DB.Stale)
	addProp("suppressed", len(r.Suppressed))
	run.Properties = props

	// Problems and configuration trouble travel as notifications, which
	// viewers show beside the results, so an incomplete scan is not mistaken
	// for a clean one.
	inv1 := run.AddInvocation(true)
	for _, p := range r.Problems {
		inv1.ToolExecutionNotifications = append(inv1.ToolExecutionNotifications, &sarif.Notification{
			Level:   "warning",
			Message: sarif.NewTextMessage(problemText(p)),
		})
	}
	if r.DB.Stale {
		msg := "The vulnerability database is stale"
		if r.DB.Age > 0 {
			msg += " (" + dbAge(r.DB.Age) + " old)"
		}
		inv1.ToolConfigurationNotifications = append(inv1.ToolConfigurationNotifications, &sarif.Notification{
			Level:   "warning",
			Message: sarif.NewTextMessage(msg + "; advisories published since are missing."),
		})
	}
	for _, e := range r.Expired {
		inv1.ToolConfigurationNotifications = append(inv1.ToolConfigurationNotifications, &sarif.Notification{
			Level:   "warning",
			Message: sarif.NewTextMessage("Ignore entry no longer applied: " + expiredText(e)),
		})
	}
	log.AddRun(run)
	return log, nil
}

func sarifRule(id string, fs []finding.Finding) *sarif.ReportingDescriptor {
	worst := fs[0]
	summary := worst.Summary
	if summary == "" {
		summary = id + " in " + displayName(worst.Package)
	}
	rule := sarif.NewRule(id).
		WithShortDescription(sarif.NewMultiformatMessageString(summary)).
		WithFullDescription(sarif.NewMultiformatMessageString(fullDescription(worst))).
		WithHelpURI(sourceOf(id).URL).
		WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(worst.Severity.Rating)))

	var text, md strings.Builder
	fmt.Fprintf(&text, "%s\nSeverity: %s\n", fullDescription(worst), severityText(worst.Severity))
	fmt.Fprintf(&md, "**%s**\n\n%s\n\nSeverity: %s\n\n| Package | Installed | Fixed | Fix path | Path |\n| --- | --- | --- | --- | --- |\n",
		mdEscape(id), mdEscape(summary), mdEscape(severityText(worst.Severity)))
	for _, fd := range fs {
		fix := "no fix yet"
		if fixable(fd) {
			fix = "fixed in " + strings.Join(fd.FixedVersions, ", ")
		}
		fmt.Fprintf(&text, "%s %s: %s (%s)\n", displayName(fd.Package), installed(fd), fix, fd.Package.Path)
		fmt.Fprintf(&md, "| %s | %s | %s | %s | %s |\n", mdEscape(displayName(fd.Package)), mdEscape(installed(fd)),
			mdEscape(fixedText(fd)), dash(fd.FixPath), mdEscape(fd.Package.Path))
	}
	fmt.Fprintf(&text, "More: %s", sourceOf(id).URL)
	fmt.Fprintf(&md, "\n[%s](%s)", mdEscape(id), sourceOf(id).URL)
	rule.WithTextHelp(text.String()).WithMarkdownHelp(md.String())

	props := sarif.Properties{"tags": []string{"security", "vulnerability", normRating(worst.Severity.Rating)}}
	if s := securitySeverity(worst.Severity); s != "" {
		props["security-severity"] = s
	}
	rule.WithProperties(props)
	return rule
}

func fullDescription(f finding.Finding) string {
	d := f.ID
	if f.Summary != "" {
		d += ": " + f.Summary
	}
	if len(f.Aliases) > 0 {
		d += " (aliases: " + strings.Join(f.Aliases, ", ") + ")"
	}
	return d
}

func severityText(s finding.Severity) string {
	t := normRating(s.Rating)
	var detail []string
	if s.Score > 0 {
		detail = append(detail, strconv.FormatFloat(s.Score, 'f', 1, 64))
	}
	if s.Vector != "" {
		detail = append(detail, s.Vector)
	} else if s.Source != "" {
		detail = append(detail, s.Source)
	}
	if len(detail) > 0 {
		t += " (" + strings.Join(detail, ", ") + ")"
	}
	return t
}

// securitySeverity is GitHub's security-severity: a CVSS-like score as a
// string, which GitHub buckets as critical (≥9.0), high (≥7.0), medium
// (≥4.0) and low. Vendor ratings without a score get the middle of their
// bucket, so GitHub shows the rating the advisory gave; an unknown severity
// gets none, and GitHub falls back to the result's level.
func securitySeverity(s finding.Severity) string {
	if s.Score > 0 {
		return strconv.FormatFloat(s.Score, 'f', 1, 64)
	}
	switch normRating(s.Rating) {
	case finding.RatingCritical:
		return "9.5"
	case finding.RatingHigh:
		return "8.0"
	case finding.RatingMedium:
		return "5.5"
	case finding.RatingLow:
		return "2.0"
	case finding.RatingNone:
		return "0.0"
	}
	return ""
}

// sarifLevel maps a rating onto SARIF's levels. UNKNOWN is a warning, not a
// note: whole ecosystems (Go's advisories) carry no severity, and an unrated
// vulnerability is not known to be minor.
func sarifLevel(rating string) string {
	switch normRating(rating) {
	case finding.RatingCritical, finding.RatingHigh:
		return "error"
	case finding.RatingMedium, finding.RatingUnknown:
		return "warning"
	}
	return "note"
}

func sarifResult(f finding.Finding, ruleIndex uint) *sarif.Result {
	msg := fmt.Sprintf("%s %s is affected by %s", displayName(f.Package), installed(f), f.ID)
	if cves := aliasText(f); cves != "-" {
		msg += " (" + cves + ")"
	}
	if fixable(f) {
		msg += "; fixed in " + strings.Join(f.FixedVersions, ", ")
	} else {
		msg += "; no fix yet"
	}
	msg += "."
	if f.FixPath != "" {
		msg += " Fix path: " + f.FixPath + "."
	}
	res := sarif.NewRuleResult(f.ID).
		WithRuleIndex(int(ruleIndex)).
		WithLevel(sarifLevel(f.Severity.Rating)).
		WithMessage(sarif.NewTextMessage(msg))
	// GitHub requires a physical location for every result; the file the
	// package was read from is the closest thing an image has to a line of
	// code, and line 1 is the region GitHub needs.
	loc := sarif.NewPhysicalLocation().
		WithArtifactLocation(sarif.NewSimpleArtifactLocation(artifactURI(f.Package.Path))).
		WithRegion(sarif.NewRegion().WithStartLine(1))
	res.AddLocation(sarif.NewLocationWithPhysicalLocation(loc))

	props := sarif.Properties{
		"packageName":      displayName(f.Package),
		"installedVersion": installed(f),
		"severity":         normRating(f.Severity.Rating),
	}
	if fixable(f) {
		props["fixedVersions"] = f.FixedVersions
	}
	if f.Package.PURL != "" {
		props["purl"] = f.Package.PURL
	}
	if f.FixPath != "" {
		props["fixPath"] = f.FixPath
	}
	if f.Layer != "" {
		props["layer"] = f.Layer
	}
	res.Properties = props
	return res
}

// artifactURI makes a package path a relative URI reference: path segments
// percent-encoded (a space or "%" in a file name would not be a valid URI),
// and a first segment holding ":" guarded so it is not read as a scheme.
func artifactURI(path string) string {
	path = strings.TrimPrefix(path, "/")
	if path == "" {
		// Packages without a file (synthesised from metadata) still need a
		// location; "." is the image root.
		return "."
	}
	u := url.URL{Path: path}
	return u.String()
}

var mdEscaper = strings.NewReplacer("|", "\\|", "*", "\\*", "_", "\\_", "`", "\\`", "[", "\\[", "]", "\\]", "<", "&lt;", "\n", " ")

func mdEscape(s string) string { return mdEscaper.Replace(s) }
