package layerfs

import (
	"path"
	"sort"
	"strings"

	"github.com/drydock/drydock/internal/inventory"
)

// Layer is one layer's result in image order.
type Layer struct {
	Index  int
	DiffID string
	Result *Result
}

// Tree is the squashed view of all layers: what a container would see.
type Tree struct {
	files    map[string][]inventory.Package
	meta     map[string][]byte
	symlinks map[string]string
}

// Squash applies layers bottom to top. A package keeps the layer in which
// the same package version first appeared at the same path and stayed: an
// upgrade in a later layer is attributed to that later layer.
func Squash(layers []Layer) *Tree {
	t := &Tree{files: map[string][]inventory.Package{}, meta: map[string][]byte{}, symlinks: map[string]string{}}
	for _, l := range layers {
		r := l.Result
		if r == nil {
			continue
		}
		for _, d := range r.Opaque {
			t.removeBelow(d)
		}
		for _, p := range r.Whiteouts {
			t.remove(p)
			t.removeBelow(p)
		}
		for p, pkgs := range r.Files {
			prev := map[string]inventory.Package{}
			for _, pk := range t.files[p] {
				prev[pk.Key()] = pk
			}
			next := make([]inventory.Package, len(pkgs))
			for i, pk := range pkgs {
				pk.Path = p
				if old, ok := prev[pk.Key()]; ok {
					pk.Layer, pk.LayerIndex = old.Layer, old.LayerIndex
				} else {
					pk.Layer, pk.LayerIndex = l.DiffID, l.Index
				}
				next[i] = pk
			}
			t.files[p] = next
			delete(t.symlinks, p)
		}
		for p, b := range r.Meta {
			t.meta[p] = b
			delete(t.symlinks, p)
		}
		for p, target := range r.Symlinks {
			t.symlinks[p] = target
			delete(t.files, p)
			delete(t.meta, p)
		}
	}
	return t
}

func (t *Tree) remove(p string) {
	delete(t.files, p)
	delete(t.meta, p)
	delete(t.symlinks, p)
}

func (t *Tree) removeBelow(dir string) {
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	for p := range t.files {
		if strings.HasPrefix(p, prefix) {
			delete(t.files, p)
		}
	}
	for p := range t.meta {
		if strings.HasPrefix(p, prefix) {
			delete(t.meta, p)
		}
	}
	for p := range t.symlinks {
		if strings.HasPrefix(p, prefix) {
			delete(t.symlinks, p)
		}
	}
}

// Packages returns every package in the squashed view, ordered by path, then
// name and version.
func (t *Tree) Packages() []inventory.Package {
	var out []inventory.Package
	for _, pkgs := range t.files {
		out = append(out, pkgs...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		return a.Path < b.Path
	})
	return out
}

// Meta returns the content of a kept file, following symlinks inside the
// image root (a link can never lead outside it: ".." stops at the root).
func (t *Tree) Meta(p string) ([]byte, bool) {
	r, ok := t.Resolve(p)
	if !ok {
		return nil, false
	}
	b, ok := t.meta[r]
	return b, ok
}

// MetaFiles returns the kept files for the given paths, resolved, keyed by
// the asked path.
func (t *Tree) MetaFiles(paths []string) map[string][]byte {
	out := map[string][]byte{}
	for _, p := range paths {
		if b, ok := t.Meta(p); ok {
			out[p] = b
		}
	}
	return out
}

// Resolve follows symlinks in every component of p, at most 40 times as the
// kernel does, and reports false on a loop.
func (t *Tree) Resolve(p string) (string, bool) {
	hops := 0
	parts := strings.Split(p, "/")
	resolved := ""
	for i := 0; i < len(parts); i++ {
		cur := path.Join(resolved, parts[i])
		target, ok := t.symlinks[cur]
		if !ok {
			resolved = cur
			continue
		}
		hops++
		if hops > 40 {
			return "", false
		}
		var base string
		if strings.HasPrefix(target, "/") {
			base = ""
		} else {
			base = resolved
		}
		joined := path.Clean("/" + path.Join(base, target))[1:]
		rest := append(strings.Split(joined, "/"), parts[i+1:]...)
		if joined == "" {
			rest = parts[i+1:]
		}
		parts, i, resolved = rest, -1, ""
	}
	return resolved, true
}
