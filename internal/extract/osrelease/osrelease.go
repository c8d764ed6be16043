// Package osrelease detects the distribution of an image from
// /etc/os-release and, for images without one, from the older release files
// distributions kept before os-release existed. It is not an extractor: the
// layer walker collects the files named by Required, resolves symlinks (on
// most distributions etc/os-release links to usr/lib/os-release) and hands
// their contents to Detect once the image has been squashed.
package osrelease

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/drydock/drydock/internal/inventory"
)

// File paths, relative to the image root, in the order Detect prefers them.
const (
	OSRelease     = "etc/os-release"
	UsrOSRelease  = "usr/lib/os-release"
	AlpineRelease = "etc/alpine-release"
	DebianVersion = "etc/debian_version"
	RedHatRelease = "etc/redhat-release"
	SystemRelease = "etc/system-release"
	LSBRelease    = "etc/lsb-release"
)

// MaxFileSize bounds each release file. Real ones are under 1 KiB.
const MaxFileSize = 64 << 10

var (
	// ErrNotFound is returned when no file Detect knows names a distribution.
	ErrNotFound = errors.New("no distribution release file")
	// ErrTooLarge is wrapped when a release file exceeds MaxFileSize.
	ErrTooLarge = errors.New("too large")
)

var required = map[string]bool{
	OSRelease: true, UsrOSRelease: true, AlpineRelease: true, DebianVersion: true,
	RedHatRelease: true, SystemRelease: true, LSBRelease: true,
}

// Required reports whether Detect wants the file at path.
func Required(path string) bool { return required[path] }

