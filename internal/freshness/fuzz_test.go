package freshness

import (
	"errors"
	"testing"
)

// FuzzParseConfig feeds the watch configuration file (drydock watch
// --config): it must load or fail with ErrConfig, never panic.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(chainYAML))
	f.Add([]byte("watch:\n  pollInterval: -1s\n"))
	f.Add([]byte("images:\n- name: a\n  image: x\n  rebuild: {kind: nope}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error does not wrap ErrConfig: %v", err)
			}
			return
		}
		if c.Watch.PollInterval == nil {
			t.Fatalf("accepted config without defaults filled in")
		}
	})
}
