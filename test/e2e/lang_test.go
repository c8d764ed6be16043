package e2e

// The "Language ecosystems" end-to-end test: an image that stacks a Go
// binary, an npm node_modules tree, a Python dist-info and a Spring-Boot fat
// jar on the real Debian base, scanned by the real binary from the real
// registry against the real vulnerability data. OS and application findings
// come out of one `drydock scan`.

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/mod/semver"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/test/e2e/e2eimage"
)

// Where the application layer puts each ecosystem's files.
const (
	langGoBin    = "app/bin/hello"
	langWebDir   = "app/web"
	langFatJar   = "app/lib/demo-app.jar"
	langNested   = "BOOT-INF/lib/guava-31.1-jre.jar"
	langDistInfo = "usr/local/lib/python3.11/site-packages/requests-2.19.1.dist-info"
)

// Advisories the image must produce, from the real data sets.
const (
	advXText  = "GO-2021-0113"        // golang.org/x/text < 0.3.7
	advPyReq  = "PYSEC-2018-28"       // requests < 2.20.0
	advSemver = "GHSA-c2qf-rxjj-qqgw" // npm semver >= 7.0.0 < 7.5.2
	advGuava  = "GHSA-7g45-4rm6-3mm3" // maven guava < 32.0.0-android
	advApt    = "CVE-2011-3374"       // apt, <unfixed> in every Debian release
)

// requestsMetadata is the head of requests 2.19.1's METADATA, as pip
// installs it (the fields the extractor reads, and the classifiers).
const requestsMetadata = `Metadata-Version: 2.1
Name: requests
Version: 2.19.1
Summary: Python HTTP for Humans.
Home-page: http://python-requests.org
Author: Kenneth Reitz
Author-email: me@kennethreitz.org
License: Apache 2.0
Platform: UNKNOWN
Classifier: Development Status :: 5 - Production/Stable
Classifier: Intended Audience :: Developers
Classifier: Natural Language :: English
Classifier: License :: OSI Approved :: Apache Software License
Classifier: Programming Language :: Python
Classifier: Programming Language :: Python :: 3.6
Requires-Python: >=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*
Requires-Dist: chardet (<3.1.0,>=3.0.2)
Requires-Dist: idna (<2.8,>=2.5)
Requires-Dist: urllib3 (<1.24,>=1.21.1)
Requires-Dist: certifi (>=2017.4.17)

Requests: HTTP for Humans
`

// goHello builds a real Go binary from a tiny program that requires
// golang.org/x/text v0.3.5 (fetched through the module proxy), as the
// gobinary extractor's tests do, and returns its path.
func goHello(t testing.TB) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		testenv.NeedPart(t, "go command", "it builds the test binary: %v", err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/hello\n\ngo 1.20\n\nrequire golang.org/x/text v0.3.5\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\n" +
			"func main() { fmt.Println(language.English) }\n",
	}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "hello")
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false", "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// go mod tidy here runs in the temporary module, never in the checkout.
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", bin, "."}} {
		cmd := exec.CommandContext(ctx, gobin, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			testenv.NeedPart(t, "Go module proxy", "go %s failed (is the proxy reachable?): %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin
}

// The npm tree is the npm extractor's (internal/extract/lang/npm
// install_test.go): the same package lists hash to the same cache
// directory, so both tests share one install. make-dir 3.1.0 forces a
// nested semver 6 under make-dir.
var (
	npmInstallProd = []string{"semver@7.5.1", "lodash@4.17.20", "make-dir@3.1.0", "@babel/code-frame@7.10.4"}
	npmInstallDev  = []string{"tough-cookie@4.1.2"}
)

// npmTree returns a project directory into which npm really installed
// npmInstallProd and (as dev dependencies) npmInstallDev, cached under
// ~/.cache/drydock-test.
func npmTree(t testing.TB) string {
	t.Helper()
	return testenv.NPMTree(t, npmInstallProd, npmInstallDev)
}

// npmInstalled asks npm which packages are installed where (an oracle
// independent of drydock): install path relative to the project, as the
// package.json path → name@version and whether npm calls it dev.
func npmInstalled(t testing.TB, dir string) (map[string]string, map[string]bool) {
	t.Helper()
	type node struct {
		Name         string          `json:"name"`
		Version      string          `json:"version"`
		Path         string          `json:"path"`
		Dev          bool            `json:"dev"`
		Dependencies map[string]node `json:"dependencies"`
	}
	cmd := exec.Command("npm", "ls", "--all", "--json", "--long")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("npm ls: %v\n%s", err, out)
	}
	var root node
	if err := json.Unmarshal(out, &root); err != nil {
		t.Fatalf("decode npm ls output: %v", err)
	}
	pkgs, dev := map[string]string{}, map[string]bool{}
	var walk func(n node)
	walk = func(n node) {
		for _, d := range n.Dependencies {
			if d.Path != "" && d.Version != "" {
				rel, err := filepath.Rel(dir, d.Path)
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.ToSlash(rel) + "/package.json"
				pkgs[p] = d.Name + "@" + d.Version
				dev[p] = d.Dev
			}
			walk(d)
		}
	}
	walk(root)
	return pkgs, dev
}

