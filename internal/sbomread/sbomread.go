// Package sbomread reads software bills of materials that other tools (or
// drydock itself) wrote — drydock's JSON inventory, CycloneDX JSON, SPDX
// 2.x JSON — into an inventory that can be matched like a scanned image's.
// Trivy and Grype users scan SBOMs made elsewhere; the packages are taken
// from their package URLs, which is what those formats agree on.
package sbomread

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/drydock/drydock/internal/inventory"
)

// Formats Sniff recognises.
const (
	FormatInventory = "drydock-inventory"
	FormatCycloneDX = "cyclonedx"
	FormatSPDX      = "spdx"
)

// MaxBytes bounds the document read: SBOMs of the largest images are tens
// of megabytes.
const MaxBytes = 256 << 20

// ErrNotSBOM is returned (wrapped) for JSON that is none of the formats.
var ErrNotSBOM = errors.New("not a drydock inventory, CycloneDX or SPDX JSON document")

// LooksLikeJSON reports whether a file starts (after white space) with a
// JSON object, which no image archive does.
func LooksLikeJSON(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, _ := io.ReadFull(f, buf)
	b := bytes.TrimLeft(buf[:n], " \t\r\n\ufeff")
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return len(b) > 0 && b[0] == '{'
}

// head is the part of each format that tells them apart.
type head struct {
	SchemaVersion *int            `json:"schemaVersion"`
	Packages      json.RawMessage `json:"packages"`
	BOMFormat     string          `json:"bomFormat"`
	SPDXVersion   string          `json:"spdxVersion"`
}

// ReadFile reads the SBOM at path and returns it as an inventory, with the
// format it was in. Packages without a package URL are left out and
// counted in a Problem, so a consumer knows the answer is partial.
func ReadFile(path string) (*inventory.Inventory, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > MaxBytes {
		return nil, "", fmt.Errorf("read %s: larger than %d MiB", path, MaxBytes>>20)
	}
	inv, format, err := Read(b)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	inv.Source = inventory.Source{Kind: "sbom", Ref: path}
	return inv, format, nil
}

// Read parses an SBOM document.
func Read(b []byte) (*inventory.Inventory, string, error) {
	var h head
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrNotSBOM, jsonErr(err))
	}
	switch {
	case strings.EqualFold(h.BOMFormat, "CycloneDX"):
		inv, err := readCycloneDX(b)
		return inv, FormatCycloneDX, err
	case strings.HasPrefix(h.SPDXVersion, "SPDX-2."):
		inv, err := readSPDX(b)
		return inv, FormatSPDX, err
	case h.SPDXVersion != "":
		return nil, "", fmt.Errorf("%w: SPDX %s is not supported (SPDX 2.x JSON is)", ErrNotSBOM, h.SPDXVersion)
	case h.SchemaVersion != nil && h.Packages != nil:
		var inv inventory.Inventory
		if err := json.Unmarshal(b, &inv); err != nil {
			return nil, "", fmt.Errorf("drydock inventory: %v", jsonErr(err))
		}
		if inv.SchemaVersion != inventory.SchemaVersion {
			return nil, "", fmt.Errorf("drydock inventory schema version %d; this drydock reads %d", inv.SchemaVersion, inventory.SchemaVersion)
		}
		return &inv, FormatInventory, nil
	}
	return nil, "", ErrNotSBOM
}

// jsonErr drops encoding/json's Go type names from an error.
func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type (a JSON %s)", te.Field, te.Value)
	}
	return err.Error()
}

type cdxComponent struct {
	Type       string         `json:"type"`
	Name       string         `json:"name"`
	Version    string         `json:"version"`
	PURL       string         `json:"purl"`
	Components []cdxComponent `json:"components"`
	Properties []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"properties"`
}

func readCycloneDX(b []byte) (*inventory.Inventory, error) {
	var doc struct {
		Metadata struct {
			Component *cdxComponent `json:"component"`
		} `json:"metadata"`
		Components []cdxComponent `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("CycloneDX: %v", jsonErr(err))
	}
	inv := &inventory.Inventory{SchemaVersion: inventory.SchemaVersion}
	var noPURL int
	var walk func(cs []cdxComponent, depth int)
	walk = func(cs []cdxComponent, depth int) {
		if depth > 64 {
			return
		}
		for _, c := range cs {
			switch {
			case c.Type == "operating-system":
				if inv.OS == nil {
					inv.OS = &inventory.OS{ID: strings.ToLower(c.Name), VersionID: c.Version}
				}
			case c.PURL != "":
				p, ok := fromPURL(c.PURL)
				if !ok {
					noPURL++
					break
				}
				for _, prop := range c.Properties {
					switch prop.Name {
					case "drydock:source-name":
						p.SourceName = prop.Value
					case "drydock:source-version":
						p.SourceVersion = prop.Value
					case "drydock:path":
						p.Path = prop.Value
					case "drydock:layer":
						p.Layer = prop.Value
					}
				}
				inv.Packages = append(inv.Packages, p)
			case c.Type == "library" || c.Type == "application" || c.Type == "framework":
				if len(c.Components) == 0 {
					noPURL++
				}
			}
			walk(c.Components, depth+1)
		}
	}
	walk(doc.Components, 0)
	finish(inv, noPURL)
	return inv, nil
}

