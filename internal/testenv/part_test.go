package testenv

import (
	"strings"
	"testing"
)

// recorder captures how NeedPart stops a test without stopping this one.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = args[0].(string) }
func (r *recorder) Fatal(args ...any) { r.failed = args[0].(string) }

func TestNeedPart(t *testing.T) {
	const want = "needs real part: objcopy: install binutils"
	tests := []struct {
		name, ci, require string
		wantSkip          bool
	}{
		{"skips on a developer machine", "", "", true},
		{"fails under CI=true", "true", "", false},
		{"fails under DRYDOCK_REQUIRE_PARTS=1", "", "1", false},
		{"CI=false still skips", "false", "0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			t.Setenv(RequirePartsEnv, tt.require)
			r := &recorder{TB: t}
			NeedPart(r, "objcopy", "install %s", "binutils")
			got, other := r.failed, r.skipped
			if tt.wantSkip {
				got, other = r.skipped, r.failed
			}
			if got != want || other != "" {
				t.Errorf("skipped %q, failed %q; want only the %s with %q", r.skipped, r.failed, map[bool]string{true: "skip", false: "failure"}[tt.wantSkip], want)
			}
			if !strings.HasPrefix(got, PartMarker) {
				t.Errorf("message %q lacks the marker %q scripts/test.sh looks for", got, PartMarker)
			}
		})
	}
}
