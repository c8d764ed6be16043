package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIErrorMessages runs the binary as a user would on the mistakes
// issue 11 lists: each is one line on stderr naming what to fix, exit 2,
// and nothing on stdout.
func TestCLIErrorMessages(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	if _, errOut, code := e.run(t, "key", "generate", "--unencrypted", "--output-key-prefix", filepath.Join(dir, "ci")); code != 0 {
		t.Fatalf("key generate: %s", errOut)
	}
	cfg := filepath.Join(dir, "drydock.yaml")
	os.WriteFile(cfg, []byte("watch:\n  pollintervall: 5m\nimages:\n  - name: app\n    image: r.example/app:1\n    base: r.example/base:1\n"), 0o644)
	notList := filepath.Join(dir, "list.yaml")
	os.WriteFile(notList, []byte("- a\n- b\n"), 0o644)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: x}\n"), 0o600)

	tests := []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{"public key to attest", []string{"attest", "--key", filepath.Join(dir, "ci.pub"), "--policy-result", "pass", "oci:" + dir + ":x"},
			[]string{"--key: ci.pub is a public key; signing needs the private key (ci.key)"}, []string{"PEM", "malformed"}},
		{"misspelt config field", []string{"watch", "--config", cfg},
			[]string{cfg, "line 2: watch.pollintervall: unknown field (did you mean pollInterval?)"}, []string{"json:", "unmarshal"}},
		{"config of the wrong shape", []string{"watch", "--config", notList},
			[]string{notList, "got a list, want a mapping"}, []string{"Go value", "freshness."}},
		{"runtime without a cluster", []string{"runtime", "-f", "json", "--kubeconfig", filepath.Join(dir, "missing")},
			[]string{"missing"}, []string{"KUBERNETES_MASTER"}},
		{"runtime, unreachable API server", []string{"runtime", "-f", "json", "--kubeconfig", kubeconfig},
			[]string{"127.0.0.1:1"}, nil},
		{"bad enumerated flag", []string{"scan", "--unknown-severity", "maybe", "x"},
			[]string{`--unknown-severity "maybe": want one of`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := e.run(t, tt.args...)
			line := strings.TrimSpace(errOut)
			if code != 2 || out != "" || strings.Contains(line, "\n") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing on stdout, one line", code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("stderr %q does not say %q", line, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(line, n) {
					t.Errorf("stderr %q leaks %q", line, n)
				}
			}
		})
	}
}
