package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"
	"github.com/package-url/packageurl-go"

	"github.com/drydock/drydock/internal/inventory"
)

// Property names drydock adds to CycloneDX components and metadata. They use
// a "drydock:" prefix, as the CycloneDX property taxonomy asks of tools.
const (
	propLayer         = "drydock:layer"
	propOrigin        = "drydock:origin"
	propPath          = "drydock:path"
	propSourceName    = "drydock:source-name"
	propSourceVersion = "drydock:source-version"
	propDev           = "drydock:dev"
	propPlatform      = "drydock:platform"
	propConfigDigest  = "drydock:config-digest"
	propIndexDigest   = "drydock:index-digest"
	propBaseName      = "drydock:base-name"
	propBaseDigest    = "drydock:base-digest"
	propProblem       = "drydock:problem"
)

type cycloneDXFormatter struct{ opts Options }

func (f cycloneDXFormatter) Format(w io.Writer, inv *inventory.Inventory) error {
	now := f.opts.now()
	bom, _ := cycloneDXBOM(inv, f.opts, now, documentUUID(inv, f.opts, now))
	return writeCycloneDX(w, bom, "cyclonedx")
}

// writeCycloneDX encodes a BOM as CycloneDX 1.6 JSON; what names the
// document in errors.
func writeCycloneDX(w io.Writer, bom *cdx.BOM, what string) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("report: write %s: %w", what, err)
	}
	return nil
}

// cycloneDXBOM builds the CycloneDX document of an inventory: metadata (with
// inv.Problems), the OS and package components, and the image's
// dependencies. It is shared by the SBOM and the scan report, which adds
// vulnerabilities that point at the components; for that it also returns
// each package's bom-ref by inventory.Package.Key (the first, when a key
// repeats).
func cycloneDXBOM(inv *inventory.Inventory, opts Options, now time.Time, serial uuid.UUID) (*cdx.BOM, map[string]string) {
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + serial.String()

	image := imageComponent(inv.Source)
	bom.Metadata = &cdx.Metadata{
		Timestamp:  now.Format(time.RFC3339),
		Lifecycles: &[]cdx.Lifecycle{{Phase: cdx.LifecyclePhasePostBuild}},
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type:    cdx.ComponentTypeApplication,
			Name:    opts.toolName(),
			Version: opts.toolVersion(),
		}}},
		Component: &image,
	}
	if len(inv.Problems) > 0 {
		props := make([]cdx.Property, 0, len(inv.Problems))
		for _, p := range inv.Problems {
			props = append(props, cdx.Property{Name: propProblem, Value: problemText(p)})
		}
		bom.Metadata.Properties = &props
		// A scan with problems missed something; say so in the standard way
		// as well, so consumers that ignore drydock's properties still learn it.
		bom.Compositions = &[]cdx.Composition{{
			Aggregate:  cdx.CompositionAggregateIncomplete,
			Assemblies: &[]cdx.BOMReference{cdx.BOMReference(image.BOMRef)},
		}}
	}

	pkgs := sortedPackages(inv)
	components := make([]cdx.Component, 0, len(pkgs)+1)
	if inv.OS != nil && inv.OS.ID != "" {
		components = append(components, osComponent(inv.OS))
	}
	refs := uniqueRefs(pkgs)
	byKey := make(map[string]string, len(pkgs))
	for i, p := range pkgs {
		components = append(components, packageComponent(p, refs[i]))
		if _, ok := byKey[p.Key()]; !ok {
			byKey[p.Key()] = refs[i]
		}
	}
	bom.Components = &components

	dependsOn := make([]string, 0, len(components))
	for _, c := range components {
		dependsOn = append(dependsOn, c.BOMRef)
	}
	bom.Dependencies = &[]cdx.Dependency{{Ref: image.BOMRef, Dependencies: &dependsOn}}
	return bom, byKey
}

func imageComponent(src inventory.Source) cdx.Component {
	c := cdx.Component{
		Type:    cdx.ComponentTypeContainer,
		Name:    imageName(src),
		Version: src.Digest,
		BOMRef:  "image",
	}
	if purl := imagePURL(src); purl != "" {
		c.PackageURL = purl
		c.BOMRef = purl
	}
	var props []cdx.Property
	add := func(name, value string) {
		if value != "" {
			props = append(props, cdx.Property{Name: name, Value: value})
		}
	}
	add(propPlatform, src.Platform)
	add(propConfigDigest, src.ConfigDigest)
	add(propIndexDigest, src.IndexDigest)
	add(propBaseName, src.BaseName)
	add(propBaseDigest, src.BaseDigest)
	if len(props) > 0 {
		c.Properties = &props
	}
	return c
}

func osComponent(os *inventory.OS) cdx.Component {
	return cdx.Component{
		Type:        cdx.ComponentTypeOS,
		Name:        os.ID,
		Version:     os.VersionID,
		Description: os.PrettyName,
		BOMRef:      osRef(os),
	}
}

func osRef(os *inventory.OS) string {
	return "os:" + os.ID + "@" + os.VersionID
}

