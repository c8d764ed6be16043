// Package needpart is run by testsummary's own test with real `go test
// -json`: one test passes, one skips for an ordinary reason, one stops
// through testenv.NeedPart.
package needpart

import (
	"testing"

	"github.com/drydock/drydock/internal/testenv"
)

func TestPasses(t *testing.T) {}

func TestOrdinarySkip(t *testing.T) { t.Skip("large input") }

func TestNeedsAPart(t *testing.T) {
	testenv.NeedPart(t, "kube-apiserver", "DRYDOCK_K8S_BINS is not set")
}