// fatJar returns a Spring-Boot-style executable jar holding the real guava
// jar under BOOT-INF/lib, stored uncompressed as Spring Boot requires.
func fatJar(t testing.TB, guava []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, method uint16, body []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: time.Unix(1700000000, 0).UTC()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	add("META-INF/MANIFEST.MF", zip.Deflate, []byte("Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.JarLauncher\r\n"+
		"Start-Class: com.example.demo.DemoApplication\r\nSpring-Boot-Classes: BOOT-INF/classes/\r\nSpring-Boot-Lib: BOOT-INF/lib/\r\n\r\n"))
	add("BOOT-INF/classes/com/example/demo/DemoApplication.class", zip.Deflate, []byte("\xca\xfe\xba\xbe\x00\x00\x00\x3d"))
	add("BOOT-INF/lib/", zip.Store, nil)
	add(langNested, zip.Store, guava)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// langImage holds the pushed application image and what went into it.
type langImage struct {
	ref, baseRef string
	baseDigest   v1.Hash
	ids          []v1.Hash // layer diffIDs: [0] Debian, [1] the application
	goBin        string    // host copy of the Go binary
	goVersion    string    // its standard library version, "v1.x.y"
	npmDir       string    // host npm project
}

// pushLangImage builds the Debian base plus one application layer holding
// every ecosystem's files, annotated with the base, and pushes both.
func (e *env) pushLangImage(t *testing.T) *langImage {
	t.Helper()
	li := &langImage{goBin: goHello(t), npmDir: npmTree(t)}
	bi, err := buildinfo.ReadFile(li.goBin)
	if err != nil {
		t.Fatalf("build info of the test binary: %v", err)
	}
	li.goVersion = "v" + strings.TrimPrefix(bi.GoVersion, "go")
	guava, err := os.ReadFile(testenv.Fixture(t, "java", "guava-31.1-jre.jar"))
	if err != nil {
		t.Fatal(err)
	}

	b := e2eimage.NewLayerBuilder()
	if err := b.HostFile(langGoBin, li.goBin); err != nil {
		t.Fatal(err)
	}
	if err := b.HostTree(langWebDir, li.npmDir); err != nil {
		t.Fatal(err)
	}
	b.File(langDistInfo+"/METADATA", 0o644, []byte(requestsMetadata))
	b.File(langDistInfo+"/INSTALLER", 0o644, []byte("pip\n"))
	b.File(langFatJar, 0o644, fatJar(t, guava))
	layer, err := b.Layer()
	if err != nil {
		t.Fatal(err)
	}

	var base v1.Image
	li.baseRef, base, li.baseDigest = e.pushDebian(t)
	img, err := e2eimage.OnBase(base, layer, "COPY app /app; pip install requests==2.19.1", li.baseRef, li.baseDigest)
	if err != nil {
		t.Fatal(err)
	}
	li.ref = e.registry + "/e2e/lang-app:1"
	push(t, li.ref, img)
	li.ids = diffIDs(t, img)
	if len(li.ids) != 2 {
		t.Fatalf("app image has %d layers, want 2", len(li.ids))
	}
	return li
}

// exec runs drydock with the shared binary, returning stdout, stderr and the
// error (an *exec.ExitError for a non-zero exit).
func (e *env) exec(t testing.TB, args ...string) ([]byte, []byte, error) {
	t.Helper()
	if e.bin == "" {
		e.bin = drydockOnce(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = append(os.Environ(), "DRYDOCK_CACHE_DIR=", "DRYDOCK_DATA_DIR=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("drydock %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return stdout.Bytes(), stderr.Bytes(), err
}

// debianTracker returns the Debian security tracker data set after
// checking that this drydock imports it: a probe import into a scratch data
// directory must load a Debian ecosystem. Otherwise it returns "" and the
// reason, which fails the test: the shared data always has the tracker.
func (e *env) debianTracker(t testing.TB, vulndata string) (string, string) {
	t.Helper()
	dir := filepath.Join(vulndata, "debian", "security-tracker-annotations")
	if _, err := os.Stat(dir); err != nil {
		return "", err.Error()
	}
	probe := t.TempDir()
	if _, stderr, err := e.exec(t, "db", "import", "--data-dir", probe, dir); err != nil {
		return "", fmt.Sprintf("db import %s: %v: %s", dir, err, bytes.TrimSpace(stderr))
	}
	out, stderr, err := e.exec(t, "db", "status", "--data-dir", probe)
	if err != nil {
		return "", fmt.Sprintf("db status after importing %s: %v: %s", dir, err, bytes.TrimSpace(stderr))
	}
	if !strings.Contains(string(out), "Debian") {
		return "", fmt.Sprintf("importing %s loads no Debian ecosystem; db status:\n%s", dir, out)
	}
	return dir, ""
}

// importVulnData imports the real data sets, the Debian tracker included,
// in one `db import` call (a directory replaces the whole ecosystems it
// names) and returns the data directory.
func (e *env) importVulnData(t testing.TB) string {
	t.Helper()
	vd := testenv.VulnData(t)
	sources := []string{
		filepath.Join(vd, "osv-bucket-layout", "Go", "all.zip"),
		filepath.Join(vd, "osv-bucket-layout", "PyPI", "all.zip"),
		// crates.io rates CVEs that PyPA and Go records share unrated.
		filepath.Join(vd, "osv-bucket-layout", "crates.io", "all.zip"),
		filepath.Join(vd, "ghsa-sample"),
	}
	deb, why := e.debianTracker(t, vd)
	if deb == "" {
		t.Fatalf("the Debian security tracker data cannot be imported: %s", why)
	}
	sources = append(sources, deb)
	data := t.TempDir()
	out, stderr, err := e.exec(t, append([]string{"db", "import", "--data-dir", data}, sources...)...)
	if err != nil {
		t.Fatalf("db import: %v\n%s", err, stderr)
	}
	t.Logf("db import:\n%s%s", out, stderr)
	return data
}

// osvRecord is the part of an OSV record the test evaluates itself.
type osvRecord struct {
	ID        string `json:"id"`
	Withdrawn string `json:"withdrawn"`
	Affected  []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string `json:"type"`
			Events []struct {
				Introduced   string `json:"introduced"`
				Fixed        string `json:"fixed"`
				LastAffected string `json:"last_affected"`
			} `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

// goAdvisoriesFor reads the Go OSV export and returns the ids of the
// (not withdrawn) records whose SEMVER ranges include version of module:
// the expectation is derived from the data, not hard-coded.
func goAdvisoriesFor(t *testing.T, module, version string) []string {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "Go", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	sv := func(s string) string {
		if s == "0" {
			return "v0.0.0"
		}
		return "v" + strings.TrimPrefix(s, "v")
	}
	var ids []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(`"`+module+`"`)) {
			continue
		}
		var r osvRecord
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if r.Withdrawn != "" {
			continue
		}
		hit := false
		for _, a := range r.Affected {
			if a.Package.Ecosystem != "Go" || a.Package.Name != module {
				continue
			}
			for _, rg := range a.Ranges {
				if rg.Type != "SEMVER" {
					continue
				}
				// Events in the Go data are in version order.
				in := false
				for _, ev := range rg.Events {
					switch {
					case ev.Introduced != "" && semver.Compare(version, sv(ev.Introduced)) >= 0:
						in = true
					case ev.Fixed != "" && semver.Compare(version, sv(ev.Fixed)) >= 0:
						in = false
					case ev.LastAffected != "" && semver.Compare(version, sv(ev.LastAffected)) > 0:
						in = false
					}
				}
				hit = hit || in
			}
		}
		if hit {
			ids = append(ids, r.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// scanFinding is the part of a finding the test checks.
type scanFinding struct {
	ID               string            `json:"id"`
	Aliases          []string          `json:"aliases"`
	Package          inventory.Package `json:"package"`
	Ecosystem        string            `json:"ecosystem"`
	InstalledVersion string            `json:"installedVersion"`
	FixedVersions    []string          `json:"fixedVersions"`
	Layer            string            `json:"layer"`
	FixPath          string            `json:"fixPath"`
	Severity         struct {
		Rating string `json:"rating"`
		From   string `json:"from"`
	} `json:"severity"`
	SeveritySource string `json:"severitySource"`
	Summary        string `json:"summary"`
	URL            string `json:"url"`
}

type scanDoc struct {
	Source   inventory.Source    `json:"source"`
	OS       *inventory.OS       `json:"os"`
	Findings []scanFinding       `json:"findings"`
	Problems []inventory.Problem `json:"problems"`
	DB       struct {
		Sources []string `json:"sources"`
	} `json:"db"`
}

func (f scanFinding) is(id string) bool { return f.ID == id || slices.Contains(f.Aliases, id) }

func (f scanFinding) String() string {
	return fmt.Sprintf("%s on %s %s %s (fixed %v, layer %s, fixPath %q)", f.ID, f.Package.Type, f.Package.Name, f.Package.Version, f.FixedVersions, f.Layer, f.FixPath)
}

// findingsOf returns the findings id reports on packages named name.
func findingsOf(doc *scanDoc, id, name string) []scanFinding {
	var out []scanFinding
	for _, f := range doc.Findings {
		if f.is(id) && f.Package.Name == name {
			out = append(out, f)
		}
	}
	return out
}

func trimV(s string) string { return strings.TrimPrefix(s, "v") }

// TestScanLanguageEcosystemsOnDebian: an image that stacks a Go binary, an
// npm tree, a Python dist-info and a fat jar on the real Debian base;
// `drydock scan` reports OS and application findings together.
func TestScanLanguageEcosystemsOnDebian(t *testing.T) {
	e := setup(t)
	li := e.pushLangImage(t)
	baseLayer, appLayer := li.ids[0].String(), li.ids[1].String()
	data := e.importVulnData(t)
	cache := t.TempDir()

	out, stderr, err := e.exec(t, "scan", "--format", "json", "--data-dir", data, "--cache-dir", cache, li.ref)
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, stderr)
	}
	var doc scanDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("scan --format json: %v\n%.2000s", err, out)
	}
	for _, f := range doc.Findings {
		t.Logf("finding: %s", f)
	}
	if doc.Source.BaseDigest != li.baseDigest.String() {
		t.Errorf("source.baseDigest = %q, want %s (the annotated base)", doc.Source.BaseDigest, li.baseDigest)
	}
	if doc.OS == nil || doc.OS.ID != "debian" {
		t.Errorf("os = %+v, want debian", doc.OS)
	}

	// No finding is UNKNOWN where an imported set rates one of its ids, and
	// each has a reference URL.
	vd := testenv.VulnData(t)
	rated := ratedIDs(t, filepath.Join(vd, "osv-bucket-layout", "Go", "all.zip"), filepath.Join(vd, "osv-bucket-layout", "PyPI", "all.zip"),
		filepath.Join(vd, "osv-bucket-layout", "crates.io", "all.zip"), filepath.Join(vd, "ghsa-sample"))
	nUnknown := 0
	for _, f := range doc.Findings {
		if f.URL == "" {
			t.Errorf("%s: no reference URL", f)
		}
		if f.Severity.Rating != "UNKNOWN" {
			continue
		}
		nUnknown++
		if f.SeveritySource != "none" {
			t.Errorf("%s: UNKNOWN from %q, want none", f, f.SeveritySource)
		}
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			if len(rated[id]) > 0 {
				t.Errorf("%s is UNKNOWN, but %v in the imported data rate %s", f, rated[id], id)
			}
		}
	}
	t.Logf("%d of %d findings are UNKNOWN (no imported record rates them)", nUnknown, len(doc.Findings))

	// Go: the module, and the standard library when the data has advisories
	// for the Go version the binary was built with.
	xtext := findingsOf(&doc, advXText, "golang.org/x/text")
	if len(xtext) != 1 {
		t.Errorf("%d %s findings on golang.org/x/text, want 1", len(xtext), advXText)
	} else if f := xtext[0]; trimV(f.InstalledVersion) != "0.3.5" || trimV(f.Package.Version) != "0.3.5" ||
		!slices.ContainsFunc(f.FixedVersions, func(v string) bool { return trimV(v) == "0.3.7" }) {
		t.Errorf("x/text finding: %s; want installed 0.3.5, fixed 0.3.7", f)
	}
	wantStd := goAdvisoriesFor(t, "stdlib", li.goVersion)
	t.Logf("the Go data has %d advisories for stdlib %s: %v", len(wantStd), li.goVersion, wantStd)
	var gotStd []string
	for _, f := range doc.Findings {
		if f.Package.Type == inventory.TypeGolang && f.Package.Name == "stdlib" {
			gotStd = append(gotStd, f.ID)
			if trimV(f.Package.Version) != trimV(li.goVersion) {
				t.Errorf("stdlib finding %s: version %q, want the binary's %s", f.ID, f.Package.Version, li.goVersion)
			}
		}
	}
	for _, id := range wantStd {
		if len(findingsOf(&doc, id, "stdlib")) == 0 {
			t.Errorf("no finding %s on stdlib %s (the Go data says it is affected)", id, li.goVersion)
		}
	}
	for _, id := range gotStd {
		if !slices.Contains(wantStd, id) {
			t.Errorf("stdlib finding %s: the Go data does not say %s is affected", id, li.goVersion)
		}
	}

	// Python, npm, Maven (through the nested jar).
	for _, w := range []struct{ id, name, version, path string }{
		{advPyReq, "requests", "2.19.1", langDistInfo + "/METADATA"},
		{advSemver, "semver", "7.5.1", langWebDir + "/node_modules/semver/package.json"},
		{advGuava, "guava", "31.1-jre", langFatJar}, // only inside the fat jar
	} {
		fs := findingsOf(&doc, w.id, w.name)
		if len(fs) == 0 {
			t.Errorf("no %s finding on %s %s", w.id, w.name, w.version)
			continue
		}
		for _, f := range fs {
			if f.Package.Version != w.version || !strings.HasPrefix(f.Package.Path, w.path) {
				t.Errorf("%s: want %s %s at %s", f, w.name, w.version, w.path)
			}
		}
	}

	// Every application finding comes from layer 2 and is fixed in the app;
	// every Debian finding from the base layer, fixed by the base.
	nApp, nDeb := 0, 0
	for _, f := range doc.Findings {
		if f.Package.Type == inventory.TypeDeb {
			nDeb++
			if f.FixPath != "base" || f.Layer != baseLayer {
				t.Errorf("Debian finding %s: want fixPath base, layer %s", f, baseLayer)
			}
			continue
		}
		nApp++
		if f.FixPath != "app" || f.Layer != appLayer {
			t.Errorf("app finding %s: want fixPath app, layer %s", f, appLayer)
		}
	}
	t.Logf("%d application findings, %d Debian findings", nApp, nDeb)

	// Debian: the tracker data is loaded, so apt has its unfixed finding
	// and the scan reports no problem (not even Debian packages unchecked).
	if apt := findingsOf(&doc, advApt, "apt"); len(apt) == 0 {
		t.Errorf("no %s finding on apt (unfixed in Debian 12) with the Debian tracker data loaded", advApt)
	}
	for _, p := range doc.Problems {
		t.Errorf("scan problem: %+v", p)
	}

	// Warm: the same findings from the layer cache.
	out2, stderr, err := e.exec(t, "scan", "--format", "json", "--data-dir", data, "--cache-dir", cache, li.ref)
	if err != nil {
		t.Fatalf("warm scan: %v\n%s", err, stderr)
	}
	var warm scanDoc
	if err := json.Unmarshal(out2, &warm); err != nil {
		t.Fatal(err)
	}
	key := func(fs []scanFinding) []string {
		var k []string
		for _, f := range fs {
			k = append(k, f.ID+" "+f.Package.Name+" "+f.Package.Version+" "+f.Package.Path)
		}
		sort.Strings(k)
		return k
	}
	if diff := cmp.Diff(key(doc.Findings), key(warm.Findings)); diff != "" {
		t.Errorf("warm scan findings differ (-cold +warm):\n%s", diff)
	}

	t.Run("sarif", func(t *testing.T) {
		out, stderr, err := e.exec(t, "scan", "--format", "sarif", "--data-dir", data, "--cache-dir", cache, li.ref)
		if err != nil {
			t.Fatalf("scan --format sarif: %v\n%s", err, stderr)
		}
		var s struct {
			Version string `json:"version"`
			Runs    []struct {
				Tool struct {
					Driver struct {
						Rules []struct {
							ID string `json:"id"`
						} `json:"rules"`
					} `json:"driver"`
				} `json:"tool"`
				Results []struct {
					RuleID string `json:"ruleId"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("sarif output is not JSON: %v\n%.2000s", err, out)
		}
		if s.Version != "2.1.0" || len(s.Runs) != 1 {
			t.Fatalf("sarif version %q with %d runs, want 2.1.0 with 1", s.Version, len(s.Runs))
		}
		rules, results := map[string]bool{}, map[string]bool{}
		for _, r := range s.Runs[0].Tool.Driver.Rules {
			rules[r.ID] = true
		}
		for _, r := range s.Runs[0].Results {
			results[r.RuleID] = true
		}
		// Rule ids are the findings' primary ids.
		for _, id := range []string{advXText, advPyReq, advSemver, advGuava} {
			primary := id
			for _, f := range doc.Findings {
				if f.is(id) {
					primary = f.ID
				}
			}
			if !rules[primary] || !results[primary] {
				t.Errorf("sarif: %s (finding id %s): rule %v, result %v", id, primary, rules[primary], results[primary])
			}
		}
		if len(s.Runs[0].Results) != len(doc.Findings) {
			t.Errorf("sarif: %d results, json: %d findings", len(s.Runs[0].Results), len(doc.Findings))
		}
	})

	t.Run("sbom", func(t *testing.T) { e.checkLangSBOM(t, li, cache) })
}

// checkLangSBOM checks the packages of the language image.
func (e *env) checkLangSBOM(t *testing.T, li *langImage, cache string) {
	baseLayer, appLayer := li.ids[0].String(), li.ids[1].String()
	inv := e.sbomJSON(t, cache, li.ref)
	for _, pr := range inv.Problems {
		t.Errorf("problem: %+v", pr)
	}
	byType := map[string][]inventory.Package{}
	for _, p := range inv.Packages {
		byType[p.Type] = append(byType[p.Type], p)
		if p.Type == inventory.TypeDeb {
			if p.Origin != inventory.OriginBase || p.Layer != baseLayer || p.LayerIndex != 0 {
				t.Errorf("deb %s: origin %q layer %q index %d, want base, %s, 0", p.Name, p.Origin, p.Layer, p.LayerIndex, baseLayer)
			}
			continue
		}
		if p.Origin != inventory.OriginApp || p.Layer != appLayer || p.LayerIndex != 1 {
			t.Errorf("%s %s %s at %s: origin %q layer %q index %d, want app, %s, 1", p.Type, p.Name, p.Version, p.Path, p.Origin, p.Layer, p.LayerIndex, appLayer)
		}
	}
	for typ, ps := range byType {
		t.Logf("%d %s packages", len(ps), typ)
	}
	if diff := cmp.Diff(dpkgPackages(t, e.rootfs), debPackagesOnly(inv)); diff != "" {
		t.Errorf("deb packages differ from dpkg-query on the rootfs (-dpkg +drydock):\n%s", diff)
	}

	// Go: the main module, x/text and the standard library, from the binary.
	gotGo := map[string]string{}
	for _, p := range byType[inventory.TypeGolang] {
		gotGo[p.Name] = trimV(p.Version)
		if p.Path != langGoBin {
			t.Errorf("golang %s: path %q, want %s", p.Name, p.Path, langGoBin)
		}
	}
	wantGo := map[string]string{"example.com/hello": "", "golang.org/x/text": "0.3.5", "stdlib": trimV(li.goVersion)}
	if mv, ok := gotGo["example.com/hello"]; ok && mv != "" {
		wantGo["example.com/hello"] = mv // (devel) or a pseudo-version, as the go command recorded it
	}
	if diff := cmp.Diff(wantGo, gotGo); diff != "" {
		t.Errorf("Go modules (-want +got):\n%s", diff)
	}

	// npm: exactly what npm ls says is installed, with npm's dev flags.
	wantNPM, wantDev := npmInstalled(t, li.npmDir)
	gotNPM, gotDev := map[string]string{}, map[string]bool{}
	for _, p := range byType[inventory.TypeNPM] {
		rel, ok := strings.CutPrefix(p.Path, langWebDir+"/")
		if !ok {
			t.Errorf("npm %s@%s at %s: not under %s", p.Name, p.Version, p.Path, langWebDir)
			continue
		}
		name := p.Name
		if p.Namespace != "" {
			name = p.Namespace + "/" + p.Name
		}
		gotNPM[rel] = name + "@" + p.Version
		gotDev[rel] = p.Dev
	}
	if diff := cmp.Diff(wantNPM, gotNPM); diff != "" {
		t.Errorf("npm packages differ from npm ls (-npm +drydock):\n%s", diff)
	}
	for _, n := range []string{"tough-cookie", "semver"} {
		p := "node_modules/" + n + "/package.json"
		if gotDev[p] != wantDev[p] {
			t.Errorf("npm %s: dev = %v, npm ls says %v", n, gotDev[p], wantDev[p])
		}
	}

	// Python and Maven.
	if ps := byType[inventory.TypePyPI]; len(ps) != 1 || ps[0].Name != "requests" || ps[0].Version != "2.19.1" || ps[0].Path != langDistInfo+"/METADATA" {
		t.Errorf("pypi packages = %+v, want requests 2.19.1 at %s/METADATA", ps, langDistInfo)
	}
	guava := slices.IndexFunc(byType[inventory.TypeMaven], func(p inventory.Package) bool {
		return p.Namespace == "com.google.guava" && p.Name == "guava" && p.Version == "31.1-jre"
	})
	if guava < 0 {
		t.Errorf("no maven com.google.guava:guava 31.1-jre; maven packages: %+v", byType[inventory.TypeMaven])
	} else if p := byType[inventory.TypeMaven][guava]; p.Path != langFatJar {
		// The image holds guava only as langNested inside the fat jar; the
		// package's path is the file in the image that holds it.
		t.Errorf("guava path %q, want the fat jar %s", p.Path, langFatJar)
	}
	if n := len(inv.Packages) - len(byType[inventory.TypeDeb]); n == 0 {
		t.Errorf("no application packages at all")
	}
}

// BenchmarkScanLangImage scans the language-ecosystem benchmark image (a
// large node_modules tree and fat jars on the Debian base) that
// scripts/bench-lang.sh writes as an OCI layout: cold (empty cache) and warm
// scan and sbom runs of the real binary, with its peak RSS. It skips unless
// DRYDOCK_BENCH_LANG_LAYOUT names the layout:
//
//	./scripts/bench-lang.sh
//	DRYDOCK_BENCH_LANG_LAYOUT=$PWD/.bench/lang-layout go test -run '^$' -bench ScanLangImage -benchtime 3x ./test/e2e/
func BenchmarkScanLangImage(b *testing.B) {
	lay := os.Getenv("DRYDOCK_BENCH_LANG_LAYOUT")
	if lay == "" {
		b.Skip("DRYDOCK_BENCH_LANG_LAYOUT is not set (scripts/bench-lang.sh writes the layout)")
	}
	if _, err := os.Stat(filepath.Join(lay, "index.json")); err != nil {
		b.Fatalf("DRYDOCK_BENCH_LANG_LAYOUT: %v", err)
	}
	e := &env{}
	data := e.importVulnData(b)
	bin := drydockOnce(b)
	// run runs drydock once and returns its peak RSS in bytes.
	run := func(b *testing.B, args ...string) int64 {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "DRYDOCK_CACHE_DIR=", "DRYDOCK_DATA_DIR=")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("drydock %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			return ru.Maxrss * 1024 // kilobytes on Linux
		}
		return 0
	}
	for _, cmdName := range []string{"sbom", "scan"} {
		args := func(cache string) []string {
			a := []string{cmdName, "--format", "json", "--cache-dir", cache}
			if cmdName == "scan" {
				a = append(a, "--data-dir", data)
			}
			return append(a, lay)
		}
		b.Run(cmdName+"/cold", func(b *testing.B) {
			var peak int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				cache := filepath.Join(b.TempDir(), "cache")
				b.StartTimer()
				peak = max(peak, run(b, args(cache)...))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
		b.Run(cmdName+"/warm", func(b *testing.B) {
			cache := filepath.Join(b.TempDir(), "cache")
			run(b, args(cache)...)
			b.ResetTimer()
			var peak int64
			for i := 0; i < b.N; i++ {
				peak = max(peak, run(b, args(cache)...))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
	}
}
