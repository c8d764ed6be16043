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
		t.applyDeletions(r.Whiteouts, r.Opaque)
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

// applyDeletions removes what a layer's whiteouts (the path and all below
// it) and opaque directories (all below them) hide. It visits each kept
// entry once and looks its ancestors up in sets, rather than scanning the
// tree once per whiteout: a layer may hold a million whiteouts.
func (t *Tree) applyDeletions(whiteouts, opaque []string) {
	if len(whiteouts) == 0 && len(opaque) == 0 {
		return
	}
	wh := make(map[string]bool, len(whiteouts))
	for _, p := range whiteouts {
		wh[p] = true
	}
	op := make(map[string]bool, len(opaque))
	for _, d := range opaque {
		op[d] = true
	}
	hidden := func(p string) bool {
		if wh[p] {
			return true
		}
		for d := p; d != ""; {
			parent := ""
			if i := strings.LastIndexByte(d, '/'); i >= 0 {
				parent = d[:i]
			}
			if op[parent] || parent != "" && wh[parent] {
				return true
			}
			d = parent
		}
		return false
	}
	for p := range t.files {
		if hidden(p) {
			delete(t.files, p)
		}
	}
	for p := range t.meta {
		if hidden(p) {
			delete(t.meta, p)
		}
	}
	for p := range t.symlinks {
		if hidden(p) {
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
