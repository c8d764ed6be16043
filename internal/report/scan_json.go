package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
)

// ScanSchemaVersion is the version of the native JSON scan document. It
// changes only when a field changes meaning or goes away; new fields do not
// change it.
const ScanSchemaVersion = 1

// scanDocument is the native JSON scan format. Lists are never null and the
// summary always holds every rating, so that scripts (jq, CI gates) need no
// special cases for a clean image.
type scanDocument struct {
	SchemaVersion  int                 `json:"schemaVersion"`
	Tool           string              `json:"tool"`
	Generated      time.Time           `json:"generated"`
	Source         inventory.Source    `json:"source"`
	OS             *inventory.OS       `json:"os,omitempty"`
	Findings       []finding.Finding   `json:"findings"`
	Suppressed     []Suppressed        `json:"suppressed"`
	ExpiredIgnores []ExpiredIgnore     `json:"expiredIgnores"`
	DB             scanDocumentDB      `json:"db"`
	Problems       []inventory.Problem `json:"problems"`
	Summary        scanSummary         `json:"summary"`
}

// scanDocumentDB is DBInfo for JSON: the age in whole seconds, since
// time.Duration would encode as nanoseconds, and the time omitted when
// unknown rather than written as year 1.
type scanDocumentDB struct {
	Path       string     `json:"path,omitempty"`
	UpdatedAt  *time.Time `json:"updatedAt,omitempty"`
	Sources    []string   `json:"sources"`
	AgeSeconds int64      `json:"ageSeconds"`
	Stale      bool       `json:"stale"`
}

type scanJSONFormatter struct{ opts Options }

func (f scanJSONFormatter) Format(w io.Writer, r *ScanReport) error {
	inv := scanInventory(r)
	findings := sortedFindings(r.Findings)
	doc := scanDocument{
		SchemaVersion:  ScanSchemaVersion,
		Tool:           f.opts.toolName() + " " + f.opts.toolVersion(),
		Generated:      f.opts.now(),
		Source:         inv.Source,
		OS:             inv.OS,
		Findings:       nonNil(findings),
		Suppressed:     nonNil(r.Suppressed),
		ExpiredIgnores: nonNil(r.Expired),
		DB: scanDocumentDB{
			Path:       r.DB.Path,
			Sources:    nonNil(r.DB.Sources),
			AgeSeconds: int64(r.DB.Age / time.Second),
			Stale:      r.DB.Stale,
		},
		Problems: nonNil(r.Problems),
		Summary:  summarize(findings),
	}
	if !r.DB.UpdatedAt.IsZero() {
		t := r.DB.UpdatedAt.UTC()
		doc.DB.UpdatedAt = &t
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("report: write json scan report: %w", err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
