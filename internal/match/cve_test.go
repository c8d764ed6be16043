package match

import (
	"regexp"
	"testing"
)

// cveRegexp is the pattern cveOf implements by hand.
var cveRegexp = regexp.MustCompile(`(?:^|-)(CVE-\d{4}-\d{4,})$`)

func cveOfRegexp(id string) string {
	if m := cveRegexp.FindStringSubmatch(id); m != nil {
		return m[1]
	}
	return ""
}

func TestCveOfMatchesRegexp(t *testing.T) {
	for _, id := range []string{
		"", "CVE-2024-1234", "CVE-2024-123", "CVE-2024-12345678", "DEBIAN-CVE-2024-1234", "UBUNTU-CVE-2024-6387",
		"XCVE-2024-1234", "-CVE-2024-1234", "CVE-2024-1234-", "CVE-24-1234", "CVE-20245-1234", "cve-2024-1234",
		"GHSA-xxxx-yyyy-zzzz", "ALSA-2024:1234", "CVE-2024-12a4", "CVE-ABCD-1234", "A-B-CVE-2024-00001",
		"CVE-2024-1234-CVE-2024-5678", "CVE-CVE-2024-1234", "PYSEC-2024-12", "--CVE-1999-0001", "CVE-2024-１２３４",
	} {
		if got, want := cveOf(id), cveOfRegexp(id); got != want {
			t.Errorf("cveOf(%q) = %q, regexp gives %q", id, got, want)
		}
	}
}

func FuzzCveOf(f *testing.F) {
	f.Add("DEBIAN-CVE-2024-1234")
	f.Add("CVE-2024-123456")
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := cveOf(id), cveOfRegexp(id); got != want {
			t.Fatalf("cveOf(%q) = %q, regexp gives %q", id, got, want)
		}
	})
}
