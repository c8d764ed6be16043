package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad server configuration: one line naming what to fix, exit 2, nothing
// started.
func TestServerBadInput(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown field", []string{"server", "--config", write("a.yaml", "server:\n  colour: red\n")}, "colour"},
		{"glob without catalog", []string{"server", "--config", write("b.yaml", "server:\n  registries:\n    - registry: r.example\n      repositories: [\"team/*\"]\n")}, "needs catalog: true"},
		{"open reads beyond loopback", []string{"server", "--config", write("c.yaml", "server:\n  crawlInterval: 0s\n"), "--listen", "0.0.0.0:0"}, "tokenEnv"},
		{"empty token variable", []string{"server", "--config", write("d.yaml", "server:\n  tokenEnv: DRYDOCK_TEST_UNSET_TOKEN\n")}, "DRYDOCK_TEST_UNSET_TOKEN"},
		{"not a PostgreSQL URL", []string{"server", "--config", write("e.yaml", "server:\n  crawlInterval: 0s\n"), "--database", "mysql://x"}, "store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := e.run(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "panic") {
				t.Errorf("exit %d, stderr %q; want 2 naming %q", code, errOut, tc.want)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 1 {
				t.Errorf("%d lines of error output, want one:\n%s", n+1, errOut)
			}
		})
	}
}
