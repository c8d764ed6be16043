package testenv

import (
	"fmt"
	"os"
	"testing"
)

// PartMarker begins the message of every skip caused by a missing real
// part (a registry, npm, objcopy, kube-apiserver, a Debian rootfs…).
// scripts/test.sh fails the run when any skip message carries it, so a run
// that could not use a real part can never look green.
const PartMarker = "needs real part: "

// RequirePartsEnv, set to 1, turns every missing-part skip into a failure,
// as CI=true does.
const RequirePartsEnv = "DRYDOCK_REQUIRE_PARTS"

// PartsRequired reports whether a missing real part must fail the test
// rather than skip it: under CI=true or DRYDOCK_REQUIRE_PARTS=1.
func PartsRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv(RequirePartsEnv) == "1"
}

// NeedPart stops a test that cannot run because the real part named by
// part is missing: it skips with "needs real part: PART: why" (the why
// says what to install or set), or fails with the same message when
// PartsRequired.
func NeedPart(t testing.TB, part, format string, args ...any) {
	t.Helper()
	msg := PartMarker + part + ": " + fmt.Sprintf(format, args...)
	if PartsRequired() {
		t.Fatal(msg)
		return
	}
	t.Skip(msg)
}
