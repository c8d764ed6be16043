// Command rebasecmd stands in for a user's build tool in the build
// executor's tests: "build DIR" rebases $DRYDOCK_CURRENT from
// $DRYDOCK_OLD_BASE onto $DRYDOCK_NEW_BASE with go-containerregistry's
// mutate.Rebase and writes it to an OCI layout in DIR; "push DIR TARGET"
// pushes it. It is a real process talking to a real registry.
package main

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rebasecmd:", err)
		os.Exit(1)
	}
}

func pull(ref string) (v1.Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	return remote.Image(r)
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: rebasecmd build DIR | push DIR TARGET")
	}
	switch args[0] {
	case "build":
		cur, err := pull(os.Getenv("DRYDOCK_CURRENT"))
		if err != nil {
			return err
		}
		oldBase, err := pull(os.Getenv("DRYDOCK_OLD_BASE"))
		if err != nil {
			return err
		}
		newBase, err := pull(os.Getenv("DRYDOCK_NEW_BASE"))
		if err != nil {
			return err
		}
		img, err := mutate.Rebase(cur, oldBase, newBase)
		if err != nil {
			return err
		}
		d, err := newBase.Digest()
		if err != nil {
			return err
		}
		img = mutate.Annotations(img, map[string]string{
			"org.opencontainers.image.base.name":   os.Getenv("DRYDOCK_NEW_BASE_TAG"),
			"org.opencontainers.image.base.digest": d.String(),
		}).(v1.Image)
		p, err := layout.Write(args[1], empty.Index)
		if err != nil {
			return err
		}
		fmt.Println("built", args[1])
		return p.AppendImage(img)
	case "push":
		if len(args) != 3 {
			return fmt.Errorf("usage: rebasecmd push DIR TARGET")
		}
		p, err := layout.FromPath(args[1])
		if err != nil {
			return err
		}
		idx, err := p.ImageIndex()
		if err != nil {
			return err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		img, err := idx.Image(im.Manifests[0].Digest)
		if err != nil {
			return err
		}
		t, err := name.ParseReference(args[2])
		if err != nil {
			return err
		}
		fmt.Println("pushing", t)
		return remote.Write(t, img)
	}
	return fmt.Errorf("unknown step %q", args[0])
}