func readSPDX(b []byte) (*inventory.Inventory, error) {
	var doc struct {
		Packages []struct {
			Name         string `json:"name"`
			Version      string `json:"versionInfo"`
			Purpose      string `json:"primaryPackagePurpose"`
			ExternalRefs []struct {
				Type    string `json:"referenceType"`
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("SPDX: %v", jsonErr(err))
	}
	inv := &inventory.Inventory{SchemaVersion: inventory.SchemaVersion}
	var noPURL int
	for _, sp := range doc.Packages {
		if sp.Purpose == "OPERATING_SYSTEM" {
			if inv.OS == nil {
				inv.OS = &inventory.OS{ID: strings.ToLower(sp.Name), VersionID: sp.Version}
			}
			continue
		}
		found := false
		for _, r := range sp.ExternalRefs {
			if r.Type != "purl" {
				continue
			}
			if p, ok := fromPURL(r.Locator); ok {
				inv.Packages = append(inv.Packages, p)
				found = true
				break
			}
		}
		if !found && sp.Purpose != "CONTAINER" && sp.Purpose != "" {
			noPURL++
		}
	}
	finish(inv, noPURL)
	return inv, nil
}

// finish derives the OS from the packages' distro qualifier when the
// document named none, and records what was left out.
func finish(inv *inventory.Inventory, noPURL int) {
	if inv.OS == nil {
		for _, p := range inv.Packages {
			if d := distroOf(p.PURL); d != nil {
				inv.OS = d
				break
			}
		}
	}
	if noPURL > 0 {
		inv.Problems = append(inv.Problems, inventory.Problem{Stage: "sbom",
			Message: strconv.Itoa(noPURL) + " components have no usable package URL and were not matched"})
	}
	if inv.Packages == nil {
		inv.Packages = []inventory.Package{}
	}
}

// distroOf reads the "distro" qualifier of an OS package URL
// ("debian-12", "alpine-3.20.1", "almalinux-9.4").
func distroOf(purl string) *inventory.OS {
	u, err := packageurl.FromString(purl)
	if err != nil {
		return nil
	}
	d := u.Qualifiers.Map()["distro"]
	if d == "" {
		return nil
	}
	id, ver, _ := strings.Cut(d, "-")
	if id == "" {
		return nil
	}
	if ver == "" && u.Namespace != "" {
		return &inventory.OS{ID: strings.ToLower(u.Namespace), VersionID: id}
	}
	return &inventory.OS{ID: strings.ToLower(id), VersionID: ver}
}

// fromPURL makes an inventory package of a package URL, named the way
// drydock's extractors name them (Go modules by their whole path, Maven
// and npm with Namespace apart).
func fromPURL(s string) (inventory.Package, bool) {
	u, err := packageurl.FromString(s)
	if err != nil || u.Name == "" {
		return inventory.Package{}, false
	}
	q := u.Qualifiers.Map()
	p := inventory.Package{Type: u.Type, Name: u.Name, Version: u.Version, Namespace: u.Namespace, PURL: s, Arch: q["arch"]}
	switch u.Type {
	case inventory.TypeGolang:
		if u.Namespace != "" {
			p.Name = u.Namespace + "/" + u.Name
		}
		p.Namespace = ""
	case inventory.TypeDeb, inventory.TypeAPK, inventory.TypeRPM:
		if up := q["upstream"]; up != "" {
			name, ver, _ := strings.Cut(up, "@")
			p.SourceName, p.SourceVersion = name, ver
		}
		if e := q["epoch"]; e != "" && u.Type == inventory.TypeRPM {
			p.Epoch, _ = strconv.Atoi(e)
		}
	}
	return p, true
}
