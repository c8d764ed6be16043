package inventory

import (
	"strconv"

	"github.com/package-url/packageurl-go"
)

// PURL builds the package URL of p. OS packages get the distro namespace and
// the "distro" qualifier from os ("pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12"),
// as Trivy and Syft write them, so that the same URL means the same package.
func PURL(p Package, os *OS) string {
	ns := p.Namespace
	var q []packageurl.Qualifier
	switch p.Type {
	case TypeDeb, TypeAPK, TypeRPM:
		if os != nil && os.ID != "" {
			ns = os.ID
		}
		if p.Arch != "" {
			q = append(q, packageurl.Qualifier{Key: "arch", Value: p.Arch})
		}
		if p.Type == TypeRPM && p.Epoch != 0 {
			q = append(q, packageurl.Qualifier{Key: "epoch", Value: strconv.Itoa(p.Epoch)})
		}
		if os != nil && os.ID != "" {
			d := os.ID
			if os.VersionID != "" {
				d += "-" + os.VersionID
			}
			q = append(q, packageurl.Qualifier{Key: "distro", Value: d})
		}
		if p.Type == TypeDeb && p.SourceName != "" && p.SourceName != p.Name {
			q = append(q, packageurl.Qualifier{Key: "upstream", Value: p.SourceName})
		}
	}
	return packageurl.NewPackageURL(p.Type, ns, p.Name, p.Version, q, "").ToString()
}

// AssignPURLs fills in the package URL of every package that has none.
func AssignPURLs(inv *Inventory) {
	for i := range inv.Packages {
		if inv.Packages[i].PURL == "" {
			inv.Packages[i].PURL = PURL(inv.Packages[i], inv.OS)
		}
	}
}
