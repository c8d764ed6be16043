// Command size prints the size of each platform image of an index in an
// OCI layout: compressed layer sizes (what a node pulls) and the
// uncompressed total. Used by scripts/bench-install.sh.
//
//	size LAYOUT INDEX-DIGEST
package main

import (
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "size:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 3 {
		return fmt.Errorf("usage: size LAYOUT INDEX-DIGEST")
	}
	p, err := layout.FromPath(os.Args[1])
	if err != nil {
		return err
	}
	h, err := v1.NewHash(os.Args[2])
	if err != nil {
		return err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return err
	}
	ii, err := idx.ImageIndex(h)
	if err != nil {
		return err
	}
	m, err := ii.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range m.Manifests {
		img, err := ii.Image(d.Digest)
		if err != nil {
			return err
		}
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		var comp int64
		var parts []string
		for _, l := range layers {
			sz, err := l.Size()
			if err != nil {
				return err
			}
			comp += sz
			parts = append(parts, fmt.Sprintf("%.1f MiB", float64(sz)/(1<<20)))
		}
		var unc int64
		for _, l := range layers {
			rc, err := l.Uncompressed()
			if err != nil {
				return err
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return err
			}
			unc += n
		}
		fmt.Printf("image size %s: %.1f MiB compressed (layers %v), %.1f MiB uncompressed\n",
			d.Platform, float64(comp)/(1<<20), parts, float64(unc)/(1<<20))
	}
	return nil
}
