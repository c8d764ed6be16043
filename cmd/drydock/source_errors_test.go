package main

import (
	"strings"
	"testing"
)

// TestLocalPathErrors runs the binary as a user would on sources that can
// only be local paths and do not exist: a one-line file error naming the
// path, exit 2, nothing on stdout, and no registry lookup.
func TestLocalPathErrors(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"sbom", "./layuot"},
		{"sbom", "inv.json"},
		{"sbom", "myapp.tar"},
		{"sbom", "/nonexistent/image.tar.gz"},
	} {
		out, errOut, code := e.run(t, args...)
		line := strings.TrimSpace(errOut)
		if code != 2 || out != "" || strings.Contains(line, "\n") || !strings.Contains(line, args[1]) ||
			!strings.Contains(line, "does not exist") || strings.Contains(line, "v2/") || strings.Contains(line, "docker.io") {
			t.Errorf("drydock %s: exit %d, stdout %q, stderr %q; want 2, nothing, one line saying the file does not exist", strings.Join(args, " "), code, out, errOut)
		}
	}
}
