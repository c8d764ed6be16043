package suppress

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var ignoreEntry = cmpopts.IgnoreUnexported(Entry{})

func TestLoadIgnoreFileExample(t *testing.T) {
	ig, err := LoadIgnoreFile("testdata/drydock-ignore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &IgnoreFile{
		Path: "testdata/drydock-ignore.yaml",
		Entries: []Entry{
			{Index: 0, Line: 6, ID: "CVE-2023-4911", Reason: "not reachable: no setuid binaries in this image",
				Expires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
			{Index: 1, Line: 11, Package: "pkg:npm/lodash@*", Reason: "build-time dependency only, not shipped in the runtime stage"},
			{Index: 2, Line: 15, Package: "openssl*", Reason: "TLS is terminated by the mesh sidecar",
				Expires: time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)},
			{Index: 3, Line: 20, ID: "GHSA-xxxx-xxxx-xxxx", Package: "golang.org/x/text", Reason: "the affected function is not called"},
		},
	}
	if diff := cmp.Diff(want, ig, ignoreEntry); diff != "" {
		t.Errorf("LoadIgnoreFile mismatch (-want +got):\n%s", diff)
	}
	for _, e := range ig.Entries {
		if e.Package != "" && e.glob == nil {
			t.Errorf("entry %d: package glob not compiled", e.Index)
		}
	}
}

func TestParseIgnoreFileEmpty(t *testing.T) {
	for _, in := range []string{"", "# nothing yet\n", "ignore: []\n", "ignore:\n"} {
		ig, err := ParseIgnoreFile([]byte(in))
		if err != nil {
			t.Errorf("ParseIgnoreFile(%q): %v", in, err)
			continue
		}
		if len(ig.Entries) != 0 {
			t.Errorf("ParseIgnoreFile(%q) = %d entries, want 0", in, len(ig.Entries))
		}
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		expires string
		now     time.Time
		want    bool
	}{
		{"2026-12-31", time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), false}, // the day itself still applies
		{"2026-12-31", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-12-31", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"2026-06-30T12:00:00Z", time.Date(2026, 6, 30, 11, 59, 0, 0, time.UTC), false},
		{"2026-06-30T12:00:00Z", time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC), true},
		{"2026-06-30T12:00:00+02:00", time.Date(2026, 6, 30, 10, 30, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		ig, err := ParseIgnoreFile([]byte("ignore:\n  - id: CVE-1\n    reason: r\n    expires: " + tt.expires + "\n"))
		if err != nil {
			t.Fatalf("expires %s: %v", tt.expires, err)
		}
		if got := ig.Entries[0].Expired(tt.now); got != tt.want {
			t.Errorf("expires %s at %s: Expired = %v, want %v", tt.expires, tt.now, got, tt.want)
		}
	}
	var never Entry
	if never.Expired(time.Now()) {
		t.Error("an entry without expiry expired")
	}
}

func TestParseIgnoreFileErrors(t *testing.T) {
	tests := []struct {
		name, in string
		// want are substrings of the message: the entry and line, and the
		// cause.
		want []string
	}{
		{"unknown field", "ignore:\n  - id: CVE-1\n    reason: ok\n  - id: CVE-2\n    reson: typo\n",
			[]string{"entry 1 (line 4)", `unknown field "reson"`}},
		{"unknown top-level key", "ignores:\n  - id: CVE-1\n    reason: r\n", []string{`unknown field "ignores"`}},
		{"no reason", "ignore:\n  - id: CVE-1\n", []string{"entry 0 (line 2)", "reason is required"}},
		{"blank reason", "ignore:\n  - id: CVE-1\n    reason: '  '\n", []string{"entry 0 (line 2)", "reason is required"}},
		{"neither id nor package", "ignore:\n  - reason: r\n", []string{"entry 0 (line 2)", "needs an id or a package"}},
		{"bad date", "ignore:\n  - id: CVE-1\n    reason: r\n    expires: 31/12/2026\n", []string{"entry 0 (line 2)", "expires", "31/12/2026"}},
		{"bad glob", "ignore:\n  - package: 'openssl['\n    reason: r\n", []string{"entry 0 (line 2)", "bad glob", "unclosed ["}},
		{"duplicate key", "ignore:\n  - id: CVE-1\n    id: CVE-2\n    reason: r\n", []string{"line 3", `"id" already defined`}},
		{"not a list", "ignore: CVE-1\n", []string{"ignore"}},
		{"entry not a map", "ignore:\n  - CVE-1\n", []string{"entry 0 (line 2)"}},
		{"id not a string", "ignore:\n  - id: [a]\n    reason: r\n", []string{"entry 0 (line 2)"}},
		{"yaml syntax", "ignore:\n  - id: \"CVE-1\n", []string{"line"}},
		{"top-level list", "- id: CVE-1\n", []string{"invalid ignore file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIgnoreFile([]byte(tt.in))
			if !errors.Is(err, ErrInvalidIgnoreFile) {
				t.Fatalf("error = %v, want ErrInvalidIgnoreFile", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadIgnoreFileMalformed(t *testing.T) {
	tests := []struct{ file, want string }{
		{"testdata/malformed-unknown-field.yaml", "testdata/malformed-unknown-field.yaml: invalid ignore file: entry 1 (line 4)"},
		{"testdata/malformed-no-reason.yaml", "entry 0 (line 2): reason is required"},
		{"testdata/malformed-date.yaml", "entry 0 (line 2): expires"},
		{"testdata/malformed-glob.yaml", "entry 0 (line 2): package: bad glob"},
	}
	for _, tt := range tests {
		_, err := LoadIgnoreFile(tt.file)
		if !errors.Is(err, ErrInvalidIgnoreFile) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadIgnoreFile(%s) error = %v, want ErrInvalidIgnoreFile containing %q", tt.file, err, tt.want)
		}
	}
	_, err := LoadIgnoreFile("testdata/does-not-exist.yaml")
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalidIgnoreFile) {
		t.Errorf("missing file: error = %v, want fs.ErrNotExist only", err)
	}
}
