package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"

	"github.com/drydock/drydock/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var fixedClock = func() time.Time { return time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC) }

var testOptions = Options{ToolName: "drydock", ToolVersion: "0.1.0", Now: fixedClock}

const (
	layerBase = "sha256:6e1d5a2b9f4c8e7d3a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
	layerApp  = "sha256:a3f09c81b2d4e6f8a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f2a4b6c8d0e2f4"
)

// fixtureInventory is a small Debian-based image with an npm and a Maven
// package on top, and one problem, covering the cases each format handles.
func fixtureInventory() *inventory.Inventory {
	inv := &inventory.Inventory{
		SchemaVersion: inventory.SchemaVersion,
		Source: inventory.Source{
			Kind:         "registry",
			Ref:          "registry.example.com/team/app:1.4.2",
			Name:         "registry.example.com/team/app",
			Digest:       "sha256:4b8e2c1f0a9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b",
			ConfigDigest: "sha256:0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d",
			Platform:     "linux/amd64",
			BaseName:     "docker.io/library/debian:12",
			BaseDigest:   "sha256:f1e2d3c4b5a6978877665544332211ffeeddccbbaa99887766554433221100ff",
			BaseMethod:   "annotation",
			BaseLayers:   1,
		},
		OS: &inventory.OS{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		Layers: []inventory.Layer{
			{Index: 0, DiffID: layerBase, Origin: inventory.OriginBase},
			{Index: 1, DiffID: layerApp, Origin: inventory.OriginApp},
		},
		Packages: []inventory.Package{
			{
				Name: "libssl3", Version: "3.0.15-1~deb12u1", Type: inventory.TypeDeb, Arch: "amd64",
				SourceName: "openssl", SourceVersion: "3.0.15-1~deb12u1", Licenses: []string{"Apache-2.0"},
				Path: "var/lib/dpkg/status", Layer: layerBase, LayerIndex: 0, Origin: inventory.OriginBase,
			},
			{
				Name: "base-files", Version: "12.4+deb12u7", Type: inventory.TypeDeb, Arch: "amd64",
				SourceName: "base-files", Licenses: []string{"GPL-2+"},
				Path: "var/lib/dpkg/status", Layer: layerBase, LayerIndex: 0, Origin: inventory.OriginBase,
			},
			{
				Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Type: inventory.TypeDeb, Arch: "amd64",
				SourceName: "zlib", Licenses: []string{"zlib", "public-domain"},
				Path: "var/lib/dpkg/status", Layer: layerBase, LayerIndex: 0, Origin: inventory.OriginBase,
			},
			{
				Name: "core", Namespace: "@angular", Version: "17.3.12", Type: inventory.TypeNPM, Licenses: []string{"MIT"},
				Path: "app/node_modules/@angular/core/package.json", Layer: layerApp, LayerIndex: 1, Origin: inventory.OriginApp,
			},
			{
				Name: "log4j-core", Namespace: "org.apache.logging.log4j", Version: "2.17.1", Type: inventory.TypeMaven,
				Licenses: []string{"Apache-2.0 OR MIT"},
				Path:     "app/lib/log4j-core-2.17.1.jar", Layer: layerApp, LayerIndex: 1, Origin: inventory.OriginApp,
			},
		},
		Problems: []inventory.Problem{{
			Stage: "extract", Layer: layerApp, Path: "app/node_modules/broken/package.json", Extractor: "npm",
			Message: "parse package.json: unexpected end of JSON input",
		}},
		Tool:      "drydock 0.1.0",
		Generated: fixedClock(),
	}
	inventory.AssignPURLs(inv)
	return inv
}

func render(t testing.TB, format string, opts Options, inv *inventory.Inventory) []byte {
	t.Helper()
	f, err := SBOM(format, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Format(&buf, inv); err != nil {
		t.Fatalf("Format(%s): %v", format, err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	tests := []struct {
		format string
		golden string
		opts   Options
	}{
		{"table", "table.golden", testOptions},
		{"json", "json.golden", testOptions},
		{"cyclonedx", "cyclonedx.golden", testOptions},
		{"spdx", "spdx.golden", testOptions},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			got := render(t, tt.format, tt.opts, fixtureInventory())
			path := filepath.Join("testdata", "golden", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s output differs from %s (-want +got):\n%s", tt.format, path, diff)
			}
		})
	}
}

// The same inputs must give the same bytes: SBOMs are diffed, signed and
// stored, and map iteration or random IDs would make every run differ.
func TestDeterministic(t *testing.T) {
	for _, format := range SBOMFormats() {
		a := render(t, format, testOptions, fixtureInventory())
		b := render(t, format, testOptions, fixtureInventory())
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renderings differ", format)
		}
	}
}

func TestFormatDoesNotModifyInventory(t *testing.T) {
	for _, format := range SBOMFormats() {
		inv := fixtureInventory()
		inv.Packages[0].PURL = "" // formatters fill in missing purls on a copy
		want := fixtureInventory()
		want.Packages[0].PURL = ""
		render(t, format, testOptions, inv)
		if diff := cmp.Diff(want, inv); diff != "" {
			t.Errorf("%s modified the inventory (-want +got):\n%s", format, diff)
		}
	}
}

func TestRegistry(t *testing.T) {
	if diff := cmp.Diff([]string{"cyclonedx", "json", "spdx", "table"}, SBOMFormats()); diff != "" {
		t.Errorf("SBOMFormats() (-want +got):\n%s", diff)
	}
	_, err := SBOM("xml", Options{})
	if !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("SBOM(xml) error = %v, want ErrUnknownFormat", err)
	}
}

