package suppress

import (
	"bufio"
	"bytes"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/drydock/drydock/internal/configfile"
)

// Trivy's ignore file (.trivyignore), accepted as it is so that users can
// migrate: one vulnerability ID per line, optionally followed by
// "exp:YYYY-MM-DD"; "#" starts a comment. The comment lines right above an
// ID are its reason, as Trivy users write them.
var trivyLine = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9._:-]*[A-Za-z0-9])(?:\s+exp:(\S+))?\s*(?:#.*)?$`)

// isTrivyIgnore reports whether b is in Trivy's line format rather than
// drydock's YAML: it has at least one ID line and every other line is blank
// or a comment. A YAML ignore file always has an "ignore:" key, which no ID
// line matches.
func isTrivyIgnore(b []byte) bool {
	ids := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !trivyLine.MatchString(l) || strings.HasSuffix(strings.Fields(l)[0], ":") {
			return false
		}
		ids++
	}
	return ids > 0
}

func parseTrivyIgnore(b []byte, name string, fail func(string, ...any) error) (*IgnoreFile, error) {
	ig := &IgnoreFile{Entries: []Entry{}}
	src := "a .trivyignore file"
	if name != "" {
		src = filepath.Base(name)
	}
	var comment []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "":
			comment = nil
			continue
		case strings.HasPrefix(l, "#"):
			comment = append(comment, strings.TrimSpace(strings.TrimLeft(l, "#")))
			continue
		}
		m := trivyLine.FindStringSubmatch(l)
		e := Entry{Index: len(ig.Entries), Line: line, ID: m[1]}
		e.Reason = strings.TrimSpace(strings.Join(comment, " "))
		if e.Reason == "" {
			e.Reason = "listed in " + src
		}
		comment = nil
		if m[2] != "" {
			t, err := configfile.ParseExpiry(m[2])
			if err != nil {
				return nil, fail("%s: exp: %v", e.where(), err)
			}
			e.Expires = t
		}
		ig.Entries = append(ig.Entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fail("%v", err)
	}
	return ig, nil
}
