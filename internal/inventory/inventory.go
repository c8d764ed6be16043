// Package inventory holds the data model shared by every stage of drydock: the
// packages found in an image, where they were found, and what the image is.
// It is the leaf of the import graph and imports nothing internal.
package inventory

import "time"

// Package types, as package-URL types. They name the packaging system an
// extractor read, not the vulnerability ecosystem: the matcher maps a type plus
// the detected OS to an OSV ecosystem such as "Debian:12".
const (
	TypeDeb      = "deb"
	TypeAPK      = "apk"
	TypeRPM      = "rpm"
	TypeGolang   = "golang"
	TypeNPM      = "npm"
	TypePyPI     = "pypi"
	TypeMaven    = "maven"
	TypeCargo    = "cargo"
	TypeNuGet    = "nuget"
	TypeGem      = "gem"
	TypeComposer = "composer"
)

// Origin says whether a package came from the base image's layers or from the
// layers added on top of it. It is empty when the base is unknown.
type Origin string

const (
	OriginUnknown Origin = ""
	OriginBase    Origin = "base"
	OriginApp     Origin = "app"
)

// Package is one installed package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Type is the package-URL type (TypeDeb, TypeNPM, ...).
	Type string `json:"type"`
	Arch string `json:"arch,omitempty"`
	// Epoch is kept apart from Version for rpm, whose databases store it so;
	// Version never includes it. Zero means none.
	Epoch int `json:"epoch,omitempty"`
	// SourceName and SourceVersion name the source package a binary package was
	// built from (Debian, Ubuntu, Alpine origin, rpm SRPM). Debian advisories
	// name source packages, so matching uses these when set.
	SourceName    string `json:"sourceName,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	// Namespace is the package-URL namespace: the distro for OS packages
	// ("debian"), the group for Maven, the scope for npm.
	Namespace string   `json:"namespace,omitempty"`
	PURL      string   `json:"purl,omitempty"`
	Licenses  []string `json:"licenses,omitempty"`
	// Dev marks development-only dependencies found in lockfiles.
	Dev bool `json:"dev,omitempty"`
	// Path is the file the package was read from, relative to the image root
	// without a leading slash.
	Path string `json:"path"`
	// Layer is the diffID of the layer that introduced this package version,
	// LayerIndex its position (0 = bottom). Both are empty for rootfs sources.
	Layer      string `json:"layer,omitempty"`
	LayerIndex int    `json:"layerIndex"`
	Origin     Origin `json:"origin,omitempty"`
}

// Key identifies a package version at a location, to tell packages apart when
// squashing layers.
func (p Package) Key() string {
	return p.Type + "\x00" + p.Namespace + "\x00" + p.Name + "\x00" + p.Version + "\x00" + p.Arch + "\x00" + p.Path
}

// OS is the distribution detected from os-release (or its equivalents).
type OS struct {
	// ID is the os-release ID ("debian", "alpine", "almalinux", ...).
	ID string `json:"id"`
	// VersionID is the os-release VERSION_ID ("12", "3.20.3", "9.4").
	VersionID  string `json:"versionId,omitempty"`
	Codename   string `json:"codename,omitempty"`
	PrettyName string `json:"prettyName,omitempty"`
	// Distroless is set for Google's distroless images, which have no dpkg
	// status file but a status.d directory.
	Distroless bool `json:"distroless,omitempty"`
}

// Layer describes one layer of the scanned image.
type Layer struct {
	Index     int    `json:"index"`
	DiffID    string `json:"diffId"`
	Digest    string `json:"digest,omitempty"`
	Size      int64  `json:"size,omitempty"`
	CreatedBy string `json:"createdBy,omitempty"`
	Origin    Origin `json:"origin,omitempty"`
	// Cached is true when the layer's analysis came from the cache and the
	// layer itself was neither downloaded nor read.
	Cached bool `json:"cached,omitempty"`
}

// Source describes what was scanned.
type Source struct {
	// Kind is "registry", "oci-layout", "archive" or "rootfs".
	Kind string `json:"kind"`
	// Ref is the reference or path the user gave.
	Ref string `json:"ref"`
	// Name is the repository name without tag or digest, when known.
	Name string `json:"name,omitempty"`
	// Digest is the manifest digest of the image (the platform image, not the
	// index). IndexDigest is set when the reference named an index.
	Digest       string    `json:"digest,omitempty"`
	IndexDigest  string    `json:"indexDigest,omitempty"`
	ConfigDigest string    `json:"configDigest,omitempty"`
	Platform     string    `json:"platform,omitempty"`
	Created      time.Time `json:"created,omitempty"`
	// BaseName and BaseDigest identify the base image when known, with
	// BaseMethod naming how it was found ("annotation", "flag").
	BaseName   string `json:"baseName,omitempty"`
	BaseDigest string `json:"baseDigest,omitempty"`
	BaseMethod string `json:"baseMethod,omitempty"`
	// BaseLayers is how many bottom layers belong to the base.
	BaseLayers int `json:"baseLayers,omitempty"`
	// Labels are the image config's labels (set by whoever built the
	// image: untrusted text).
	Labels map[string]string `json:"labels,omitempty"`
}

// Problem is a part of a scan that failed. A scan that could not read one file
// or one layer still returns what it found, and says what it missed here.
type Problem struct {
	// Stage is where it failed: "layer", "extract", "base", "os".
	Stage     string `json:"stage"`
	Layer     string `json:"layer,omitempty"`
	Path      string `json:"path,omitempty"`
	Extractor string `json:"extractor,omitempty"`
	Message   string `json:"message"`
}

// Inventory is the result of reading an image: its packages and facts.
type Inventory struct {
	SchemaVersion int       `json:"schemaVersion"`
	Source        Source    `json:"source"`
	OS            *OS       `json:"os,omitempty"`
	Layers        []Layer   `json:"layers,omitempty"`
	Packages      []Package `json:"packages"`
	Problems      []Problem `json:"problems,omitempty"`
	// Tool is "drydock <version>".
	Tool      string    `json:"tool,omitempty"`
	Generated time.Time `json:"generated"`
}

// SchemaVersion is the version of the native JSON inventory format.
const SchemaVersion = 1
