package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/testenv"
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

// TestRealGoTestStream runs `go test -json` on testdata/needpart, where a
// test stops through testenv.NeedPart, and checks that the summary fails
// the run and names it; with the marker gone from the stream it would pass.
func TestRealGoTestStream(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		testenv.NeedPart(t, "go command", "%v", err)
	}
	cmd := exec.Command(gobin, "test", "-json", "-count=1", "./testdata/needpart")
	cmd.Env = append(os.Environ(), "CI=", testenv.RequirePartsEnv+"=")
	out, _ := cmd.Output() // exits 0: a skip is no failure to go test
	var sum strings.Builder
	s, err := summarize(strings.NewReader(string(out)), &sum)
	if err != nil {
		t.Fatal(err)
	}
	s.print(&sum)
	if s.ok() {
		t.Errorf("summary passes a run with a missing-part skip:\n%s", sum.String())
	}
	for _, want := range []string{"SKIP github.com/drydock/drydock/test/testsummary/testdata/needpart TestNeedsAPart: needs real part: kube-apiserver: DRYDOCK_K8S_BINS is not set", "1 passed, 0 failed, 2 skipped"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	if strings.Contains(sum.String(), "TestOrdinarySkip:") {
		t.Errorf("an ordinary skip is listed as a missing part:\n%s", sum.String())
	}
}