// Paths lists the files Detect reads, sorted, so callers can gather them
// (resolving symlinks) and key caches on the set.
func Paths() []string {
	out := make([]string, 0, len(required))
	for p := range required {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Detect returns the distribution described by files, keyed by the paths
// Required accepts. os-release wins; the distribution-specific files fill in
// for images that have none, or whose os-release lacks a version.
func Detect(files map[string][]byte) (*inventory.OS, error) {
	for p, b := range files {
		if required[p] && len(b) > MaxFileSize {
			return nil, fmt.Errorf("osrelease: read %s: %d bytes exceeds the %d byte limit: %w", p, len(b), MaxFileSize, ErrTooLarge)
		}
	}
	var os *inventory.OS
	for _, p := range []string{OSRelease, UsrOSRelease} {
		if b, ok := files[p]; ok {
			if os = fromOSRelease(Parse(b)); os != nil {
				break
			}
		}
	}
	if os == nil {
		os = fromReleaseFiles(files)
	}
	if os == nil {
		return nil, ErrNotFound
	}
	// Debian testing and sid have no VERSION_ID; debian_version then says
	// "trixie/sid", which gives at least the codename.
	if os.ID == "debian" && (os.VersionID == "" || os.Codename == "") {
		if d := fromDebianVersion(files[DebianVersion]); d != nil {
			if os.VersionID == "" {
				os.VersionID = d.VersionID
			}
			if os.Codename == "" {
				os.Codename = d.Codename
			}
		}
	}
	return os, nil
}

var parenthesized = regexp.MustCompile(`\(([^()]*)\)`)

func fromOSRelease(kv map[string]string) *inventory.OS {
	os := &inventory.OS{
		ID:         strings.ToLower(kv["ID"]),
		VersionID:  kv["VERSION_ID"],
		Codename:   kv["VERSION_CODENAME"],
		PrettyName: kv["PRETTY_NAME"],
	}
	if os.Codename == "" {
		os.Codename = kv["UBUNTU_CODENAME"]
	}
	// Google's distroless images are Debian with a PRETTY_NAME of their own;
	// some releases left ID out.
	if strings.HasPrefix(os.PrettyName, "Distroless") {
		os.Distroless = true
		if os.ID == "" {
			os.ID = "debian"
		}
	}
	if os.ID == "" {
		return nil
	}
	// Older Debian os-release files have no VERSION_CODENAME but say
	// VERSION="9 (stretch)".
	if os.Codename == "" && os.ID == "debian" {
		if m := parenthesized.FindStringSubmatch(kv["VERSION"]); m != nil {
			os.Codename = m[1]
		}
	}
	return os
}

func fromReleaseFiles(files map[string][]byte) *inventory.OS {
	if b, ok := files[AlpineRelease]; ok {
		if v := firstLine(b); v != "" {
			return &inventory.OS{ID: "alpine", VersionID: v}
		}
	}
	for _, p := range []string{RedHatRelease, SystemRelease} {
		if os := fromRedHatRelease(firstLine(files[p])); os != nil {
			return os
		}
	}
	// lsb-release before debian_version: Ubuntu ships both, and its
	// debian_version names the Debian release it branched from.
	if b, ok := files[LSBRelease]; ok {
		kv := Parse(b)
		if id := strings.ToLower(kv["DISTRIB_ID"]); id != "" {
			return &inventory.OS{ID: id, VersionID: kv["DISTRIB_RELEASE"], Codename: kv["DISTRIB_CODENAME"], PrettyName: kv["DISTRIB_DESCRIPTION"]}
		}
	}
	return fromDebianVersion(files[DebianVersion])
}

// fromDebianVersion reads etc/debian_version: "12.5" for a point release
// (the advisory ecosystem is the major version, "Debian:12"), or
// "bookworm/sid" on testing and unstable.
func fromDebianVersion(b []byte) *inventory.OS {
	v := firstLine(b)
	if v == "" {
		return nil
	}
	os := &inventory.OS{ID: "debian"}
	if v[0] >= '0' && v[0] <= '9' {
		major, _, _ := strings.Cut(v, ".")
		os.VersionID = major
	} else {
		os.Codename, _, _ = strings.Cut(v, "/")
	}
	return os
}

// redHatNames maps the product name of a redhat-release line to its
// os-release ID. Longer names come first where one prefixes another.
var redHatNames = []struct{ prefix, id string }{
	{"red hat enterprise linux", "rhel"},
	{"centos stream", "centos"},
	{"centos", "centos"},
	{"rocky linux", "rocky"},
	{"almalinux", "almalinux"},
	{"amazon linux", "amzn"},
	{"fedora", "fedora"},
	{"oracle linux", "ol"},
	{"scientific linux", "scientific"},
}

var redHatLine = regexp.MustCompile(`^(.*?)\s+release\s+(\S+)(?:\s+\(([^)]*)\))?`)

// fromRedHatRelease reads lines like "Rocky Linux release 9.3 (Blue Onyx)".
func fromRedHatRelease(line string) *inventory.OS {
	m := redHatLine.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	name := strings.ToLower(m[1])
	for _, n := range redHatNames {
		if strings.HasPrefix(name, n.prefix) {
			return &inventory.OS{ID: n.id, VersionID: m[2], Codename: m[3], PrettyName: line}
		}
	}
	return nil
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	return string(bytes.TrimSpace(line))
}

// Parse reads an os-release (or lsb-release) file: KEY=value lines where the
// value follows shell quoting rules ("...", '...', backslash escapes), with
// comments and blank lines ignored. Lines that are not assignments are
// skipped, as systemd does, so one bad line does not hide the rest. Input
// beyond MaxFileSize is ignored.
func Parse(b []byte) map[string]string {
	if len(b) > MaxFileSize {
		b = b[:MaxFileSize]
	}
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, MaxFileSize+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || !validKey(key) {
			continue
		}
		v, ok := unquote(val)
		if !ok {
			continue
		}
		kv[key] = v
	}
	return kv
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// unquote applies the shell quoting os-release(5) allows: double quotes,
// inside which a backslash escapes $ " \ and `; single quotes, which escape
// nothing; and unquoted text, where a backslash escapes any character.
// Adjacent quoted and unquoted parts concatenate. An unterminated quote
// makes the value invalid.
func unquote(s string) (string, bool) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$\"\\`", s[i+1]) >= 0 {
					i++
				}
				sb.WriteByte(s[i])
			}
			if i >= len(s) {
				return "", false
			}
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", false
			}
			sb.WriteString(s[i+1 : i+1+end])
			i += 1 + end
		case '\\':
			if i+1 < len(s) {
				i++
				sb.WriteByte(s[i])
			}
		case ' ', '\t':
			// Unquoted whitespace ends the value in the shell; a trailing
			// comment may follow.
			return sb.String(), true
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String(), true
}
