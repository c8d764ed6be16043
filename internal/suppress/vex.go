package suppress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"
)

// ErrInvalidVEX is wrapped by every error about the content of a VEX
// document (as opposed to failing to read it).
var ErrInvalidVEX = errors.New("invalid OpenVEX document")

// vexContext is the JSON-LD context of the OpenVEX version drydock reads.
// Documents of the pre-release v0.0.1 have another shape and are rejected
// rather than misread; vexctl converts them.
const vexContext = vex.Context + "/v0.2.0"

// VEXDocument is a parsed OpenVEX document and where it came from.
type VEXDocument struct {
	// Path is the file it was loaded from; empty for ParseVEX.
	Path string
	Doc  *vex.VEX
}

// name is how suppressions and errors refer to the document.
func (d *VEXDocument) name() string {
	switch {
	case d.Path != "":
		return d.Path
	case d.Doc != nil && d.Doc.ID != "":
		return d.Doc.ID
	}
	return "VEX document"
}

// LoadVEX reads and parses OpenVEX v0.2.0 JSON documents, in order.
func LoadVEX(paths ...string) ([]*VEXDocument, error) {
	docs := make([]*VEXDocument, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("load VEX: %w", err)
		}
		d, err := parseVEX(b, p)
		if err != nil {
			return nil, err
		}
		d.Path = p
		docs = append(docs, d)
	}
	return docs, nil
}

// ParseVEX parses one OpenVEX v0.2.0 JSON document. Besides JSON errors it
// rejects other @context versions and statements the spec forbids (an
// unknown status, not_affected without a justification or impact
// statement, a statement naming no vulnerability), so that a document that
// says something else than intended fails the build instead of silently
// suppressing nothing. Errors wrap ErrInvalidVEX.
func ParseVEX(b []byte) (*VEXDocument, error) {
	return parseVEX(b, "")
}

func parseVEX(b []byte, name string) (*VEXDocument, error) {
	op := "parse VEX"
	if name != "" {
		op += " " + name
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", op, ErrInvalidVEX, fmt.Sprintf(format, args...))
	}
	// vex.Parse is lenient json.Unmarshal; check the document is a JSON
	// object first so "null" or a list give a clear message.
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return nil, fail("not a JSON object")
	}
	doc, err := vex.Parse(b)
	if err != nil {
		// vex.Parse prefixes "error: "; the JSON error is the useful part.
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fail("offset %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return nil, fail("%v", te)
		}
		return nil, fail("%v", err)
	}
	switch {
	case doc.Context == "":
		return nil, fail("no @context: not an OpenVEX document")
	case doc.Context != vexContext:
		return nil, fail("@context %q: only %s is supported", doc.Context, vexContext)
	}
	for i := range doc.Statements {
		st := &doc.Statements[i]
		if st.Vulnerability.Name == "" && len(st.Vulnerability.Aliases) == 0 {
			return nil, fail("statement %d: no vulnerability name", i)
		}
		if err := st.Validate(); err != nil {
			return nil, fail("statement %d (%s): %v", i, st.Vulnerability.Name, err)
		}
	}
	return &VEXDocument{Doc: doc}, nil
}

// vexVerdict is the statement that decides a finding, from all documents.
type vexVerdict struct {
	doc  *VEXDocument
	st   *vex.Statement
	when time.Time
}

// vexFor returns the statement about f with the latest timestamp (a
// statement without one inherits its document's), or nil. At equal times
// the later statement in the later document wins, as if appended.
func vexFor(docs []*VEXDocument, f *findingKeys, img imageKeys) *vexVerdict {
	var best *vexVerdict
	for _, d := range docs {
		if d == nil || d.Doc == nil {
			continue
		}
		for i := range d.Doc.Statements {
			st := &d.Doc.Statements[i]
			if !vulnMatches(st.Vulnerability, f) || !productsMatch(st.Products, f, img) {
				continue
			}
			when := stamp(st.Timestamp, st.LastUpdated)
			if when.IsZero() {
				when = stamp(d.Doc.Timestamp, d.Doc.LastUpdated)
			}
			if best == nil || !when.Before(best.when) {
				best = &vexVerdict{doc: d, st: st, when: when}
			}
		}
	}
	return best
}

// stamp is last_updated when set (a revised statement supersedes), else
// timestamp.
func stamp(ts, updated *time.Time) time.Time {
	if updated != nil && !updated.IsZero() {
		return *updated
	}
	if ts != nil {
		return *ts
	}
	return time.Time{}
}

func vulnMatches(v vex.Vulnerability, f *findingKeys) bool {
	if f.hasID(string(v.Name)) {
		return true
	}
	for _, a := range v.Aliases {
		if f.hasID(string(a)) {
			return true
		}
	}
	return false
}

// productsMatch: a product applies when it names the image or the
// package, and either lists no subcomponents or lists the package.
func productsMatch(products []vex.Product, f *findingKeys, img imageKeys) bool {
	for i := range products {
		p := &products[i]
		if !componentNamesImage(&p.Component, img) && !componentNamesPackage(&p.Component, f) {
			continue
		}
		if len(p.Subcomponents) == 0 {
			return true
		}
		for j := range p.Subcomponents {
			if componentNamesPackage(&p.Subcomponents[j].Component, f) {
				return true
			}
		}
	}
	return false
}

