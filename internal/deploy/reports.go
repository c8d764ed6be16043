package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ScanReport is the part of a `drydock scan --format json` report that
// deploy reads. It is decoded with its own small struct, so deploy does not
// depend on the scanner's packages.
type ScanReport struct {
	Source struct {
		Ref         string `json:"ref"`
		Name        string `json:"name"`
		Digest      string `json:"digest"`
		IndexDigest string `json:"indexDigest"`
		BaseName    string `json:"baseName"`
		BaseDigest  string `json:"baseDigest"`
	} `json:"source"`
	Findings []ReportFinding `json:"findings"`
}

// ReportFinding is one finding of a scan report.
type ReportFinding struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases"`
	Severity struct {
		Rating string `json:"rating"`
	} `json:"severity"`
	Package struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"package"`
	FixedVersions []string `json:"fixedVersions"`
}

// ReadScanReport reads one report file.
func ReadScanReport(path string) (*ScanReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scan report: %w", err)
	}
	var r ScanReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read scan report %s: %w", path, err)
	}
	if r.Source.Digest == "" {
		return nil, fmt.Errorf("read scan report %s: no source.digest (not a drydock scan --format json report of an image)", path)
	}
	return &r, nil
}

// Reports are scan reports keyed by image digest (the platform manifest's
// and, when the scan named an index, the index's).
type Reports struct {
	byDigest map[string]*ScanReport
}

// LoadReports reads every *.json file directly in dir as a scan report.
// Files that are not scan reports are an error, so a typo'd directory does
// not silently show no findings.
func LoadReports(dir string) (*Reports, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scan reports: %w", err)
	}
	rs := &Reports{byDigest: map[string]*ScanReport{}}
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		r, err := ReadScanReport(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		rs.Add(r)
	}
	return rs, nil
}

// Add indexes a report.
func (rs *Reports) Add(r *ScanReport) {
	if rs.byDigest == nil {
		rs.byDigest = map[string]*ScanReport{}
	}
	rs.byDigest[r.Source.Digest] = r
	if r.Source.IndexDigest != "" {
		rs.byDigest[r.Source.IndexDigest] = r
	}
}

// Len is how many digests have a report.
func (rs *Reports) Len() int { return len(rs.byDigest) }

// For returns the report of a digest, or nil.
func (rs *Reports) For(digest string) *ScanReport {
	if rs == nil {
		return nil
	}
	return rs.byDigest[digest]
}

// FindingsSummary counts a report's findings.
type FindingsSummary struct {
	Total      int            `json:"total"`
	BySeverity map[string]int `json:"bySeverity"`
	// IDs are the findings' CVE IDs where they have one, else their own IDs.
	IDs []string `json:"ids"`
}

// Summary summarises the findings.
func (r *ScanReport) Summary() *FindingsSummary {
	s := &FindingsSummary{BySeverity: map[string]int{}, IDs: []string{}}
	seen := map[string]bool{}
	for _, f := range r.Findings {
		s.Total++
		rating := strings.ToUpper(f.Severity.Rating)
		if rating == "" {
			rating = "UNKNOWN"
		}
		s.BySeverity[rating]++
		id := f.DisplayID()
		if !seen[id] {
			seen[id] = true
			s.IDs = append(s.IDs, id)
		}
	}
	sort.Strings(s.IDs)
	return s
}

// DisplayID is the finding's CVE alias when it has one, else its ID.
func (f ReportFinding) DisplayID() string {
	if strings.HasPrefix(f.ID, "CVE-") {
		return f.ID
	}
	for _, a := range f.Aliases {
		if strings.HasPrefix(a, "CVE-") {
			return a
		}
	}
	return f.ID
}

// FixedFinding is a vulnerability the new image no longer has.
type FixedFinding struct {
	ID       string // CVE when known
	Severity string
	Package  string
}

// Fixed lists the findings of old that new does not have (compared by ID
// and aliases, per package), sorted by severity then ID.
func Fixed(old, new *ScanReport) []FixedFinding {
	remaining := map[string]bool{}
	key := func(id, pkg string) string { return id + "\x00" + pkg }
	if new != nil {
		for _, f := range new.Findings {
			remaining[key(f.ID, f.Package.Name)] = true
			for _, a := range f.Aliases {
				remaining[key(a, f.Package.Name)] = true
			}
		}
	}
	var out []FixedFinding
	seen := map[string]bool{}
	for _, f := range old.Findings {
		still := remaining[key(f.ID, f.Package.Name)]
		for _, a := range f.Aliases {
			still = still || remaining[key(a, f.Package.Name)]
		}
		if still {
			continue
		}
		ff := FixedFinding{ID: f.DisplayID(), Severity: strings.ToUpper(f.Severity.Rating), Package: f.Package.Name}
		if ff.Severity == "" {
			ff.Severity = "UNKNOWN"
		}
		k := key(ff.ID, ff.Package)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, ff)
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := severityRank(out[i].Severity), severityRank(out[j].Severity); ri != rj {
			return ri > rj
		}
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Package < out[j].Package
	})
	return out
}

func severityRank(r string) int {
	switch r {
	case "CRITICAL":
		return 5
	case "HIGH":
		return 4
	case "MEDIUM":
		return 3
	case "LOW":
		return 2
	case "NONE":
		return 1
	}
	return 0
}
