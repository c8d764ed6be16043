package suppress

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTrivyIgnore(t *testing.T) {
	doc := "# Trivy format, as users migrate it\n" +
		"\n" +
		"# no fix upstream; tracked in OPS-12\n" +
		"CVE-2018-14618\n" +
		"CVE-2019-1549 exp:2030-01-31\n" +
		"\n" +
		"GHSA-j8r2-6x86-q33q # inline comment\n" +
		"ALSA-2024:2132\n"
	ig, err := ParseIgnoreFile([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	type brief struct {
		ID, Reason string
		Line       int
		Expires    time.Time
	}
	var got []brief
	for _, e := range ig.Entries {
		got = append(got, brief{e.ID, e.Reason, e.Line, e.Expires})
	}
	want := []brief{
		{"CVE-2018-14618", "no fix upstream; tracked in OPS-12", 4, time.Time{}},
		{"CVE-2019-1549", "listed in a .trivyignore file", 5, time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"GHSA-j8r2-6x86-q33q", "listed in a .trivyignore file", 7, time.Time{}},
		{"ALSA-2024:2132", "listed in a .trivyignore file", 8, time.Time{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	// drydock's own YAML is not taken for Trivy's.
	for _, y := range []string{"ignore:\n  - id: CVE-1\n    reason: r\n", "ignore: []\n"} {
		if isTrivyIgnore([]byte(y)) {
			t.Errorf("%q taken for a .trivyignore", y)
		}
	}
	if _, err := ParseIgnoreFile([]byte("CVE-2019-1549 exp:tomorrow\n")); err == nil {
		t.Error("bad exp: accepted")
	}
}
