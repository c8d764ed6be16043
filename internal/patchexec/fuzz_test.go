package patchexec

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
)

// The parsers read the output of programs that run inside an untrusted
// image (apt, dpkg-query): whatever they print must give a result or an
// error, never a panic. A panic fails the fuzz target as it is.
func FuzzParseSimulation(f *testing.F) {
	f.Add(simulation)
	f.Add("Inst x\nInst y [1]\nRemv z\nInst a [1] (2 r [amd64]) [b:amd64 ]\n")
	f.Fuzz(func(t *testing.T, s string) {
		ups, err := parseSimulation(s)
		if err == nil {
			for _, u := range ups {
				if u.Package == "" || u.To == "" {
					t.Fatalf("upgrade without a name or version from %q: %+v", s, u)
				}
			}
		}
	})
}

func FuzzParseDpkgQuery(f *testing.F) {
	f.Add("zlib1g\tamd64\t1:1.2.13.dfsg-1\tzlib\t1:1.2.13.dfsg-1\tii \n")
	f.Add("\t\t\t\t\t\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseDpkgQuery(s)
		if err == nil && len(m) > strings.Count(s, "\n")+1 {
			t.Fatalf("%d packages from %d lines", len(m), strings.Count(s, "\n")+1)
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add("zlib1g:\n  Installed: (none)\n  Candidate: 1:1.2.13\n")
	f.Add("a:b:c:\n  Candidate:\n")
	f.Fuzz(func(t *testing.T, s string) { _ = parsePolicy(s) })
}

// FuzzFilterLayer: any tar stream is filtered without a panic, and what is
// kept is never a transient path.
func FuzzFilterLayer(f *testing.F) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range []string{"var/lib/dpkg/status", "var/log/apt/history.log", "../../etc/passwd", "var/lib/apt/lists/.wh..wh..opq"} {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
		tw.Write([]byte("x"))
	}
	tw.Close()
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		kept, err := filterLayer(bytes.NewReader(data), io.Discard)
		if err != nil {
			return
		}
		for _, k := range kept {
			if isTransient(k) {
				t.Fatalf("kept transient %q", k)
			}
		}
	})
}