func TestTableColorKeepsAlignment(t *testing.T) {
	plain := render(t, "table", testOptions, fixtureInventory())
	opts := testOptions
	opts.Color = true
	colored := render(t, "table", opts, fixtureInventory())
	if bytes.Equal(plain, colored) {
		t.Fatal("Color had no effect")
	}
	stripped := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAll(colored, nil)
	if diff := cmp.Diff(string(plain), string(stripped)); diff != "" {
		t.Errorf("colored table without escapes differs from plain table (-plain +stripped):\n%s", diff)
	}
}

func TestTableEmptyInventory(t *testing.T) {
	got := string(render(t, "table", testOptions, &inventory.Inventory{Source: inventory.Source{Kind: "rootfs", Ref: "/srv/root"}}))
	want := "Image:    /srv/root\n\nNAME  VERSION  TYPE  SOURCE  ORIGIN  LAYER\n\n0 packages\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	want := fixtureInventory()
	var got inventory.Inventory
	if err := json.Unmarshal(render(t, "json", testOptions, want), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("json did not round-trip (-want +got):\n%s", diff)
	}
}

// schemaCompiler loads the vendored official schemas under the URLs they
// refer to each other by, so validation needs no network.
func compileSchema(t testing.TB, main string, files map[string]string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, file := range files {
		f, err := os.Open(filepath.Join("testdata", "schema", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("parse schema %s: %v", file, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("add schema %s: %v", file, err)
		}
	}
	s, err := c.Compile(main)
	if err != nil {
		t.Fatalf("compile schema %s: %v", main, err)
	}
	return s
}

func cycloneDXSchema(t testing.TB) *jsonschema.Schema {
	return compileSchema(t, "http://cyclonedx.org/schema/bom-1.6.schema.json", map[string]string{
		"http://cyclonedx.org/schema/bom-1.6.schema.json":  "bom-1.6.schema.json",
		"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schema.json",
	})
}

func spdxSchema(t testing.TB) *jsonschema.Schema {
	return compileSchema(t, "http://spdx.org/rdf/terms/2.3", map[string]string{
		"http://spdx.org/rdf/terms/2.3": "spdx-schema.json",
	})
}

func validate(t *testing.T, s *jsonschema.Schema, doc []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	return s.Validate(inst)
}

// schemaInventories are the fixture plus inventories at the edges: empty,
// no digest or OS (a root filesystem), and awkward names and licenses.
func schemaInventories() map[string]*inventory.Inventory {
	awkward := fixtureInventory()
	awkward.Packages = append(awkward.Packages,
		// The same purl twice, at two paths: bom-refs must stay unique.
		inventory.Package{Name: "lodash", Version: "4.17.21", Type: inventory.TypeNPM, Path: "app/a/node_modules/lodash/package.json", Licenses: []string{"MIT"}},
		inventory.Package{Name: "lodash", Version: "4.17.21", Type: inventory.TypeNPM, Path: "app/b/node_modules/lodash/package.json", Licenses: []string{"(MIT)"}},
		inventory.Package{Name: "weird name/with:chars", Version: "1.0 beta", Type: inventory.TypePyPI, Licenses: []string{"BSD 3-Clause <license@example.com>", "GPL-2.0+ WITH Classpath-exception-2.0", ""}, Dev: true},
		inventory.Package{Name: "ümlaut", Version: "0.1", Type: inventory.TypeCargo, Licenses: []string{"MIT OR Apache-2.0", "Zlib"}},
	)
	inventory.AssignPURLs(awkward)
	return map[string]*inventory.Inventory{
		"fixture": fixtureInventory(),
		"empty":   {Source: inventory.Source{Kind: "registry", Ref: "example/empty@sha256:00", Digest: "sha256:" + strings.Repeat("0", 64)}},
		"rootfs": {Source: inventory.Source{Kind: "rootfs", Ref: "/srv/rootfs"}, Packages: []inventory.Package{
			{Name: "musl", Version: "1.2.5-r0", Type: inventory.TypeAPK, Licenses: []string{"MIT"}, Path: "lib/apk/db/installed"},
		}},
		"awkward": awkward,
	}
}

func TestCycloneDXSchema(t *testing.T) {
	schema := cycloneDXSchema(t)
	for name, inv := range schemaInventories() {
		t.Run(name, func(t *testing.T) {
			out := render(t, "cyclonedx", testOptions, inv)
			if err := validate(t, schema, out); err != nil {
				t.Errorf("CycloneDX output does not validate against bom-1.6.schema.json:\n%v\n%s", err, out)
			}
			// cyclonedx-go must read back what it wrote.
			var bom cdx.BOM
			if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
				t.Fatalf("decode: %v", err)
			}
			refs := map[string]bool{bom.Metadata.Component.BOMRef: true}
			for _, c := range deref(bom.Components) {
				if refs[c.BOMRef] {
					t.Errorf("duplicate bom-ref %q", c.BOMRef)
				}
				refs[c.BOMRef] = true
			}
			for _, d := range deref(bom.Dependencies) {
				for _, r := range append([]string{d.Ref}, deref(d.Dependencies)...) {
					if !refs[r] {
						t.Errorf("dependency names unknown bom-ref %q", r)
					}
				}
			}
		})
	}
}

var spdxIDPattern = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)

