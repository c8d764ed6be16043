package deploy

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func report(t *testing.T, js string) *ScanReport {
	t.Helper()
	var r ScanReport
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestFixed(t *testing.T) {
	old := report(t, `{"source":{"digest":"`+dA+`"},"findings":[
		{"id":"DEBIAN-CVE-2024-1","aliases":["CVE-2024-1"],"severity":{"rating":"HIGH"},"package":{"name":"libssl3"}},
		{"id":"GHSA-xxxx","aliases":["CVE-2024-2"],"severity":{"rating":"CRITICAL"},"package":{"name":"requests"}},
		{"id":"CVE-2024-3","severity":{"rating":"low"},"package":{"name":"zlib1g"}},
		{"id":"OSV-9","package":{"name":"x"}}]}`)
	new := report(t, `{"source":{"digest":"`+dB+`"},"findings":[
		{"id":"CVE-2024-3","severity":{"rating":"LOW"},"package":{"name":"zlib1g"}}]}`)
	got := Fixed(old, new)
	want := []FixedFinding{
		{ID: "CVE-2024-2", Severity: "CRITICAL", Package: "requests"},
		{ID: "CVE-2024-1", Severity: "HIGH", Package: "libssl3"},
		{ID: "OSV-9", Severity: "UNKNOWN", Package: "x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Fixed (-want +got):\n%s", diff)
	}
	s := old.Summary()
	if diff := cmp.Diff(&FindingsSummary{Total: 4, BySeverity: map[string]int{"HIGH": 1, "CRITICAL": 1, "LOW": 1, "UNKNOWN": 1},
		IDs: []string{"CVE-2024-1", "CVE-2024-2", "CVE-2024-3", "OSV-9"}}, s); diff != "" {
		t.Errorf("Summary (-want +got):\n%s", diff)
	}
}
