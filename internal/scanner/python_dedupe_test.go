package scanner

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
)

// TestScanPythonDistAndEggInfoOnce lays out what Debian's
// python3-cryptography installs: a .dist-info directory and an .egg-info
// describing the same installation. The SBOM must list it once; the same
// distribution in another site directory is another installation.
func TestScanPythonDistAndEggInfoOnce(t *testing.T) {
	root := t.TempDir()
	write := func(p, body string) {
		t.Helper()
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meta := "Metadata-Version: 2.1\nName: cryptography\nVersion: 38.0.4\nLicense: Apache-2.0 OR BSD-3-Clause\n"
	write("etc/os-release", osRelease)
	write("usr/lib/python3/dist-packages/cryptography-38.0.4.dist-info/METADATA", meta)
	write("usr/lib/python3/dist-packages/cryptography-38.0.4.egg-info/PKG-INFO", "Metadata-Version: 2.1\nName: Cryptography\nVersion: 38.0.4\n")
	write("opt/venv/lib/python3.11/site-packages/cryptography-38.0.4.dist-info/METADATA", meta)
	img, err := image.Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Scan(context.Background(), img, WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range inv.Packages {
		if p.Type == inventory.TypePyPI {
			got = append(got, p.Name+" "+p.Version+" "+p.Path)
		}
	}
	want := []string{
		"cryptography 38.0.4 opt/venv/lib/python3.11/site-packages/cryptography-38.0.4.dist-info/METADATA",
		"cryptography 38.0.4 usr/lib/python3/dist-packages/cryptography-38.0.4.dist-info/METADATA",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("python packages (-want +got):\n%s", diff)
	}
}

func TestOnePerPythonInstall(t *testing.T) {
	py := func(name, version, p string, lic ...string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: inventory.TypePyPI, Path: p, Licenses: lic}
	}
	in := []inventory.Package{
		py("PyYAML", "6.0", "site/PyYAML-6.0.egg-info", "MIT"),
		py("pyyaml", "6.0", "site/PyYAML-6.0.dist-info/METADATA"),
		py("zope.interface", "5.5", "site/zope.interface-5.5.egg-info/PKG-INFO"),
		py("zope_interface", "5.5", "site/zope_interface-5.5.dist-info/METADATA"),
		py("six", "1.16.0", "site/six-1.16.0.dist-info/METADATA"),
		py("six", "1.15.0", "site/six-1.15.0.egg-info"),
		{Name: "six", Version: "1.16.0", Type: inventory.TypeDeb, Path: "var/lib/dpkg/status"},
	}
	var got []string
	for _, p := range onePerPythonInstall(in) {
		got = append(got, p.Name+" "+p.Version+" "+p.Path+" "+fmtLic(p.Licenses))
	}
	want := []string{
		"pyyaml 6.0 site/PyYAML-6.0.dist-info/METADATA [MIT]",
		"zope_interface 5.5 site/zope_interface-5.5.dist-info/METADATA []",
		"six 1.16.0 site/six-1.16.0.dist-info/METADATA []",
		"six 1.15.0 site/six-1.15.0.egg-info []",
		"six 1.16.0 var/lib/dpkg/status []",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func fmtLic(l []string) string {
	s := "["
	for i, x := range l {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s + "]"
}
