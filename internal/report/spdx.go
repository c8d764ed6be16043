package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/drydock/drydock/internal/inventory"
)

const (
	noAssertion = "NOASSERTION"
	// namespaceBase roots document namespaces in the project's own URI space,
	// so they cannot collide with another tool's documents.
	namespaceBase = "https://github.com/drydock/drydock/spdx/"
)

type spdxFormatter struct{ opts Options }

func (f spdxFormatter) Format(w io.Writer, inv *inventory.Inventory) error {
	doc := f.document(inv)
	if err := spdxjson.Write(doc, w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return fmt.Errorf("report: write spdx: %w", err)
	}
	return nil
}

func (f spdxFormatter) document(inv *inventory.Inventory) *spdx.Document {
	now := f.opts.now()
	name := imageName(inv.Source)
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: namespaceBase + url.PathEscape(name) + "-" + documentUUID(inv, f.opts, now).String(),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: f.opts.toolName() + "-" + f.opts.toolVersion()}},
			Created:  now.Format(time.RFC3339),
		},
	}
	if len(inv.Problems) > 0 {
		// SPDX 2.3 has no field for an incomplete analysis; the document
		// comment is where a reader looks for caveats.
		var b strings.Builder
		b.WriteString("drydock could not read parts of the image; this document may be incomplete:")
		for _, p := range inv.Problems {
			b.WriteString("\n- " + problemText(p))
		}
		doc.DocumentComment = b.String()
	}

	image := &spdx.Package{
		PackageName:             name,
		PackageSPDXIdentifier:   "Image-" + common.ElementID(sanitizeID(name)),
		PackageVersion:          inv.Source.Digest,
		PackageDownloadLocation: noAssertion,
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
	}
	if purl := imagePURL(inv.Source); purl != "" {
		image.PackageExternalReferences = []*spdx.PackageExternalReference{purlRef(purl)}
	}
	doc.Packages = append(doc.Packages, image)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA:         common.MakeDocElementID("", "DOCUMENT"),
		RefB:         common.MakeDocElementID("", string(image.PackageSPDXIdentifier)),
		Relationship: common.TypeRelationshipDescribe,
	})
	contains := func(p *spdx.Package) {
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", string(image.PackageSPDXIdentifier)),
			RefB:         common.MakeDocElementID("", string(p.PackageSPDXIdentifier)),
			Relationship: common.TypeRelationshipContains,
		})
	}

	if inv.OS != nil && inv.OS.ID != "" {
		contains(&spdx.Package{
			PackageName:             inv.OS.ID,
			PackageSPDXIdentifier:   "OperatingSystem-" + common.ElementID(sanitizeID(inv.OS.ID+"-"+inv.OS.VersionID)),
			PackageVersion:          inv.OS.VersionID,
			PackageDescription:      inv.OS.PrettyName,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  noAssertion,
			PrimaryPackagePurpose:   "OPERATING_SYSTEM",
		})
	}

	lic := newLicenseRefs()
	pkgs := sortedPackages(inv)
	refs := uniqueRefs(pkgs)
	for i, p := range pkgs {
		sp := &spdx.Package{
			PackageName:             displayName(p),
			PackageSPDXIdentifier:   packageSPDXID(p, refs[i]),
			PackageVersion:          p.Version,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  lic.declared(p.Licenses),
			PackageSourceInfo:       spdxSourceInfo(p),
			PrimaryPackagePurpose:   "LIBRARY",
		}
		if p.PURL != "" {
			sp.PackageExternalReferences = []*spdx.PackageExternalReference{purlRef(p.PURL)}
		}
		contains(sp)
	}
	doc.OtherLicenses = lic.others
	return doc
}

func purlRef(purl string) *spdx.PackageExternalReference {
	return &spdx.PackageExternalReference{
		Category: common.CategoryPackageManager,
		RefType:  common.TypePackageManagerPURL,
		Locator:  purl,
	}
}

// packageSPDXID builds a readable ID (type and name) made unique by a short
// hash of the package's bom-ref, which is unique in the document; sanitising
// alone could map two names onto one ID.
func packageSPDXID(p inventory.Package, ref string) common.ElementID {
	sum := sha256.Sum256([]byte(ref))
	return common.ElementID("Package-" + sanitizeID(p.Type+"-"+p.Name) + "-" + hex.EncodeToString(sum[:8]))
}

// spdxSourceInfo records where drydock found the package, which SPDX 2.3 has
// no dedicated field for ("how the package was acquired").
func spdxSourceInfo(p inventory.Package) string {
	var parts []string
	if p.Path != "" {
		s := "read from /" + p.Path
		if p.Layer != "" {
			s += " in layer " + p.Layer
		}
		if p.Origin != "" {
			s += " (" + string(p.Origin) + ")"
		}
		parts = append(parts, s)
	}
	if p.SourceName != "" && (p.SourceName != p.Name || p.SourceVersion != "" && p.SourceVersion != p.Version) {
		s := "built from source package " + p.SourceName
		if p.SourceVersion != "" {
			s += " " + p.SourceVersion
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// licenseRefs turns license strings into SPDX license expressions. Strings
// that are not valid expressions become LicenseRef- identifiers, each declared
// once in hasExtractedLicensingInfos with the original text, as SPDX requires
// for every LicenseRef a document uses.
type licenseRefs struct {
	byText map[string]string // original text -> LicenseRef-…
	used   map[string]string // LicenseRef-… -> original text
	others []*spdx.OtherLicense
}

func newLicenseRefs() *licenseRefs {
	return &licenseRefs{byText: map[string]string{}, used: map[string]string{}}
}

func (l *licenseRefs) declared(licenses []string) string {
	exprs := make([]string, 0, len(licenses))
	for _, text := range licenses {
		if strings.TrimSpace(text) == "" {
			continue
		}
		if e, _, ok := spdxExpression(text); ok {
			exprs = append(exprs, e)
			continue
		}
		exprs = append(exprs, l.ref(text))
	}
	if len(exprs) == 0 {
		return noAssertion
	}
	return joinExpressions(exprs)
}

func (l *licenseRefs) ref(text string) string {
	if ref, ok := l.byText[text]; ok {
		return ref
	}
	base := "LicenseRef-" + sanitizeID(text)
	ref := base
	for n := 2; ; n++ {
		if _, taken := l.used[ref]; !taken {
			break
		}
		ref = fmt.Sprintf("%s-%d", base, n)
	}
	l.byText[text] = ref
	l.used[ref] = text
	l.others = append(l.others, &spdx.OtherLicense{
		LicenseIdentifier: ref,
		LicenseName:       text,
		ExtractedText:     text,
		LicenseComment:    "license name as recorded in the package metadata; not an SPDX license identifier",
	})
	return ref
}
