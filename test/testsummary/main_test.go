package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		file       string
		wantOK     bool
		wantLast   string   // the closing line
		wantOut    []string // substrings of what is printed
		wantNotOut []string
	}{
		{"pass.json", true, "3 passed, 0 failed, 1 skipped",
			[]string{"ok   example.com/a", "(1 packages without tests)"},
			[]string{"chatty output of a passing test", "FAIL"}},
		{"fail.json", false, "1 passed, 1 failed, 0 skipped",
			[]string{"=== FAIL example.com/a TestBad", "a_test.go:9: got 1, want 2", "FAIL example.com/a"},
			[]string{"chatty output of a passing test"}},
		{"partskip.json", false, "1 passed, 0 failed, 2 skipped",
			[]string{"1 tests skipped for a missing real part", "SKIP example.com/e2e TestRegistry: needs real part: registry: DRYDOCK_E2E_REGISTRY is not set"},
			[]string{"TestShort:"}},
		{"timeout.json", false, "1 passed, 1 failed, 0 skipped",
			[]string{"=== FAIL example.com/slow TestHang (did not finish)", "panic: test timed out after 1s"}, nil},
		{"buildfail.json", false, "0 passed, 0 failed, 0 skipped",
			[]string{"=== build failed: example.com/broken", "undefined: nope", "FAIL example.com/broken"}, nil},
		{"truncated.json", false, "1 passed, 0 failed, 0 skipped",
			[]string{"???? example.com/cut"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var out strings.Builder
			s, err := summarize(f, &out)
			if err != nil {
				t.Fatal(err)
			}
			s.print(&out)
			if got := s.ok(); got != tt.wantOK {
				t.Errorf("ok() = %v, want %v", got, tt.wantOK)
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if diff := cmp.Diff(tt.wantLast, lines[len(lines)-1]); diff != "" {
				t.Errorf("closing line (-want +got):\n%s", diff)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.wantNotOut {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
		})
	}
}
