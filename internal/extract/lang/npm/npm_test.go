package npm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/testenv"
)

func input(p string, b []byte) *extract.Input {
	return &extract.Input{Path: p, Reader: bytes.NewReader(b), Size: int64(len(b))}
}

func pkg(full, version string) inventory.Package {
	p, ok := newPackage(full, version)
	if !ok {
		panic("bad test package " + full)
	}
	return p
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"node_modules/lodash/package.json", true},
		{"app/node_modules/lodash/package.json", true},
		{"usr/lib/node_modules/npm/package.json", true},
		{"app/node_modules/@babel/core/package.json", true},
		{"app/node_modules/a/node_modules/b/package.json", true},
		{"app/node_modules/a/node_modules/@s/b/package.json", true},
		{"app/node_modules/.pnpm/lodash@4.17.20/node_modules/lodash/package.json", true},
		{"app/node_modules/lodash/lib/package.json", false},
		{"app/node_modules/@babel/package.json", false},
		{"app/node_modules/@babel/core/lib/package.json", false},
		{"app/node_modules/.bin/package.json", false},
		{"app/node_modules/node_modules/package.json", false},
		{"app/node_modules/package.json", false},
		{"app/package.json", false},
		{"package.json", false},
		{"app/@s/b/package.json", false},
		{"app/package-lock.json", true},
		{"package-lock.json", true},
		{"app/npm-shrinkwrap.json", true},
		{"app/yarn.lock", true},
		{"app/pnpm-lock.yaml", true},
		{"app/node_modules/.package-lock.json", false},
		{"app/node_modules/x/package-lock.json", false},
		{"node_modules/x/yarn.lock", false},
		{"app/node_modules/x/sub/pnpm-lock.yaml", false},
		{"app/package-lock.json.bak", false},
		{"app/my-node_modules/package-lock.json", true},
	}
	for _, tt := range tests {
		if got := (&Extractor{}).Required(tt.path, nil); got != tt.want {
			t.Errorf("Required(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestPackageJSON(t *testing.T) {
	withLic := func(p inventory.Package, l ...string) inventory.Package {
		p.Licenses = l
		return p
	}
	tests := []struct {
		name    string
		in      string
		want    []inventory.Package
		wantErr error
	}{
		{"spdx string", `{"name":"lodash","version":"4.17.20","license":"MIT"}`,
			[]inventory.Package{withLic(pkg("lodash", "4.17.20"), "MIT")}, nil},
		{"scoped", `{"name":"@babel/code-frame","version":"7.10.4","license":"MIT"}`,
			[]inventory.Package{withLic(pkg("@babel/code-frame", "7.10.4"), "MIT")}, nil},
		{"legacy license object", `{"name":"a","version":"1.0.0","license":{"type":"BSD","url":"x"}}`,
			[]inventory.Package{withLic(pkg("a", "1.0.0"), "BSD")}, nil},
		{"legacy licenses array", `{"name":"a","version":"1.0.0","licenses":[{"type":"MIT"},{"type":"Apache-2.0"},"GPL-2.0"]}`,
			[]inventory.Package{withLic(pkg("a", "1.0.0"), "MIT", "Apache-2.0", "GPL-2.0")}, nil},
		{"no license", `{"name":"a","version":"1.0.0"}`, []inventory.Package{pkg("a", "1.0.0")}, nil},
		{"odd license", `{"name":"a","version":"1.0.0","license":42}`, []inventory.Package{pkg("a", "1.0.0")}, nil},
		{"no version", `{"name":"a"}`, nil, nil},
		{"no name", `{"version":"1.0.0"}`, nil, nil},
		{"bad name", `{"name":"a/b/c","version":"1.0.0"}`, nil, nil},
		{"not json", `{"name":`, nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const p = "app/node_modules/x/package.json"
			got, err := (&Extractor{}).Extract(context.Background(), input(p, []byte(tt.in)))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Extract error = %v, want %v", err, tt.wantErr)
			}
			for i := range tt.want {
				tt.want[i].Path = p
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPURL(t *testing.T) {
	for _, tt := range []struct{ full, version, want string }{
		{"lodash", "4.17.20", "pkg:npm/lodash@4.17.20"},
		{"@babel/code-frame", "7.10.4", "pkg:npm/%40babel/code-frame@7.10.4"},
	} {
		p := pkg(tt.full, tt.version)
		if p.PURL != tt.want {
			t.Errorf("PURL(%s@%s) = %q, want %q", tt.full, tt.version, p.PURL, tt.want)
		}
		if FullName(p) != tt.full {
			t.Errorf("FullName = %q, want %q", FullName(p), tt.full)
		}
	}
}

// The real lockfile (version 2) has 106 installed paths, two of them nested,
// and also the version 1 "dependencies" tree of the same packages.
func TestPackageLockFixture(t *testing.T) {
	b, err := os.ReadFile(testenv.Fixture(t, "npm", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&Extractor{}).Extract(context.Background(), input("app/package-lock.json", b))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if len(got) != 106 {
		t.Errorf("got %d packages, want 106", len(got))
	}
	idx := map[string]inventory.Package{}
	for _, p := range got {
		idx[FullName(p)+"@"+p.Version] = p
	}
	for _, want := range []inventory.Package{
		pkg("request", "2.88.2"),
		pkg("tough-cookie", "2.5.0"),
		pkg("semver", "4.3.6"),
		pkg("ajv", "6.12.6"),
		pkg("hosted-git-info", "2.1.4"),
		pkg("hosted-git-info", "1.6.0"), // nested under npm-package-arg
	} {
		want.Path = "app/package-lock.json"
		k := FullName(want) + "@" + want.Version
		g, ok := idx[k]
		if !ok {
			t.Errorf("%s missing", k)
			continue
		}
		g.Licenses = nil
		if diff := cmp.Diff(want, g); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}

	// Drop "packages" so that the version 1 tree is read: it must name the
	// same package versions.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "packages")
	doc["lockfileVersion"] = json.RawMessage("1")
	v1, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	gotV1, err := ParsePackageLock(context.Background(), bytes.NewReader(v1))
	if err != nil {
		t.Fatalf("ParsePackageLock v1: %v", err)
	}
	if diff := cmp.Diff(nameVersions(got), nameVersions(gotV1)); diff != "" {
		t.Errorf("v1 tree differs from v2 packages (-v2 +v1):\n%s", diff)
	}
}

func nameVersions(pkgs []inventory.Package) []string {
	var out []string
	for _, p := range pkgs {
		s := FullName(p) + "@" + p.Version
		if p.Dev {
			s += " dev"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestPackageLockCases(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr error
	}{
		{"v3 with dev, alias, link, workspace", `{"lockfileVersion":3,"packages":{
			"":{"name":"root","version":"1.0.0"},
			"packages/ws":{"name":"ws","version":"0.1.0"},
			"node_modules/ws":{"resolved":"packages/ws","link":true},
			"node_modules/foo":{"name":"bar","version":"1.2.3"},
			"node_modules/a":{"version":"1.0.0","dev":true},
			"node_modules/b":{"version":"2.0.0","devOptional":true},
			"node_modules/a/node_modules/@s/c":{"version":"3.0.0","license":"MIT"},
			"node_modules/noversion":{}
		}}`, []string{"@s/c@3.0.0", "a@1.0.0 dev", "b@2.0.0", "bar@1.2.3"}, nil},
		{"v1 nested with alias", `{"lockfileVersion":1,"dependencies":{
			"a":{"version":"1.0.0","dev":true,"requires":{"b":"^2"},"dependencies":{
				"b":{"version":"2.0.0","dev":true}}},
			"foo":{"version":"npm:@s/bar@1.2.3"},
			"git":{"version":"github:u/r#abc"}
		}}`, []string{"@s/bar@1.2.3", "a@1.0.0 dev", "b@2.0.0 dev", "git@github:u/r#abc"}, nil},
		{"v2 packages win over dependencies in either order", `{"dependencies":{"old":{"version":"1.0.0"}},
			"packages":{"node_modules/new":{"version":"2.0.0"}}}`, []string{"new@2.0.0"}, nil},
		{"empty object", `{}`, nil, nil},
		{"truncated", `{"packages":{"node_modules/a":{"version":"1.0.0"},"node_modules/b":`, []string{"a@1.0.0"}, ErrMalformed},
		{"not an object", `[]`, nil, ErrMalformed},
		{"wrong entry type", `{"packages":{"node_modules/a":"1.0.0"}}`, nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePackageLock(context.Background(), strings.NewReader(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, nameVersions(got)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// generatedLockfilePackages is what the lockfiles in testdata resolve
// testdata/fixture-package.json to. They were generated, not written by
// hand: pnpm-v5.yaml by pnpm 7, pnpm-v6.yaml by pnpm 8, pnpm-v9.yaml by
// pnpm 9 ("pnpm install --lockfile-only"), yarn-v1.lock by Yarn 1.22 and
// yarn-berry.lock by Yarn 4 ("yarn install --mode=update-lockfile"). In
// yarn-v1.lock the registry host of the "resolved" URLs was replaced by
// registry.example.
var generatedLockfilePackages = []string{
	"@babel/code-frame@7.10.4", "@babel/helper-validator-identifier@7.29.7", "@babel/highlight@7.25.9",
	"ansi-styles@3.2.1", "chalk@2.4.2", "color-convert@1.9.3", "color-name@1.1.3", "escape-string-regexp@1.0.5",
	"has-flag@3.0.0", "js-tokens@4.0.0", "lodash@4.17.20", "lru-cache@6.0.0", "make-dir@3.1.0", "picocolors@1.1.1",
	"psl@1.15.0", "punycode@2.3.1", "querystringify@2.2.0", "requires-port@1.0.0", "semver@6.3.2", "semver@7.5.1",
	"supports-color@5.5.0", "tough-cookie@4.1.2", "universalify@0.2.0", "url-parse@1.5.10", "yallist@4.0.0",
}

// devOnly are the packages only tough-cookie, a devDependency, pulls in.
var devOnly = map[string]bool{
	"psl@1.15.0": true, "punycode@2.3.1": true, "querystringify@2.2.0": true, "requires-port@1.0.0": true,
	"tough-cookie@4.1.2": true, "universalify@0.2.0": true, "url-parse@1.5.10": true,
}

func TestGeneratedLockfiles(t *testing.T) {
	tests := []struct {
		file, path string
		marksDev   bool
	}{
		{"pnpm-v5.yaml", "app/pnpm-lock.yaml", true},
		{"pnpm-v6.yaml", "app/pnpm-lock.yaml", true},
		{"pnpm-v9.yaml", "app/pnpm-lock.yaml", false},
		{"yarn-v1.lock", "app/yarn.lock", false},
		{"yarn-berry.lock", "app/yarn.lock", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := (&Extractor{}).Extract(context.Background(), input(tt.path, readTestdata(t, tt.file)))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			var want []string
			for _, nv := range generatedLockfilePackages {
				if tt.marksDev && devOnly[nv] {
					nv += " dev"
				}
				want = append(want, nv)
			}
			if diff := cmp.Diff(want, nameVersions(got)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			for _, p := range got {
				if p.Path != tt.path || p.Type != inventory.TypeNPM || p.PURL == "" {
					t.Errorf("package %+v: want Path %q, type npm and a PURL", p, tt.path)
				}
			}
		})
	}
}

func TestYarnCases(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr error
	}{
		{"classic alias and multiple specs", `# yarn lockfile v1

"foo@npm:@s/bar@^1.0.0":
  version "1.2.0"

lodash@^4.17.20, lodash@^4.17.21:
  version "4.17.21"
  dependencies:
    version "9.9.9"

noversion@^1:
  resolved "x"
`, []string{"@s/bar@1.2.0", "lodash@4.17.21"}, nil},
		{"berry protocols", `__metadata:
  version: 8

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."

"lodash@patch:lodash@npm%3A4.17.21#./p.patch::locator=app%40workspace%3A.":
  version: 4.17.21
  resolution: "lodash@patch:lodash@npm%3A4.17.21#./p.patch::version=4.17.21&hash=1"

"lodash@npm:4.17.21":
  version: 4.17.21
  resolution: "lodash@npm:4.17.21"

"foo@npm:@s/bar@^1":
  version: 1.0.1
  resolution: "@s/bar@npm:1.0.1"
`, []string{"@s/bar@1.0.1", "lodash@4.17.21"}, nil},
		{"garbage header", "not a header\nlodash@^4:\n  version \"4.0.0\"\n", []string{"lodash@4.0.0"}, ErrMalformed},
		{"long line", "a@1:\n  version \"" + strings.Repeat("1", MaxLineSize+1) + "\"\n", nil, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseYarnLock(context.Background(), strings.NewReader(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, nameVersions(got)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPnpmCases(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"v5 peers, scoped, non-registry", `lockfileVersion: 5.4
importers:
  .:
    specifiers:
      a: 1.0.0
packages:
  /ts-node/10.9.1_typescript@4.9.5:
    dev: true
  /ts-node/10.9.1_typescript@5.0.0:
    dev: false
  /@types/node/18.0.0:
    dev: true
  github.com/u/repo/abcdef:
    name: repo
    version: 1.0.0
    dev: false
  /weird:
    dev: true
`, []string{"@types/node@18.0.0 dev", "repo@1.0.0", "ts-node@10.9.1"}},
		{"v9 packages and snapshots, links skipped", `lockfileVersion: '9.0'
packages:
  '@s/a@1.0.0':
    resolution: {integrity: sha512-x}
  b@2.0.0:
    resolution: {integrity: sha512-y}
  local@file:../local:
    resolution: {directory: ../local, type: directory}
snapshots:
  '@s/a@1.0.0(b@2.0.0)':
    dependencies:
      b: 2.0.0
  b@2.0.0: {}
  local@file:../local: {}
`, []string{"@s/a@1.0.0", "b@2.0.0"}},
		{"no version, guess syntax", `packages:
  /a/1.0.0:
    dev: false
  /b@2.0.0:
    dev: true
`, []string{"a@1.0.0", "b@2.0.0 dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePnpmLock(context.Background(), strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("ParsePnpmLock: %v", err)
			}
			if diff := cmp.Diff(tt.want, nameVersions(got)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractLimits(t *testing.T) {
	in := &extract.Input{Path: "app/node_modules/a/package.json", Reader: bytes.NewReader(nil), Size: MaxPackageJSONSize + 1}
	if _, err := (&Extractor{}).Extract(context.Background(), in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized package.json: error = %v, want ErrTooLarge", err)
	}
	in = &extract.Input{Path: "app/yarn.lock", Reader: bytes.NewReader(nil), Size: MaxLockfileSize + 1}
	if _, err := (&Extractor{}).Extract(context.Background(), in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized yarn.lock: error = %v, want ErrTooLarge", err)
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b, err := os.ReadFile(testenv.Fixture(t, "npm", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePackageLock(ctx, bytes.NewReader(b)); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}