// componentIdentifiers lists the strings a component is known by: its @id
// and each of its identifiers.
func componentIdentifiers(c *vex.Component) []string {
	var ids []string
	if c.ID != "" {
		ids = append(ids, c.ID)
	}
	for _, v := range c.Identifiers {
		if v != "" {
			ids = append(ids, v)
		}
	}
	return ids
}

func componentNamesPackage(c *vex.Component, f *findingKeys) bool {
	if f.purl == nil {
		return false
	}
	for _, id := range componentIdentifiers(c) {
		if !strings.HasPrefix(id, "pkg:") {
			continue
		}
		if p, err := packageurl.FromString(id); err == nil && purlMatches(p, *f.purl) {
			return true
		}
	}
	return false
}

// purlMatches compares a VEX purl with the package's: type, namespace and
// name equal; version equal, except that a VEX purl without a version
// speaks for every version (OpenVEX's generic-to-specific matching);
// qualifiers only where both sides have the same key, so that
// "?arch=amd64" in a VEX document matches drydock's "?arch=amd64&distro=debian-12"
// but not "?arch=arm64".
func purlMatches(v, pkg packageurl.PackageURL) bool {
	if !strings.EqualFold(v.Type, pkg.Type) || v.Namespace != pkg.Namespace || v.Name != pkg.Name {
		return false
	}
	if v.Version != "" && v.Version != pkg.Version {
		return false
	}
	pq := pkg.Qualifiers.Map()
	for k, val := range v.Qualifiers.Map() {
		if pv, ok := pq[k]; ok && pv != val {
			return false
		}
	}
	return true
}

// imageKeys is the scanned image as VEX products may name it.
type imageKeys struct {
	digest string // "sha256:..."
	repo   string // normalized repository, "" when unknown
}

func newImageKeys(opts Options) imageKeys {
	return imageKeys{digest: strings.ToLower(strings.TrimSpace(opts.ImageDigest)), repo: normalizeRepo(opts.ImageName)}
}

// componentNamesImage reports whether a product is the scanned image: an
// identifier or hash that is its digest ("sha256:…", "registry/repo@sha256:…",
// "pkg:oci/app@sha256%3A…"), or an OCI purl without a version whose
// repository_url is the image's repository (which, like any versionless
// purl in OpenVEX, speaks for every digest of it).
func componentNamesImage(c *vex.Component, img imageKeys) bool {
	if img.digest != "" {
		algo, hexd, _ := strings.Cut(img.digest, ":")
		for a, h := range c.Hashes {
			if strings.EqualFold(string(h), hexd) && strings.ReplaceAll(string(a), "-", "") == algo {
				return true
			}
		}
	}
	for _, id := range componentIdentifiers(c) {
		if strings.HasPrefix(id, "pkg:") {
			p, err := packageurl.FromString(id)
			if err != nil || !strings.EqualFold(p.Type, "oci") {
				continue
			}
			if p.Version != "" {
				if img.digest != "" && strings.EqualFold(p.Version, img.digest) {
					return true
				}
				continue
			}
			if img.repo != "" && normalizeRepo(p.Qualifiers.Map()["repository_url"]) == img.repo {
				return true
			}
			continue
		}
		if img.digest == "" {
			continue
		}
		id = strings.ToLower(id)
		if id == img.digest || strings.HasSuffix(id, "@"+img.digest) {
			return true
		}
	}
	return false
}

// normalizeRepo makes Docker Hub's spellings of a repository equal
// ("alpine", "docker.io/library/alpine", "index.docker.io/library/alpine")
// and drops a URL scheme, which repository_url values sometimes carry.
func normalizeRepo(r string) string {
	r = strings.ToLower(strings.TrimSpace(r))
	if r == "" {
		return ""
	}
	if u, err := url.Parse(r); err == nil && u.Scheme != "" && u.Host != "" {
		r = u.Host + u.Path
	}
	r = strings.TrimSuffix(r, "/")
	for _, p := range []string{"index.docker.io/", "registry-1.docker.io/", "docker.io/"} {
		if strings.HasPrefix(r, p) {
			r = strings.TrimPrefix(r, p)
			break
		}
	}
	if !strings.Contains(r, "/") {
		r = "library/" + r
	}
	if i := strings.Index(r, "/"); i < 0 || !strings.ContainsAny(r[:i], ".:") && r[:i] != "localhost" {
		r = "docker.io/" + r
	}
	return r
}

// vexReason words a statement for the report.
func vexReason(st *vex.Statement) string {
	var b strings.Builder
	b.WriteString(string(st.Status))
	if st.Justification != "" {
		b.WriteString(": ")
		b.WriteString(string(st.Justification))
	}
	if st.ImpactStatement != "" {
		b.WriteString(": ")
		b.WriteString(st.ImpactStatement)
	} else if st.StatusNotes != "" {
		b.WriteString(": ")
		b.WriteString(st.StatusNotes)
	}
	return b.String()
}
