package suppress

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/drydock/drydock/internal/configfile"
	"github.com/drydock/drydock/internal/glob"
)

// ErrInvalidIgnoreFile is wrapped by every error about the content of an
// ignore file (as opposed to failing to read it).
var ErrInvalidIgnoreFile = errors.New("invalid ignore file")

// IgnoreFile is a parsed ignore file.
type IgnoreFile struct {
	// Path is the file it was loaded from; empty for ParseIgnoreFile.
	Path    string
	Entries []Entry
}

// Entry is one rule of an ignore file. At least one of ID and Package is
// set; when both are, a finding must match both.
type Entry struct {
	// Index is the entry's position in the file's ignore list, from 0.
	Index int
	// Line is the 1-based line the entry starts on; 0 when unknown.
	Line int
	// ID is a vulnerability ID, compared case-insensitively with a
	// finding's ID and each of its aliases.
	ID string
	// Package is a glob (see the package comment) over the package URL when
	// it starts with "pkg:", else over the package name.
	Package string
	Reason  string
	// Expires is when the entry stops applying; zero for never. A date
	// without a time expires at the end of that day, UTC.
	Expires time.Time

	glob *glob.Pattern
}

// Expired reports whether the entry no longer applies at now.
func (e *Entry) Expired(now time.Time) bool {
	return !e.Expires.IsZero() && !now.Before(e.Expires)
}

// where names the entry in messages: "entry 2 (line 7)".
func (e *Entry) where() string {
	if e.Line > 0 {
		return fmt.Sprintf("entry %d (line %d)", e.Index, e.Line)
	}
	return fmt.Sprintf("entry %d", e.Index)
}

// rawFile and rawEntry are the on-disk shape, decoded strictly.
type rawFile struct {
	Ignore []json.RawMessage `json:"ignore"`
}

type rawEntry struct {
	ID      string `json:"id"`
	Package string `json:"package"`
	Reason  string `json:"reason"`
	Expires string `json:"expires"`
}

// LoadIgnoreFile reads and parses the ignore file at path.
func LoadIgnoreFile(path string) (*IgnoreFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load ignore file: %w", err)
	}
	ig, err := parseIgnoreFile(b, path)
	if err != nil {
		return nil, err
	}
	ig.Path = path
	return ig, nil
}

// ParseIgnoreFile parses an ignore file's content. Errors wrap
// ErrInvalidIgnoreFile and name the entry's index and line.
func ParseIgnoreFile(b []byte) (*IgnoreFile, error) {
	return parseIgnoreFile(b, "")
}

func parseIgnoreFile(b []byte, name string) (*IgnoreFile, error) {
	op := "parse ignore file"
	if name != "" {
		op += " " + name
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", op, ErrInvalidIgnoreFile, fmt.Sprintf(format, args...))
	}
	if isTrivyIgnore(b) {
		return parseTrivyIgnore(b, name, fail)
	}
	// A first pass through the node-level parser finds the line of each
	// entry; the JSON that ToJSON makes has no positions.
	lines, err := entryLines(b)
	if err != nil {
		return nil, fail("%v", err)
	}
	// ToJSON rejects duplicate keys; the JSON decoders below
	// reject unknown fields.
	j, empty, err := configfile.ToJSON(b)
	if err != nil {
		return nil, fail("%v", err)
	}
	ig := &IgnoreFile{Entries: []Entry{}}
	if empty {
		return ig, nil // an empty file (or only comments) ignores nothing
	}
	var rf rawFile
	if err := configfile.DecodeJSON(j, &rf); err != nil {
		return nil, fail("%v", err)
	}
	for i, raw := range rf.Ignore {
		e := Entry{Index: i}
		if i < len(lines) {
			e.Line = lines[i]
		}
		var re rawEntry
		if err := configfile.DecodeJSON(raw, &re); err != nil {
			return nil, fail("%s: %v", e.where(), err)
		}
		e.ID = strings.TrimSpace(re.ID)
		e.Package = strings.TrimSpace(re.Package)
		e.Reason = strings.TrimSpace(re.Reason)
		if e.ID == "" && e.Package == "" {
			return nil, fail("%s: needs an id or a package", e.where())
		}
		if e.Reason == "" {
			return nil, fail("%s: reason is required", e.where())
		}
		if e.Package != "" {
			if e.glob, err = glob.Compile(e.Package); err != nil {
				return nil, fail("%s: package: %v", e.where(), err)
			}
		}
		if re.Expires != "" {
			if e.Expires, err = configfile.ParseExpiry(re.Expires); err != nil {
				return nil, fail("%s: expires: %v", e.where(), err)
			}
		}
		ig.Entries = append(ig.Entries, e)
	}
	return ig, nil
}

// entryLines returns the line of each item of the top-level "ignore"
// sequence, as far as it can tell; shape errors are left to the strict
// decoder, which words them better.
func entryLines(b []byte) ([]int, error) {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yamlv3.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	top := doc.Content[0]
	if top.Kind != yamlv3.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "ignore" || top.Content[i+1].Kind != yamlv3.SequenceNode {
			continue
		}
		var lines []int
		for _, item := range top.Content[i+1].Content {
			lines = append(lines, item.Line)
		}
		return lines, nil
	}
	return nil, nil
}
