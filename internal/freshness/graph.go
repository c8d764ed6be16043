package freshness

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// The planner keeps its own small topological sort over the tracked images:
// edges come from the configuration (an image whose base tag is another
// tracked image's tag depends on it), so it needs no registry access.

// normTag is the canonical string of a tag reference ("index.docker.io/library/debian:12").
func normTag(ref string) string {
	t, err := name.NewTag(ref)
	if err != nil {
		return ref
	}
	return t.Name()
}

// Order returns the indexes of c.Images in topological order (every image
// after the tracked image it is built on), stable in configuration order. A
// cycle is an error naming its images.
func (c *Config) Order() ([]int, error) {
	byTarget := map[string]int{}
	for i, im := range c.Images {
		byTarget[normTag(im.Image)] = i
	}
	indeg := make([]int, len(c.Images))
	children := make([][]int, len(c.Images))
	for i, im := range c.Images {
		if p, ok := byTarget[normTag(im.Base)]; ok {
			children[p] = append(children[p], i)
			indeg[i]++
		}
	}
	var order []int
	done := make([]bool, len(c.Images))
	for len(order) < len(c.Images) {
		progressed := false
		for i := range c.Images {
			if done[i] || indeg[i] != 0 {
				continue
			}
			done[i] = true
			order = append(order, i)
			for _, ch := range children[i] {
				indeg[ch]--
			}
			progressed = true
		}
		if !progressed {
			var cyc []string
			for i, im := range c.Images {
				if !done[i] {
					cyc = append(cyc, im.Name)
				}
			}
			return nil, fmt.Errorf("the base relations form a cycle among %s", strings.Join(cyc, ", "))
		}
	}
	return order, nil
}

// Parent returns the index of the tracked image that image i is built on, or -1.
func (c *Config) Parent(i int) int {
	b := normTag(c.Images[i].Base)
	for j, im := range c.Images {
		if normTag(im.Image) == b {
			return j
		}
	}
	return -1
}

// Affected returns, in topological order, the images that follow one of
// the base tags (directly or through tracked intermediate images). No tags
// means every image.
func (c *Config) Affected(tags ...string) []int {
	order, err := c.Order()
	if err != nil {
		return nil
	}
	if len(tags) == 0 {
		return order
	}
	moved := map[string]bool{}
	for _, t := range tags {
		moved[normTag(t)] = true
	}
	var out []int
	for _, i := range order { // parents come first, so one pass is enough
		im := c.Images[i]
		if moved[normTag(im.Base)] {
			out = append(out, i)
			moved[normTag(im.Image)] = true
		}
	}
	return out
}

// BaseTags returns the distinct base tags, in configuration order.
func (c *Config) BaseTags() []string {
	seen := map[string]bool{}
	var out []string
	for _, im := range c.Images {
		if n := normTag(im.Base); !seen[n] {
			seen[n] = true
			out = append(out, im.Base)
		}
	}
	return out
}

// Depth returns how many tracked images lie below image i.
func (c *Config) Depth(i int) int {
	d := 0
	for p := c.Parent(i); p >= 0 && d <= len(c.Images); p = c.Parent(p) {
		d++
	}
	return d
}

// IsBase reports whether another tracked image is built on the image
// named name (it is a base, not only an application).
func (c *Config) IsBase(name string) bool {
	for i, im := range c.Images {
		if im.Name != name {
			continue
		}
		for j := range c.Images {
			if j != i && c.Parent(j) == i {
				return true
			}
		}
	}
	return false
}

// ImageFor returns the name of the configured image whose tag is in
// repository (a full name such as "registry.example/team/app") with one of
// tags, or, when none matches a tag, the only configured image of that
// repository ("" when there is none or several).
func (c *Config) ImageFor(repository string, tags []string) string {
	var inRepo []string
	for _, im := range c.Images {
		t, err := c.ParseTag(im.Image)
		if err != nil || t.Context().Name() != repository {
			continue
		}
		for _, tag := range tags {
			if tag == t.TagStr() {
				return im.Name
			}
		}
		inRepo = append(inRepo, im.Name)
	}
	if len(inRepo) == 1 {
		return inRepo[0]
	}
	return ""
}
