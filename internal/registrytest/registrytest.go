// Package registrytest serves go-containerregistry's in-process registry
// (the OCI distribution protocol) to the job and server tests, counting
// the blob downloads through it, and pushes drydock's demo images to it.
package registrytest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/testenv"
)

// Registry is a running in-process registry.
type Registry struct {
	// Host is its host:port (plain HTTP on loopback).
	Host string
	// Blobs counts blob downloads (GET …/blobs/sha256:…): a re-match must
	// not make any.
	Blobs atomic.Int64
}

// Start serves a registry (with opts, such as referrers support) until
// the test ends.
func Start(t testing.TB, opts ...registry.Option) *Registry {
	t.Helper()
	c := &Registry{}
	reg := registry.New(append([]registry.Option{registry.Logger(log.New(io.Discard, "", 0))}, opts...)...)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			c.Blobs.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	c.Host = strings.TrimPrefix(s.URL, "http://")
	return c
}

// DemoLayout builds the demo OCI layout (scripts/demoimage: a base and an
// app on it) in a temporary directory.
func DemoLayout(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	cmd := exec.Command("go", "run", "./scripts/demoimage", "scripts/demoimage/rootfs", dir)
	cmd.Dir = testenv.ModuleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("demoimage: %v\n%s", err, out)
	}
	return dir
}

// Push writes the layout's image named refName to the tag dst and
// returns its digest reference.
func Push(t testing.TB, dir, refName, dst string) name.Digest {
	t.Helper()
	img := LayoutImage(t, dir, refName)
	tag, err := name.NewTag(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag.Context().Digest(d.String())
}

// LayoutImage is the image the layout at dir names refName
// (org.opencontainers.image.ref.name).
func LayoutImage(t testing.TB, dir, refName string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] != refName {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	t.Fatalf("no %s in layout", refName)
	return nil
}
