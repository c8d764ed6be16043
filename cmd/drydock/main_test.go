package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/testenv"
)

// The CLI is tested as a user runs it: a built binary, real files, exit
// codes and output.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "drydock-cli-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "drydock")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lastRSS is the peak RSS (KiB) of the last run.
var lastRSS int64

type env struct {
	cache, data string
}

func newEnv(t *testing.T) *env {
	return &env{cache: t.TempDir(), data: t.TempDir()}
}

func (e *env) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "DRYDOCK_CACHE_DIR="+e.cache, "DRYDOCK_DATA_DIR="+e.data, "DOCKER_CONFIG="+t.TempDir())
	var o, er bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &er
	err := cmd.Run()
	lastRSS = 0
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			lastRSS = int64(ru.Maxrss) // KiB on Linux
		}
	}
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return o.String(), er.String(), code
}

// demoLayout builds the README's demo image into a temp dir.
func demoLayout(t *testing.T) string {
	t.Helper()
	root := testenv.ModuleRoot(t)
	dir := filepath.Join(t.TempDir(), "layout")
	cmd := exec.Command("go", "run", "./scripts/demoimage", "scripts/demoimage/rootfs", dir)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("demoimage: %v\n%s", err, out)
	}
	return dir
}

func TestSBOMJSON(t *testing.T) {
	e := newEnv(t)
	layout := demoLayout(t)
	out, errOut, code := e.run(t, "sbom", "--format", "json", "oci:"+layout+":app")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var inv struct {
		OS       struct{ ID, VersionID string }
		Packages []struct {
			Name, Version, Type, Origin string
		}
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	var got []string
	for _, p := range inv.Packages {
		got = append(got, p.Type+" "+p.Name+" "+p.Version+" "+p.Origin)
	}
	want := []string{
		"deb base-files 12.4+deb12u5 base",
		"deb libc6 2.36-9+deb12u3 base",
		"deb libssl3 3.0.11-1~deb12u2 base",
		"pypi requests 2.19.1 app",
		"deb zlib1g 1:1.2.13.dfsg-1 base",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if inv.OS.ID != "debian" || inv.OS.VersionID != "12" {
		t.Errorf("os = %+v", inv.OS)
	}
	if strings.Contains(errOut, "layers:") {
		t.Errorf("progress drawn on a non-terminal stderr: %q", errOut)
	}
}

// `-o DEVICE` must write into the device, never replace it (as root, a
// rename over /dev/null turns it into a regular file). The device is a
// char 1,3 node made in a temp dir, so a regression cannot break the
// machine's /dev/null.
func TestSBOMOutputToDevice(t *testing.T) {
	e := newEnv(t)
	layout := demoLayout(t)
	dev := filepath.Join(t.TempDir(), "null")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		testenv.NeedPart(t, "root", "mknod of a device node: %v", err)
	}
	for _, args := range [][]string{
		{"sbom", "--format", "json", "-o", dev, "oci:" + layout + ":app"},
		{"key", "generate", "--unencrypted", "--force", "--output-key-prefix", dev},
	} {
		if args[0] == "key" {
			// key generate writes PREFIX.key and PREFIX.pub: make them devices too.
			for _, ext := range []string{".key", ".pub"} {
				if err := syscall.Mknod(dev+ext, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, errOut, code := e.run(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		for _, p := range []string{dev, dev + ".key", dev + ".pub"} {
			if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeCharDevice == 0 {
				t.Errorf("%v replaced the device %s with mode %v", args, p, fi.Mode())
			}
		}
	}
}

func TestSBOMOutputFileAndErrors(t *testing.T) {
	e := newEnv(t)
	layout := demoLayout(t)
	outFile := filepath.Join(t.TempDir(), "sbom.cdx.json")
	if _, errOut, code := e.run(t, "sbom", "--format", "cyclonedx", "--output", outFile, "oci:"+layout+":app"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(outFile)
	if err != nil || !json.Valid(b) || !bytes.Contains(b, []byte(`"bomFormat": "CycloneDX"`)) {
		t.Fatalf("cyclonedx output: %v %.200s", err, b)
	}

	missing := filepath.Join(t.TempDir(), "never-written.json")
	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"unknown format", []string{"sbom", "--format", "xml", layout}, `--format "xml": want one of cyclonedx, json, spdx, table`},
		{"missing source", []string{"sbom", "oci:" + filepath.Join(t.TempDir(), "nope")}, "open OCI layout"},
		{"unreachable registry", []string{"sbom", "--output", missing, "127.0.0.1:1/team/app:1"}, "127.0.0.1:1"},
		{"bad platform", []string{"sbom", "--platform", "linux", layout}, "platform"},
		{"platform not in image", []string{"sbom", "--platform", "linux/s390x", "oci:" + layout}, "have [linux/amd64"},
		{"several images, none named", []string{"sbom", "oci:" + layout}, "app, base"},
		{"no args", []string{"sbom"}, "accepts 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := e.run(t, tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, errOut)
			}
			if !strings.Contains(errOut, tt.wantMsg) {
				t.Errorf("stderr %q does not say %q", errOut, tt.wantMsg)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a failed run left %s behind", missing)
	}
}

func TestScanGate(t *testing.T) {
	e := newEnv(t)
	layout := demoLayout(t)
	src := "oci:" + layout + ":app"

	_, errOut, code := e.run(t, "scan", src)
	if code != 2 || !strings.Contains(errOut, "drydock db update") {
		t.Fatalf("scan without a database: exit %d, stderr %q; want 2 and advice", code, errOut)
	}

	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	if _, errOut, code := e.run(t, "db", "import", pypi); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}
	out, errOut, code := e.run(t, "db", "status")
	if code != 0 || !strings.Contains(out, "PyPI") {
		t.Fatalf("db status: exit %d: %s %s", code, out, errOut)
	}

	out, errOut, code = e.run(t, "scan", "--format", "json", "--fail-on", "unknown", src)
	if code != 1 {
		t.Fatalf("scan --fail-on unknown: exit %d, want 1; stderr %s", code, errOut)
	}
	var rep struct {
		Findings []struct {
			ID            string
			Aliases       []string
			Package       struct{ Name string }
			FixedVersions []string
			FixPath       string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("scan JSON: %v\n%.500s", err, out)
	}
	found := false
	for _, f := range rep.Findings {
		if f.ID == "PYSEC-2018-28" {
			found = true
			if f.Package.Name != "requests" || f.FixPath != "app" || len(f.FixedVersions) == 0 || f.FixedVersions[0] != "2.20.0" {
				t.Errorf("PYSEC-2018-28 finding = %+v", f)
			}
		}
	}
	if !found {
		t.Fatalf("requests 2.19.1 must have PYSEC-2018-28 (fixed 2.20.0); got %+v", rep.Findings)
	}

	// The PyPA records of requests carry no severity and no imported set
	// rates their aliases: the findings are UNKNOWN, and a HIGH gate fails
	// on them unless told to ignore them.
	_, errOut, code = e.run(t, "scan", "--format", "json", "--fail-on", "high", src)
	if code != 1 || !strings.Contains(errOut, "of UNKNOWN severity, counted by --unknown-severity=fail") {
		t.Errorf("scan --fail-on high over UNKNOWN findings: exit %d, stderr %q; want 1 and the count of UNKNOWN", code, errOut)
	}
	if _, errOut, code := e.run(t, "scan", "--format", "json", "--fail-on", "high", "--unknown-severity", "ignore", src); code != 0 {
		t.Errorf("scan --fail-on high --unknown-severity ignore: exit %d, want 0: %s", code, errOut)
	}
	if _, errOut, code := e.run(t, "scan", "--format", "json", "--fail-on", "high", "--unknown-severity", "high", src); code != 1 {
		t.Errorf("scan --fail-on high --unknown-severity high: exit %d, want 1: %s", code, errOut)
	}
	out, errOut, code = e.run(t, "scan", "--fail-on", "high", "--unknown-severity", "pass", src)
	if code != 2 || out != "" || !strings.Contains(errOut, `--unknown-severity "pass": want one of fail, ignore`) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("bad --unknown-severity: exit %d, stdout %q, stderr %q; want 2, nothing on stdout, one line", code, out, errOut)
	}

	// --severity narrows what is shown, never what the gate judges.
	out, _, code = e.run(t, "scan", "--format", "json", "--severity", "critical", "--fail-on", "unknown", src)
	if code != 1 || strings.Contains(out, "PYSEC-2018-28") || !json.Valid([]byte(out)) {
		t.Errorf("--severity critical --fail-on unknown: exit %d (want 1), UNKNOWN findings shown: %v", code, strings.Contains(out, "PYSEC-2018-28"))
	}
	// A scan configuration file for CI; the command line wins over it.
	cfgFile := filepath.Join(t.TempDir(), "scan.yaml")
	os.WriteFile(cfgFile, []byte("fail-on: high\nunknown-severity: ignore\nformat: json\nseverity: [critical, high, medium, low, unknown]\n"), 0o644)
	if out, errOut, code := e.run(t, "scan", "--scan-config", cfgFile, src); code != 0 || !json.Valid([]byte(out)) {
		t.Errorf("scan --scan-config (fail-on high, unknown ignored): exit %d, want 0: %s", code, errOut)
	}
	if _, _, code := e.run(t, "scan", "--scan-config", cfgFile, "--unknown-severity", "fail", src); code != 1 {
		t.Errorf("scan --scan-config with --unknown-severity fail on the command line: exit %d, want 1", code)
	}

	// Ignore every requests finding: the gate passes and says why.
	ig := filepath.Join(t.TempDir(), "ignore.yaml")
	os.WriteFile(ig, []byte("ignore:\n  - package: requests\n    reason: test waiver\n  - id: CVE-0000-0001\n    reason: lapsed\n    expires: 2020-01-01\n"), 0o644)
	out, errOut, code = e.run(t, "scan", "--format", "json", "--fail-on", "unknown", "--ignore-file", ig, src)
	if code != 0 {
		t.Fatalf("scan with the waiver: exit %d, want 0; stderr %s", code, errOut)
	}
	if !strings.Contains(errOut, "expired") {
		t.Errorf("expired ignore entry not reported on stderr: %q", errOut)
	}
	if _, errOut, code := e.run(t, "scan", "-q", "--format", "json", "--fail-on", "unknown", "--ignore-file", ig, src); code != 0 || errOut != "" {
		t.Errorf("scan -q: exit %d, stderr %q; want 0 and nothing on stderr", code, errOut)
	}
	if !strings.Contains(out, "test waiver") {
		t.Errorf("suppressed findings and their reason missing from the report")
	}

	// A saved inventory is re-matched without the image.
	inv := filepath.Join(t.TempDir(), "inv.json")
	if _, errOut, code := e.run(t, "sbom", "--format", "json", "--output", inv, src); code != 0 {
		t.Fatalf("sbom: %s", errOut)
	}
	if _, errOut, code := e.run(t, "scan", "--inventory", "--fail-on", "unknown", inv); code != 1 {
		t.Errorf("scan --inventory: exit %d, want 1: %s", code, errOut)
	}

	// An SBOM written by drydock (or another tool) is scanned as it is:
	// CycloneDX and SPDX give the same findings as the image.
	ids := func(out string) []string {
		var r struct{ Findings []struct{ ID string } }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("scan JSON: %v\n%.300s", err, out)
		}
		var s []string
		for _, f := range r.Findings {
			s = append(s, f.ID)
		}
		return s
	}
	direct, _, _ := e.run(t, "scan", "--format", "json", src)
	for _, format := range []string{"cyclonedx", "spdx", "json"} {
		sbom := filepath.Join(t.TempDir(), "app."+format+".json")
		if _, errOut, code := e.run(t, "sbom", "--format", format, "--output", sbom, src); code != 0 {
			t.Fatalf("sbom --format %s: %s", format, errOut)
		}
		out, errOut, code := e.run(t, "scan", "--format", "json", sbom)
		if code != 0 {
			t.Errorf("scan %s SBOM: exit %d: %s", format, code, errOut)
			continue
		}
		if diff := cmp.Diff(ids(direct), ids(out)); diff != "" || len(ids(out)) == 0 {
			t.Errorf("scan of the %s SBOM: findings differ from the image's (-image +sbom):\n%s", format, diff)
		}
	}
	notSBOM := filepath.Join(t.TempDir(), "inv.json")
	os.WriteFile(notSBOM, []byte(`{"hello": "world"}`), 0o644)
	if out, errOut, code := e.run(t, "scan", notSBOM); code != 2 || out != "" || !strings.Contains(errOut, "not a drydock inventory, CycloneDX or SPDX JSON document") {
		t.Errorf("scan of other JSON: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// SARIF is valid JSON with results.
	out, _, code = e.run(t, "scan", "--format", "sarif", src)
	if code != 0 || !json.Valid([]byte(out)) || !strings.Contains(out, "PYSEC-2018-28") {
		t.Errorf("sarif: exit %d, %.300s", code, out)
	}
}

func TestScanCorruptDatabase(t *testing.T) {
	e := newEnv(t)
	os.WriteFile(filepath.Join(e.data, "vulndb.sqlite"), bytes.Repeat([]byte("not a database "), 1000), 0o644)
	_, errOut, code := e.run(t, "scan", "--format", "json", demoLayout(t))
	if code != 2 || !strings.Contains(errOut, "--fresh") {
		t.Errorf("corrupt db: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = e.run(t, "db", "status")
	if code != 2 || !strings.Contains(errOut, "corrupt") {
		t.Errorf("db status on a corrupt db: exit %d, stderr %q", code, errOut)
	}
}

// On a terminal, sbom draws progress on stderr and defaults to the table.
// script(1) gives the binary a real pseudo-terminal.
func TestSBOMOnTerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		testenv.NeedPart(t, "script(1)", "it gives the binary a pseudo-terminal (apt-get install bsdutils)")
	}
	e := newEnv(t)
	layout := demoLayout(t)
	cmd := exec.Command("script", "-qec", binary+" sbom oci:"+layout+":app", "/dev/null")
	cmd.Env = append(os.Environ(), "DRYDOCK_CACHE_DIR="+e.cache, "DRYDOCK_DATA_DIR="+e.data, "TERM=dumb")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sbom on a terminal: %v\n%s", err, out)
	}
	for _, want := range []string{"layers: 2/2 analysed", "NAME", "requests", "5 packages"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
}
