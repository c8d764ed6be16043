package match

import (
	"strconv"
	"strings"

	"github.com/drydock/drydock/internal/inventory"
)

// Ecosystem maps a package, and for OS packages the detected distribution,
// to the OSV ecosystem its advisories are filed under. It returns false when
// drydock knows no such ecosystem (an OS package on an unknown or
// unversioned distribution, an unknown package type).
func Ecosystem(os *inventory.OS, p inventory.Package) (string, bool) {
	switch p.Type {
	case inventory.TypeGolang:
		return "Go", true
	case inventory.TypeNPM:
		return "npm", true
	case inventory.TypePyPI:
		return "PyPI", true
	case inventory.TypeMaven:
		return "Maven", true
	case inventory.TypeCargo:
		return "crates.io", true
	case inventory.TypeNuGet:
		return "NuGet", true
	case inventory.TypeGem:
		return "RubyGems", true
	case inventory.TypeComposer:
		return "Packagist", true
	}
	if os == nil {
		return "", false
	}
	id := strings.ToLower(os.ID)
	major, minor := release(os.VersionID)
	switch p.Type {
	case inventory.TypeDeb:
		switch id {
		case "debian":
			// Debian advisories name the major release only; testing and
			// sid have no VERSION_ID and no OSV ecosystem.
			if major != "" {
				return "Debian:" + major, true
			}
		case "ubuntu":
			if major != "" && minor != "" {
				eco := "Ubuntu:" + major + "." + minor
				// OSV suffixes long-term-support releases: those are
				// the April releases of even years (22.04, 24.04).
				if minor == "04" && len(major) == 2 && (major[1]-'0')%2 == 0 {
					eco += ":LTS"
				}
				return eco, true
			}
		}
	case inventory.TypeAPK:
		switch id {
		case "alpine":
			if major != "" && minor != "" {
				return "Alpine:v" + major + "." + minor, true
			}
		case "wolfi":
			return "Wolfi", true
		case "chainguard":
			return "Chainguard", true
		}
	case inventory.TypeRPM:
		switch id {
		case "almalinux":
			if major != "" {
				return "AlmaLinux:" + major, true
			}
		case "rocky":
			if major != "" {
				return "Rocky Linux:" + major, true
			}
		case "rhel":
			// Best effort: OSV's Red Hat ecosystems name a CPE product and
			// repository ("Red Hat:enterprise_linux:9::appstream") that
			// os-release does not reveal. This names the product stream;
			// the store also falls back to the bare "Red Hat".
			if major != "" {
				return "Red Hat:enterprise_linux:" + major, true
			}
		case "opensuse-leap":
			if os.VersionID != "" {
				return "openSUSE:Leap " + os.VersionID, true
			}
		case "opensuse-tumbleweed":
			return "openSUSE:Tumbleweed", true
		case "sles":
			// Best effort: "15.5" → "SUSE:Linux Enterprise Server 15 SP5";
			// SUSE files many advisories under module names instead.
			if major != "" {
				eco := "SUSE:Linux Enterprise Server " + major
				if minor != "" && minor != "0" {
					eco += " SP" + minor
				}
				return eco, true
			}
		case "mariner":
			if major != "" {
				return "Mariner:" + major + ".0", true
			}
		case "azurelinux":
			if major != "" {
				return "Azure Linux:" + major + ".0", true
			}
		}
	}
	return "", false
}

// release splits an os-release VERSION_ID into its numeric major and minor
// parts ("3.20.3" → "3", "20"; "22.04" → "22", "04"; "3.21_alpha2024" → "3",
// "21"), returning empty strings for parts that are not numbers.
func release(versionID string) (major, minor string) {
	parts := strings.SplitN(versionID, ".", 3)
	num := func(s string) string {
		end := 0
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		return s[:end]
	}
	major = num(parts[0])
	if major == "" || major != parts[0] {
		return "", ""
	}
	if len(parts) > 1 {
		minor = num(parts[1])
	}
	return major, minor
}

// lookupName returns the package name OSV advisories of the ecosystem use
// for p, and the version to compare.
func lookupName(p inventory.Package) (name, ver string) {
	name, ver = p.Name, p.Version
	switch p.Type {
	case inventory.TypeDeb, inventory.TypeAPK:
		// Debian, Ubuntu and Alpine advisories name source packages.
		if p.SourceName != "" {
			name = p.SourceName
			if p.SourceVersion != "" {
				ver = p.SourceVersion
			}
		}
	case inventory.TypeRPM:
		// RPM-based advisories name binary packages; the epoch is kept
		// apart in the inventory but is part of the EVR compared.
		if p.Epoch != 0 {
			ver = strconv.Itoa(p.Epoch) + ":" + ver
		}
	case inventory.TypeMaven:
		if p.Namespace != "" && !strings.Contains(name, ":") {
			name = p.Namespace + ":" + name
		}
	case inventory.TypeNPM:
		if p.Namespace != "" && !strings.Contains(name, "/") {
			ns := p.Namespace
			if !strings.HasPrefix(ns, "@") {
				ns = "@" + ns
			}
			name = ns + "/" + name
		}
	case inventory.TypeComposer:
		if p.Namespace != "" && !strings.Contains(name, "/") {
			name = p.Namespace + "/" + name
		}
	}
	return name, ver
}
