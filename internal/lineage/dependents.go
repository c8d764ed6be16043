package lineage

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Tracked is one image drydock keeps fresh, with the base it was resolved to.
type Tracked struct {
	// Name identifies the image (unique among the tracked images).
	Name string `json:"name"`
	// Ref is the repository:tag the image is published as; another tracked
	// image whose base is this tag depends on it.
	Ref string `json:"ref"`
	// Digest is the image's current manifest digest ("sha256:...").
	Digest string `json:"digest,omitempty"`
	// BaseRef is the base's tag ("registry.example.com/base/debian:12").
	BaseRef string `json:"baseRef,omitempty"`
	// BaseDigest is the digest of the base the current image was built on.
	BaseDigest string `json:"baseDigest,omitempty"`
}

// Dependent is a tracked image that depends on the base asked about.
type Dependent struct {
	Tracked
	// Parent is the Name of the tracked image it depends on through, empty
	// when it is built directly on the base asked about.
	Parent string `json:"parent,omitempty"`
	// Depth is 1 for direct dependents, 2 for their dependents, and so on.
	Depth int `json:"depth"`
}

// ErrCycle means the tracked images' bases form a cycle.
var ErrCycle = errors.New("tracked images' bases form a cycle")

// Dependents returns the tracked images that depend on base, directly or
// through other tracked images, in topological order: every image comes after
// the image it is built on, so rebuilding in this order sees fresh parents.
// base is a digest ("sha256:..."), a digest reference ("repo@sha256:...")
// matched against BaseDigest, or a tag matched against BaseRef. An image
// depends on a tracked image when its BaseRef names that image's Ref or its
// BaseDigest is that image's Digest. Images in a cycle reachable from base
// give an error wrapping ErrCycle that names them.
func Dependents(images []Tracked, base string) ([]Dependent, error) {
	names := map[string]int{}
	for i, im := range images {
		if im.Name == "" {
			return nil, fmt.Errorf("tracked image %d (%s) has no name", i, im.Ref)
		}
		if _, dup := names[im.Name]; dup {
			return nil, fmt.Errorf("tracked image name %q appears twice", im.Name)
		}
		names[im.Name] = i
	}
	wantDigest, wantRef := splitBase(base)
	if wantDigest == "" && wantRef == "" {
		return nil, fmt.Errorf("base %q is neither a digest nor a reference", base)
	}

	// Edges parent → child among tracked images.
	children := make([][]int, len(images))
	for c, child := range images {
		for p, parent := range images {
			if p != c && dependsOn(child, parent) {
				children[p] = append(children[p], c)
			}
		}
	}
	// Reachable set from the base.
	direct := map[int]bool{}
	var queue []int
	for i, im := range images {
		if (wantDigest != "" && im.BaseDigest == wantDigest) || (wantRef != "" && normRef(im.BaseRef) == wantRef) {
			direct[i] = true
			queue = append(queue, i)
		}
	}
	reach := map[int]bool{}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if reach[n] {
			continue
		}
		reach[n] = true
		queue = append(queue, children[n]...)
	}
	// Kahn's algorithm on the reachable subgraph.
	indeg := map[int]int{}
	parentOf := map[int]int{}
	for n := range reach {
		indeg[n] += 0
		for _, c := range children[n] {
			if reach[c] {
				indeg[c]++
			}
		}
	}
	var ready []int
	for n, d := range indeg {
		if d == 0 {
			ready = append(ready, n)
		}
	}
	// Level by level, names sorted within a level, so the order is stable
	// and every image comes after all the images it is built on.
	depth := map[int]int{}
	var out []Dependent
	for len(ready) > 0 {
		sort.Slice(ready, func(a, b int) bool { return images[ready[a]].Name < images[ready[b]].Name })
		var next []int
		for _, n := range ready {
			d := Dependent{Tracked: images[n], Depth: depth[n] + 1}
			if p, ok := parentOf[n]; ok {
				d.Parent = images[p].Name
			}
			out = append(out, d)
			for _, c := range children[n] {
				if !reach[c] {
					continue
				}
				if _, ok := parentOf[c]; !ok || depth[n]+1 > depth[c] {
					depth[c] = depth[n] + 1
					parentOf[c] = n
				}
				indeg[c]--
				if indeg[c] == 0 {
					next = append(next, c)
				}
			}
		}
		ready = next
	}
	if len(out) < len(reach) {
		var stuck []string
		for n := range reach {
			if indeg[n] > 0 {
				stuck = append(stuck, images[n].Name)
			}
		}
		sort.Strings(stuck)
		return nil, fmt.Errorf("%w: %s", ErrCycle, strings.Join(stuck, ", "))
	}
	return out, nil
}

func dependsOn(child, parent Tracked) bool {
	if child.BaseDigest != "" && parent.Digest != "" && child.BaseDigest == parent.Digest {
		return true
	}
	if child.BaseRef != "" && parent.Ref != "" {
		return normRef(child.BaseRef) == normRef(parent.Ref)
	}
	return false
}

// splitBase reads "sha256:...", "repo@sha256:..." or "repo:tag".
func splitBase(base string) (digest, ref string) {
	base = strings.TrimSpace(base)
	if strings.HasPrefix(base, "sha256:") || strings.HasPrefix(base, "sha512:") {
		return base, ""
	}
	if _, d, ok := strings.Cut(base, "@"); ok {
		return d, ""
	}
	return "", normRef(base)
}

// normRef normalises a tag reference ("debian" → "index.docker.io/library/debian:latest").
func normRef(s string) string {
	if s == "" {
		return ""
	}
	r, err := name.ParseReference(s, name.WeakValidation)
	if err != nil {
		return s
	}
	return r.Name()
}