func TestSPDXSchema(t *testing.T) {
	schema := spdxSchema(t)
	for name, inv := range schemaInventories() {
		t.Run(name, func(t *testing.T) {
			out := render(t, "spdx", testOptions, inv)
			if err := validate(t, schema, out); err != nil {
				t.Errorf("SPDX output does not validate against spdx-schema.json (2.3):\n%v\n%s", err, out)
			}
			doc, err := spdxjson.Read(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("tools-golang cannot read the output: %v", err)
			}
			// Checks the 2.3 schema leaves to the specification text.
			ids := map[string]bool{}
			for _, p := range doc.Packages {
				id := "SPDXRef-" + string(p.PackageSPDXIdentifier)
				if !spdxIDPattern.MatchString(id) {
					t.Errorf("SPDXID %q has characters outside [A-Za-z0-9.-]", id)
				}
				if ids[id] {
					t.Errorf("duplicate SPDXID %q", id)
				}
				ids[id] = true
			}
			defined := map[string]bool{}
			for _, l := range doc.OtherLicenses {
				defined[l.LicenseIdentifier] = true
			}
			for _, p := range doc.Packages {
				if _, _, ok := spdxExpression(p.PackageLicenseDeclared); !ok && p.PackageLicenseDeclared != noAssertion {
					t.Errorf("%s: licenseDeclared %q is not a valid SPDX expression", p.PackageName, p.PackageLicenseDeclared)
				}
				for _, tok := range tokenizeLicense(p.PackageLicenseDeclared) {
					if strings.HasPrefix(tok, "LicenseRef-") && !defined[tok] {
						t.Errorf("%s: %s used but not declared in hasExtractedLicensingInfos", p.PackageName, tok)
					}
				}
			}
			for _, r := range doc.Relationships {
				for _, e := range []common.ElementID{r.RefA.ElementRefID, r.RefB.ElementRefID} {
					if e != "DOCUMENT" && !ids["SPDXRef-"+string(e)] {
						t.Errorf("relationship %s names unknown element %q", r.Relationship, e)
					}
				}
			}
		})
	}
}

