package npm

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/drydock/drydock/internal/extract/jsontok"
	"github.com/drydock/drydock/internal/inventory"
)

// packageJSON holds the fields of an installed package.json we keep.
type packageJSON struct {
	Name     string          `json:"name"`
	Version  string          `json:"version"`
	License  json.RawMessage `json:"license"`
	Licenses json.RawMessage `json:"licenses"`
}

// ParsePackageJSON reads an installed package's package.json. It returns nil
// and no error for a package.json without name or version: such files exist
// in node_modules (test fixtures, placeholder packages) and describe nothing
// a scanner can match.
func ParsePackageJSON(r io.Reader) (*inventory.Package, error) {
	var pj packageJSON
	if err := json.NewDecoder(r).Decode(&pj); err != nil {
		return nil, fmt.Errorf("parse package.json: %w: %w", ErrMalformed, jsontok.Describe(err))
	}
	p, ok := newPackage(pj.Name, pj.Version)
	if !ok {
		return nil, nil
	}
	p.Licenses = licenses(pj.License)
	if len(p.Licenses) == 0 {
		p.Licenses = licenses(pj.Licenses)
	}
	return &p, nil
}

// licenses reads the "license" field in its current form (an SPDX expression
// string) and in the legacy forms npm still accepts from old packages: an
// object {"type": "MIT", "url": ...} and an array of such objects or strings.
func licenses(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s = strings.TrimSpace(s); s != "" {
			return []string{s}
		}
		return nil
	}
	var obj struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		if t := strings.TrimSpace(obj.Type); t != "" {
			return []string{t}
		}
		return nil
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) != nil {
		return nil
	}
	var out []string
	for _, e := range arr {
		if len(out) >= 16 {
			break
		}
		// Nested arrays are not a form npm ever wrote; licenses of one
		// level keeps the recursion shallow.
		if len(e) > 0 && e[0] == '[' {
			continue
		}
		out = append(out, licenses(e)...)
	}
	return out
}