func packageComponent(p inventory.Package, ref string) cdx.Component {
	c := cdx.Component{
		Type:       cdx.ComponentTypeLibrary,
		Name:       p.Name,
		Version:    p.Version,
		PackageURL: p.PURL,
		BOMRef:     ref,
		Licenses:   cdxLicenses(p.Licenses),
	}
	switch p.Type {
	case inventory.TypeDeb, inventory.TypeAPK, inventory.TypeRPM:
		// For OS packages the namespace is the distro, not a group.
	default:
		c.Group = p.Namespace
	}
	var props []cdx.Property
	add := func(name, value string) {
		if value != "" {
			props = append(props, cdx.Property{Name: name, Value: value})
		}
	}
	add(propLayer, p.Layer)
	add(propOrigin, string(p.Origin))
	add(propPath, p.Path)
	add(propSourceName, p.SourceName)
	add(propSourceVersion, p.SourceVersion)
	if p.Dev {
		add(propDev, strconv.FormatBool(p.Dev))
	}
	if len(props) > 0 {
		c.Properties = &props
	}
	return c
}

// uniqueRefs gives each package a bom-ref: its purl, or purl#path when the
// same purl was found in more than one place (the same npm package vendored
// twice), and a counter as the last resort, since bom-refs must be unique.
func uniqueRefs(pkgs []inventory.Package) []string {
	count := make(map[string]int, len(pkgs))
	for _, p := range pkgs {
		count[p.PURL]++
	}
	seen := make(map[string]int, len(pkgs))
	refs := make([]string, len(pkgs))
	for i, p := range pkgs {
		ref := p.PURL
		if ref == "" {
			ref = "pkg:" + p.Type + "/" + p.Name
		}
		if count[p.PURL] > 1 {
			ref += "#" + p.Path
		}
		if n := seen[ref]; n > 0 {
			seen[ref]++
			ref += "#" + strconv.Itoa(n+1)
		} else {
			seen[ref] = 1
		}
		refs[i] = ref
	}
	return refs
}

// cdxLicenses maps license strings onto CycloneDX 1.6, whose schema allows
// either license objects or one expression, and accepts an id only from the
// SPDX list: identifiers become ids, valid compound expressions one
// expression, and anything else keeps its text as a license name.
func cdxLicenses(all []string) *cdx.Licenses {
	licenses := make([]string, 0, len(all))
	for _, l := range all {
		if strings.TrimSpace(l) != "" {
			licenses = append(licenses, l)
		}
	}
	if len(licenses) == 0 {
		return nil
	}
	exprs := make([]string, 0, len(licenses))
	anyCompound := false
	for _, l := range licenses {
		if e, compound, ok := spdxExpression(l); ok {
			exprs = append(exprs, e)
			anyCompound = anyCompound || compound
		}
	}
	if len(exprs) == len(licenses) && anyCompound {
		return &cdx.Licenses{{Expression: joinExpressions(exprs)}}
	}
	out := make(cdx.Licenses, 0, len(licenses))
	for _, l := range licenses {
		if id, ok := licenseID(l); ok {
			out = append(out, cdx.LicenseChoice{License: &cdx.License{ID: id}})
		} else {
			out = append(out, cdx.LicenseChoice{License: &cdx.License{Name: l}})
		}
	}
	return &out
}

// joinExpressions combines the licenses of one package with AND: packagers list
// the licenses of different parts of a package, all of which apply.
func joinExpressions(exprs []string) string {
	if len(exprs) == 1 {
		return exprs[0]
	}
	parts := make([]string, len(exprs))
	for i, e := range exprs {
		if strings.Contains(e, " ") {
			e = "(" + e + ")"
		}
		parts[i] = e
	}
	return strings.Join(parts, " AND ")
}

// imagePURL is the OCI package URL of the image (pkg:oci/name@digest?...),
// which names an image by content wherever it is stored. Without a digest
// (a root filesystem) there is none.
func imagePURL(src inventory.Source) string {
	if src.Digest == "" {
		return ""
	}
	repo := src.Name
	if repo == "" {
		repo = src.Ref
	}
	name := repo
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	var q packageurl.Qualifiers
	if _, arch, ok := strings.Cut(src.Platform, "/"); ok && arch != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: arch})
	}
	if repo != "" && strings.Contains(repo, "/") {
		q = append(q, packageurl.Qualifier{Key: "repository_url", Value: repo})
	}
	if name == "" {
		name = "image"
	}
	return packageurl.NewPackageURL("oci", "", strings.ToLower(name), src.Digest, q, "").ToString()
}

// uuidNamespace roots drydock's name-based UUIDs.
var uuidNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/drydock/drydock"))

// documentUUID identifies one SBOM document. With a digest it is derived from
// the digest, the tool and the timestamp, so that the same run reproduces the
// same document (and tests can compare bytes) while a later run gets a new
// one; a root filesystem has no content identity, so it gets a random UUID.
func documentUUID(inv *inventory.Inventory, opts Options, now time.Time) uuid.UUID {
	return kindUUID(inv, opts, now, "")
}

// kindUUID is documentUUID for other kinds of document about the same image
// (kind "scan"), which must not share the SBOM's UUID; the SBOM's kind is ""
// so that its UUIDs stay what they were.
func kindUUID(inv *inventory.Inventory, opts Options, now time.Time, kind string) uuid.UUID {
	if inv.Source.Digest == "" {
		return uuid.New()
	}
	parts := []string{inv.Source.Digest, opts.toolName(), opts.toolVersion(), now.Format(time.RFC3339)}
	if kind != "" {
		parts = append(parts, kind)
	}
	return uuid.NewSHA1(uuidNamespace, []byte(strings.Join(parts, "\x00")))
}
