package report

import (
	"strings"

	"github.com/github/go-spdx/v2/spdxexp/spdxlicenses"
)

// License strings come from package metadata as written by packagers: npm and
// Maven usually carry SPDX identifiers or expressions, while dpkg copyright
// files and apk use their own names ("GPL-2+", "BSD-3-clause", "public-domain").
// SBOM formats need valid SPDX data, so each string is checked here rather
// than passed through.
//
// The identifiers come from the SPDX License List as github.com/github/go-spdx
// generates it from SPDX's machine-readable license-list-data (the list
// version is spdxlicenses.LicenseListVersion()), so a new SPDX release
// reaches drydock with `go get -u github.com/github/go-spdx/v2` instead of a
// hand-edited table. Identifiers match case-insensitively, as SPDX says, and
// come back in their canonical spelling.

// licenseID returns the canonical SPDX identifier for s, if s is one: a
// license (deprecated ones too, like "GPL-2.0+": packagers still write
// them and they stay valid identifiers) or an exception (the CycloneDX
// license.id list holds both).
func licenseID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if id, ok := spdxLicense(s); ok {
		return id, true
	}
	return spdxException(s)
}

// spdxLicense returns the canonical identifier of the license s.
func spdxLicense(s string) (string, bool) {
	if ok, id := spdxlicenses.IsActiveLicense(s); ok {
		return id, true
	}
	if ok, id := spdxlicenses.IsDeprecatedLicense(s); ok {
		return id, true
	}
	return "", false
}

// spdxException returns the canonical identifier of the exception s.
func spdxException(s string) (string, bool) {
	if ok, id := spdxlicenses.IsException(s); ok {
		return id, true
	}
	return "", false
}

// spdxExpression parses s as an SPDX license expression (SPDX 2.3 annex D)
// and returns it normalised: canonical identifiers, upper-case operators,
// single spaces. compound reports whether it has an operator.
func spdxExpression(s string) (expr string, compound, ok bool) {
	p := exprParser{toks: tokenizeLicense(s)}
	if len(p.toks) == 0 {
		return "", false, false
	}
	if !p.parseOr() || p.pos != len(p.toks) {
		return "", false, false
	}
	return strings.ReplaceAll(strings.ReplaceAll(strings.Join(p.out, " "), "( ", "("), " )", ")"), p.compound, true
}

func tokenizeLicense(s string) []string {
	var toks []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch r {
		case '(', ')':
			flush()
			toks = append(toks, string(r))
		case ' ', '\t', '\n', '\r':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return toks
}

type exprParser struct {
	toks     []string
	pos      int
	out      []string
	compound bool
}

func (p *exprParser) peekOp(op string) bool {
	if p.pos >= len(p.toks) {
		return false
	}
	t := p.toks[p.pos]
	// The spec allows the operators in all upper or all lower case.
	return t == op || t == strings.ToLower(op)
}

func (p *exprParser) parseOr() bool {
	if !p.parseAnd() {
		return false
	}
	for p.peekOp("OR") {
		p.pos++
		p.out = append(p.out, "OR")
		p.compound = true
		if !p.parseAnd() {
			return false
		}
	}
	return true
}

func (p *exprParser) parseAnd() bool {
	if !p.parseWith() {
		return false
	}
	for p.peekOp("AND") {
		p.pos++
		p.out = append(p.out, "AND")
		p.compound = true
		if !p.parseWith() {
			return false
		}
	}
	return true
}

func (p *exprParser) parseWith() bool {
	if !p.parseAtom() {
		return false
	}
	if p.peekOp("WITH") {
		p.pos++
		p.compound = true
		if p.pos >= len(p.toks) {
			return false
		}
		id, ok := spdxException(p.toks[p.pos])
		if !ok {
			return false
		}
		p.pos++
		p.out = append(p.out, "WITH", id)
	}
	return true
}

func (p *exprParser) parseAtom() bool {
	if p.pos >= len(p.toks) {
		return false
	}
	t := p.toks[p.pos]
	switch {
	case t == "(":
		p.pos++
		p.out = append(p.out, "(")
		if !p.parseOr() || p.pos >= len(p.toks) || p.toks[p.pos] != ")" {
			return false
		}
		p.pos++
		p.out = append(p.out, ")")
		return true
	case t == ")" || isOperator(t):
		return false
	}
	p.pos++
	if ref, ok := licenseRef(t); ok {
		p.out = append(p.out, ref)
		return true
	}
	plus := strings.HasSuffix(t, "+")
	id, ok := spdxLicense(strings.TrimSuffix(t, "+"))
	if !ok {
		return false
	}
	if plus {
		id += "+"
	}
	p.out = append(p.out, id)
	return true
}

func isOperator(t string) bool {
	switch t {
	case "AND", "OR", "WITH", "and", "or", "with":
		return true
	}
	return false
}

// licenseRef accepts LicenseRef-x and DocumentRef-x:LicenseRef-y with idstrings
// of letters, digits, "." and "-".
func licenseRef(t string) (string, bool) {
	doc, ref, hasDoc := strings.Cut(t, ":")
	if !hasDoc {
		ref, doc = doc, ""
	}
	if hasDoc && (!strings.HasPrefix(doc, "DocumentRef-") || !isIDString(doc[len("DocumentRef-"):])) {
		return "", false
	}
	if !strings.HasPrefix(ref, "LicenseRef-") || !isIDString(ref[len("LicenseRef-"):]) {
		return "", false
	}
	return t, true
}

func isIDString(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !isIDRune(r) {
			return false
		}
	}
	return true
}

func isIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-'
}

// sanitizeID replaces every character SPDX does not allow in an idstring
// with "-", so any package name or license name can become part of an ID.
func sanitizeID(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if isIDRune(r) {
			out = append(out, byte(r))
		} else {
			out = append(out, '-')
		}
	}
	if len(out) == 0 {
		return "unknown"
	}
	return string(out)
}
