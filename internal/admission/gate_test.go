package admission

import (
	"errors"
	"strings"
	"testing"
)

// TestGateFailsClosed: while the gate reports a missing part (the
// webhook's vulnerability database), every image is denied with its
// reason, a verified image included and failure policy ignore too; warn
// mode admits with the reason as a warning; once the gate passes, the
// verdict decides again.
func TestGateFailsClosed(t *testing.T) {
	var gateErr error = errors.New("no verified vulnerability database from oci://reg.test/vulndb:latest installed yet")
	for _, tc := range []struct {
		name     string
		mode     Mode
		failOpen bool
		gate     error
		allow    bool
		want     string
	}{
		{"missing, enforce", ModeEnforce, false, gateErr, false, "no verified vulnerability database"},
		{"missing, failure policy ignore", ModeEnforce, true, gateErr, false, "no verified vulnerability database"},
		{"missing, warn", ModeWarn, false, gateErr, true, "drydock would deny image"},
		{"installed", ModeEnforce, false, nil, true, ""},
	} {
		s, _, _ := newTestServer(t, func(c *Config) {
			c.Mode, c.FailOpen = tc.mode, tc.failOpen
			c.Gate = func() error { return tc.gate }
		})
		resp := admit(t, s, reviewOf("default", "Pod", podJSON("p", nil, "registry.test/app:good")))
		text := strings.Join(resp.Warnings, "\n")
		if resp.Result != nil {
			text += resp.Result.Message
		}
		if resp.Allowed != tc.allow || !strings.Contains(text, tc.want) {
			t.Errorf("%s: allowed %v, text %q; want %v with %q", tc.name, resp.Allowed, text, tc.allow, tc.want)
		}
	}
}
