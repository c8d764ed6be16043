package suppress

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/glob"
	"github.com/drydock/drydock/internal/inventory"
)

// Sources of a suppression.
const (
	SourceIgnoreUnfixed = "ignore-unfixed"
	SourceIgnoreFile    = "ignorefile"
	SourceVEX           = "vex"
)

// Options are the scan facts and flags Apply needs.
type Options struct {
	// IgnoreUnfixed suppresses findings with no known fixed version.
	IgnoreUnfixed bool
	// Now decides which ignore entries have expired; zero means time.Now().
	Now time.Time
	// ImageDigest ("sha256:…", the platform manifest) and ImageName (the
	// repository, without tag or digest) let VEX statements about the
	// image apply. With both empty only statements naming packages do.
	ImageDigest, ImageName string
}

// Result says which findings remain.
type Result struct {
	// Kept are the findings nothing suppressed, in input order.
	Kept []finding.Finding
	// Suppressed are the others, in input order.
	Suppressed []Suppression
	// Expired are the ignore entries past their expiry, in file order,
	// whether or not they would have matched anything: a CI gate should
	// say that a waiver lapsed even when the finding it covered is gone.
	Expired []Entry
}

// Suppression is a finding and why it was left out.
type Suppression struct {
	Finding finding.Finding
	// Source is SourceVEX, SourceIgnoreFile or SourceIgnoreUnfixed.
	Source string
	// Reason is the ignore entry's reason, the VEX statement's status with
	// its justification and impact statement, or a fixed text for
	// --ignore-unfixed.
	Reason string
	// Ref points at the rule: "<file> entry 2 (line 7)", or the VEX
	// document's path (or @id) and statement index. Empty for unfixed.
	Ref string
}

// Apply splits findings into kept and suppressed. A finding that several
// rules suppress is attributed to the most specific: a VEX statement first
// (an attested decision about this image), then an ignore entry, then
// --ignore-unfixed. ig and vexDocs may be nil.
func Apply(findings []finding.Finding, ig *IgnoreFile, vexDocs []*VEXDocument, opts Options) Result {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	var active []*Entry
	res := Result{Kept: []finding.Finding{}, Suppressed: []Suppression{}, Expired: []Entry{}}
	if ig != nil {
		for i := range ig.Entries {
			e := &ig.Entries[i]
			if e.Expired(now) {
				res.Expired = append(res.Expired, *e)
				continue
			}
			active = append(active, e)
		}
	}
	img := newImageKeys(opts)
	for _, f := range findings {
		keys := newFindingKeys(&f)
		if s, ok := suppressOne(&f, keys, ig, active, vexDocs, img, opts); ok {
			res.Suppressed = append(res.Suppressed, s)
			continue
		}
		res.Kept = append(res.Kept, f)
	}
	return res
}

func suppressOne(f *finding.Finding, keys *findingKeys, ig *IgnoreFile, active []*Entry, docs []*VEXDocument, img imageKeys, opts Options) (Suppression, bool) {
	if v := vexFor(docs, keys, img); v != nil && (v.st.Status == vex.StatusNotAffected || v.st.Status == vex.StatusFixed) {
		ref := v.doc.name()
		for i := range v.doc.Doc.Statements {
			if &v.doc.Doc.Statements[i] == v.st {
				ref = fmt.Sprintf("%s statement %d", ref, i)
				break
			}
		}
		return Suppression{Finding: *f, Source: SourceVEX, Reason: vexReason(v.st), Ref: ref}, true
	}
	for _, e := range active {
		if entryMatches(e, keys) {
			ref := e.where()
			if ig.Path != "" {
				ref = ig.Path + " " + ref
			}
			return Suppression{Finding: *f, Source: SourceIgnoreFile, Reason: e.Reason, Ref: ref}, true
		}
	}
	if opts.IgnoreUnfixed && len(f.FixedVersions) == 0 {
		return Suppression{Finding: *f, Source: SourceIgnoreUnfixed, Reason: "no fixed version is known"}, true
	}
	return Suppression{}, false
}

// findingKeys are a finding's identities, computed once per finding.
type findingKeys struct {
	ids []string // upper-cased ID and aliases
	// purl is the package's URL: the inventory's, or one built without OS
	// facts when the inventory had none. Nil when it does not parse.
	purl      *packageurl.PackageURL
	purlText  string
	name      string
	namespace string
}

func newFindingKeys(f *finding.Finding) *findingKeys {
	k := &findingKeys{name: f.Package.Name, namespace: f.Package.Namespace}
	k.ids = append(k.ids, strings.ToUpper(strings.TrimSpace(f.ID)))
	for _, a := range f.Aliases {
		k.ids = append(k.ids, strings.ToUpper(strings.TrimSpace(a)))
	}
	k.purlText = f.Package.PURL
	if k.purlText == "" && f.Package.Type != "" && f.Package.Name != "" {
		k.purlText = inventory.PURL(f.Package, nil)
	}
	if k.purlText != "" {
		if p, err := packageurl.FromString(k.purlText); err == nil {
			k.purl = &p
		}
	}
	return k
}

func (k *findingKeys) hasID(id string) bool {
	id = strings.ToUpper(strings.TrimSpace(id))
	if id == "" {
		return false
	}
	for _, x := range k.ids {
		if x == id {
			return true
		}
	}
	return false
}

func entryMatches(e *Entry, k *findingKeys) bool {
	if e.ID != "" && !k.hasID(e.ID) {
		return false
	}
	if e.glob != nil && !packageMatches(e, k) {
		return false
	}
	return true
}

// packageMatches applies a package pattern. A "pkg:" pattern is tried on
// the whole package URL and, so that "pkg:deb/debian/openssl" or
// "pkg:npm/lodash@4.*" need not spell out qualifiers, on the URL without
// its qualifiers and subpath, and without its version too. Other patterns
// are tried on the name and on "namespace/name" (npm scopes, Maven groups).
func packageMatches(e *Entry, k *findingKeys) bool {
	if strings.HasPrefix(e.Package, "pkg:") {
		if k.purlText == "" {
			return false
		}
		if matchPURLText(e.glob, k.purlText) {
			return true
		}
		if k.purl == nil {
			return false
		}
		p := *k.purl
		p.Qualifiers, p.Subpath = nil, ""
		if matchPURLText(e.glob, p.ToString()) {
			return true
		}
		p.Version = ""
		return matchPURLText(e.glob, p.ToString())
	}
	if k.name != "" && e.glob.Match(k.name) {
		return true
	}
	return k.namespace != "" && e.glob.Match(k.namespace+"/"+k.name)
}

// matchPURLText tries a package URL as written and percent-decoded, so that
// "pkg:npm/@babel/*" matches "pkg:npm/%40babel/core@7.24.0" and
// "pkg:deb/debian/libc6@2.36-9+*" matches a version written with %2B.
func matchPURLText(g *glob.Pattern, s string) bool {
	if g.Match(s) {
		return true
	}
	u, err := url.PathUnescape(s)
	return err == nil && u != s && g.Match(u)
}
