package npm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/drydock/drydock/internal/inventory"
)

// ParsePnpmLock reads the packages of a pnpm-lock.yaml: the keys of its
// top-level "packages:" map and, from lockfile version 9 on, "snapshots:".
// Keys name a package id, whose syntax changed between versions:
//
//	5.x  /name/1.2.3, /@scope/name/1.2.3, /name/1.2.3_peer@2.0.0
//	6.0  /name@1.2.3, /@scope/name@1.2.3(peer@2.0.0)
//	9.0  name@1.2.3, '@scope/name@1.2.3(peer@2.0.0)'
//
// Entries of packages not from a registry (git, tarball URLs) carry "name:"
// and "version:" fields, which take precedence over the key. "dev: true" is
// kept where present (versions 5 and 6; version 9 dropped it). The same
// package appears once per set of peers it was resolved with; it is
// reported once, as dev only when every occurrence is.
//
// pnpm writes this file with a fixed two-space indent, which is all this
// reads, so no YAML library is needed and memory stays one line plus the
// packages.
func ParsePnpmLock(ctx context.Context, r io.Reader) ([]inventory.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize)
	var (
		pkgs   []inventory.Package
		seen   = map[string]int{}
		major  int
		inList bool
		cur    *pnpmEntry
		lineNo int
	)
	flush := func() {
		if cur == nil {
			return
		}
		e := cur
		cur = nil
		// Entries that are neither registry ids nor carry name and
		// version (links, local directories) name nothing to match.
		p, ok := e.pkg(major)
		if !ok {
			return
		}
		k := p.Namespace + "/" + p.Name + "@" + p.Version
		if i, dup := seen[k]; dup {
			pkgs[i].Dev = pkgs[i].Dev && p.Dev
			return
		}
		seen[k] = len(pkgs)
		pkgs = append(pkgs, p)
	}
	for sc.Scan() {
		lineNo++
		if lineNo%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return pkgs, fmt.Errorf("parse pnpm-lock.yaml: %w", err)
			}
		}
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent == 0:
			flush()
			key, value := splitYAML(trimmed)
			inList = key == "packages" || key == "snapshots"
			if key == "lockfileVersion" {
				major = lockMajor(value)
			}
		case !inList:
		case indent == 2:
			flush()
			key, _ := splitYAML(trimmed)
			cur = &pnpmEntry{key: key}
		case indent == 4 && cur != nil:
			key, value := splitYAML(trimmed)
			switch key {
			case "dev":
				cur.dev = value == "true"
			case "name":
				cur.name = unquote(value)
			case "version":
				cur.version = unquote(value)
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("%w: line exceeds %d bytes", ErrTooLarge, MaxLineSize)
		}
		return pkgs, fmt.Errorf("parse pnpm-lock.yaml at line %d: %w", lineNo+1, err)
	}
	flush()
	return pkgs, nil
}

type pnpmEntry struct {
	key, name, version string
	dev                bool
}

func (e *pnpmEntry) pkg(major int) (inventory.Package, bool) {
	name, version := e.name, e.version
	if name == "" || version == "" {
		kn, kv, ok := parsePnpmKey(e.key, major)
		if !ok && (name == "" || version == "") {
			return inventory.Package{}, false
		}
		if name == "" {
			name = kn
		}
		if version == "" {
			version = kv
		}
	}
	p, ok := newPackage(name, version)
	if !ok {
		return inventory.Package{}, false
	}
	p.Dev = e.dev
	return p, true
}

// parsePnpmKey reads a package id in the syntax of the lockfile's major
// version; when the version is unknown it tries the newer syntax first.
func parsePnpmKey(key string, major int) (name, version string, ok bool) {
	k := strings.TrimPrefix(key, "/")
	if major != 5 {
		if n, rest, ok := cutSpec(k); ok {
			v, _, _ := strings.Cut(rest, "(")
			if validPnpm(n, v) {
				return n, v, true
			}
		}
		if major != 0 {
			return "", "", false
		}
	}
	parts := strings.SplitN(k, "/", 4)
	var v string
	switch {
	case len(parts) >= 3 && strings.HasPrefix(parts[0], "@"):
		name, v = parts[0]+"/"+parts[1], parts[2]
	case len(parts) >= 2 && !strings.HasPrefix(parts[0], "@"):
		name, v = parts[0], parts[1]
	default:
		return "", "", false
	}
	v, _, _ = strings.Cut(v, "_")
	if !validPnpm(name, v) {
		return "", "", false
	}
	return name, v, true
}

// validPnpm rejects ids that are not name@version of a registry package:
// "link:", "file:" and URL references have ":" or "/" in the version part.
func validPnpm(name, version string) bool {
	if name == "" || version == "" || strings.ContainsAny(version, ":/") {
		return false
	}
	if name[0] == '@' {
		return strings.Count(name, "/") == 1
	}
	return !strings.Contains(name, "/")
}

// splitYAML splits a block-mapping line "key: value" or "key:", with the key
// plain or quoted. Plain YAML keys cannot contain ": ", so the first one
// ends the key.
func splitYAML(s string) (key, value string) {
	if s != "" && (s[0] == '\'' || s[0] == '"') {
		if end := strings.IndexByte(s[1:], s[0]); end >= 0 {
			key = s[1 : end+1]
			rest := strings.TrimSpace(s[end+2:])
			return key, strings.TrimSpace(strings.TrimPrefix(rest, ":"))
		}
	}
	if k, v, ok := strings.Cut(s, ": "); ok {
		return k, strings.TrimSpace(v)
	}
	return strings.TrimSuffix(s, ":"), ""
}

// lockMajor reads "5.4", "'6.0'" or "'9.0'".
func lockMajor(v string) int {
	m, _, _ := strings.Cut(unquote(v), ".")
	n, err := strconv.Atoi(m)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