// The validators must be able to fail, or the schema tests prove nothing.
func TestSchemasRejectInvalid(t *testing.T) {
	mutate := func(doc []byte, f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cdxOut := render(t, "cyclonedx", testOptions, fixtureInventory())
	spdxOut := render(t, "spdx", testOptions, fixtureInventory())
	tests := []struct {
		name   string
		schema *jsonschema.Schema
		doc    []byte
	}{
		{"cyclonedx unknown license id", cycloneDXSchema(t), mutate(cdxOut, func(m map[string]any) {
			c := m["components"].([]any)[1].(map[string]any)
			c["licenses"] = []any{map[string]any{"license": map[string]any{"id": "GPL-2+"}}}
		})},
		{"cyclonedx bad serial", cycloneDXSchema(t), mutate(cdxOut, func(m map[string]any) { m["serialNumber"] = "1234" })},
		{"spdx bad relationship", spdxSchema(t), mutate(spdxOut, func(m map[string]any) {
			m["relationships"].([]any)[0].(map[string]any)["relationshipType"] = "LIVES_IN"
		})},
		{"spdx package without downloadLocation", spdxSchema(t), mutate(spdxOut, func(m map[string]any) {
			delete(m["packages"].([]any)[1].(map[string]any), "downloadLocation")
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validate(t, tt.schema, tt.doc); err == nil {
				t.Error("invalid document validated")
			}
		})
	}
}

func TestSPDXExpression(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		compound bool
		ok       bool
	}{
		{"MIT", "MIT", false, true},
		{"mit", "MIT", false, true},
		{"Apache-2.0 OR MIT", "Apache-2.0 OR MIT", true, true},
		{"(MIT or apache-2.0) and BSD-3-clause", "(MIT OR Apache-2.0) AND BSD-3-Clause", true, true},
		{"GPL-2.0-or-later WITH Classpath-exception-2.0", "GPL-2.0-or-later WITH Classpath-exception-2.0", true, true},
		{"GPL-2.0+", "GPL-2.0+", false, true},
		{"LicenseRef-custom.1", "LicenseRef-custom.1", false, true},
		{"DocumentRef-other:LicenseRef-x", "DocumentRef-other:LicenseRef-x", false, true},
		{"GPL-2+", "", false, false},
		{"public-domain", "", false, false},
		{"BSD 3-Clause", "", false, false},
		{"MIT OR", "", false, false},
		{"(MIT", "", false, false},
		{"MIT WITH", "", false, false},
		{"LicenseRef-bad_char", "", false, false},
		{"", "", false, false},
		// The list is SPDX's current one, not a hand-kept copy: 3D-Slicer-1.0
		// arrived after the list the CycloneDX 1.6 schema froze.
		{"3d-slicer-1.0", "3D-Slicer-1.0", false, true},
		// WITH takes an exception, and an exception is no license.
		{"MIT WITH Apache-2.0", "", false, false},
		{"Classpath-exception-2.0", "", false, false},
	}
	for _, tt := range tests {
		got, compound, ok := spdxExpression(tt.in)
		if diff := cmp.Diff(fmt.Sprint(tt.want, compound == tt.compound || !tt.ok, tt.ok), fmt.Sprint(got, compound == tt.compound || !tt.ok, ok)); diff != "" {
			t.Errorf("spdxExpression(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestSPDXLicenseDeclared(t *testing.T) {
	tests := []struct {
		in       []string
		want     string
		wantRefs []string
	}{
		{nil, "NOASSERTION", nil},
		{[]string{""}, "NOASSERTION", nil},
		{[]string{"MIT"}, "MIT", nil},
		{[]string{"MIT", "Apache-2.0 OR BSD-2-Clause"}, "MIT AND (Apache-2.0 OR BSD-2-Clause)", nil},
		{[]string{"GPL-2+", "BSD-3-clause"}, "LicenseRef-GPL-2- AND BSD-3-Clause", []string{"LicenseRef-GPL-2-"}},
		// Two texts that sanitise alike still get distinct refs.
		{[]string{"GPL-2+", "GPL-2/"}, "LicenseRef-GPL-2- AND LicenseRef-GPL-2--2", []string{"LicenseRef-GPL-2-", "LicenseRef-GPL-2--2"}},
	}
	for _, tt := range tests {
		l := newLicenseRefs()
		got := l.declared(tt.in)
		var refs []string
		for _, o := range l.others {
			refs = append(refs, o.LicenseIdentifier)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("declared(%q) (-want +got):\n%s", tt.in, diff)
		}
		if diff := cmp.Diff(tt.wantRefs, refs); diff != "" {
			t.Errorf("declared(%q) refs (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestCycloneDXLicenses(t *testing.T) {
	tests := []struct {
		in   []string
		want *cdx.Licenses
	}{
		{nil, nil},
		{[]string{"mit"}, &cdx.Licenses{{License: &cdx.License{ID: "MIT"}}}},
		{[]string{"MIT OR Apache-2.0"}, &cdx.Licenses{{Expression: "MIT OR Apache-2.0"}}},
		{[]string{"MIT OR Apache-2.0", "Zlib"}, &cdx.Licenses{{Expression: "(MIT OR Apache-2.0) AND Zlib"}}},
		{[]string{"GPL-2+", "Zlib"}, &cdx.Licenses{{License: &cdx.License{Name: "GPL-2+"}}, {License: &cdx.License{ID: "Zlib"}}}},
		{[]string{"GPL-2+", "MIT OR Apache-2.0"}, &cdx.Licenses{{License: &cdx.License{Name: "GPL-2+"}}, {License: &cdx.License{Name: "MIT OR Apache-2.0"}}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, cdxLicenses(tt.in)); diff != "" {
			t.Errorf("cdxLicenses(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestUniqueRefs(t *testing.T) {
	pkgs := []inventory.Package{
		{PURL: "pkg:npm/a@1", Path: "x/package.json"},
		{PURL: "pkg:npm/a@1", Path: "y/package.json"},
		{PURL: "pkg:npm/a@1", Path: "y/package.json"},
		{PURL: "pkg:npm/b@1", Path: "z/package.json"},
	}
	want := []string{"pkg:npm/a@1#x/package.json", "pkg:npm/a@1#y/package.json", "pkg:npm/a@1#y/package.json#2", "pkg:npm/b@1"}
	if diff := cmp.Diff(want, uniqueRefs(pkgs)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDocumentUUID(t *testing.T) {
	inv := fixtureInventory()
	a := documentUUID(inv, testOptions, fixedClock())
	if b := documentUUID(inv, testOptions, fixedClock()); a != b {
		t.Errorf("same digest and clock gave %s and %s", a, b)
	}
	if b := documentUUID(inv, testOptions, fixedClock().Add(time.Second)); a == b {
		t.Error("a later run reused the serial number")
	}
	rootfs := &inventory.Inventory{Source: inventory.Source{Kind: "rootfs", Ref: "/srv"}}
	first, second := documentUUID(rootfs, testOptions, fixedClock()), documentUUID(rootfs, testOptions, fixedClock())
	if first == second {
		t.Error("without a digest the UUID must be random")
	}
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}

func benchInventory(n int) *inventory.Inventory {
	inv := fixtureInventory()
	inv.Packages = make([]inventory.Package, 0, n)
	types := []string{inventory.TypeDeb, inventory.TypeNPM, inventory.TypeMaven, inventory.TypePyPI, inventory.TypeGolang}
	for i := range n {
		p := inventory.Package{
			Name:     fmt.Sprintf("package-%05d", i),
			Version:  fmt.Sprintf("1.%d.%d", i%17, i%5),
			Type:     types[i%len(types)],
			Licenses: []string{[]string{"MIT", "GPL-2+", "Apache-2.0 OR MIT", "public-domain"}[i%4]},
			Path:     fmt.Sprintf("usr/lib/pkg%d/package.json", i%50),
			Layer:    []string{layerBase, layerApp}[i%2],
			Origin:   []inventory.Origin{inventory.OriginBase, inventory.OriginApp}[i%2],
		}
		if p.Type == inventory.TypeDeb {
			p.SourceName = fmt.Sprintf("src-%d", i/3)
		}
		if p.Type == inventory.TypeMaven {
			p.Namespace = "org.example"
		}
		inv.Packages = append(inv.Packages, p)
	}
	inventory.AssignPURLs(inv)
	return inv
}

func BenchmarkFormat(b *testing.B) {
	inv := benchInventory(5000)
	for _, format := range SBOMFormats() {
		b.Run(format, func(b *testing.B) {
			f, err := SBOM(format, testOptions)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := f.Format(io.Discard, inv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
