package image

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// refusingTransport fails the test if anything reaches the network.
type refusingTransport struct{ t *testing.T }

func (r refusingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.t.Errorf("a local-looking source went to the network: %s", req.URL)
	return nil, errors.New("no network in this test")
}

// TestMissingLocalPathIsAFileError: a source that can only be a local path
// never goes to a registry; a missing one is a file error.
func TestMissingLocalPathIsAFileError(t *testing.T) {
	dir := t.TempDir()
	for _, src := range []string{"./layuot", "../x", filepath.Join(dir, "nope"), "myapp.tar", "image.tar.gz", "inv.json", "~/img.tgz"} {
		_, err := Open(context.Background(), src, WithTransport(refusingTransport{t}))
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), "registry:") {
			t.Errorf("Open(%q) = %v; want a not-exist error naming it and how to name a registry image", src, err)
		}
	}
	for _, src := range []string{"nginx", "registry.example.com/team/app:1.2", "localhost:5000/x"} {
		if looksLocal(src) {
			t.Errorf("looksLocal(%q) = true", src)
		}
	}
}

// TestSinglePlatformImageIsNotSubstituted: asked for a platform a
// single-platform image does not have, Open fails and names the one it has.
func TestSinglePlatformImageIsNotSubstituted(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	ref, _ := name.ParseReference(reg + "/team/single:1")
	if err := remote.Write(ref, platformImage(t, amd64)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, ref.String(), WithPlatform(v1.Platform{OS: "linux", Architecture: "s390x"}))
	if !errors.Is(err, ErrPlatformNotFound) || !strings.Contains(err.Error(), "have [linux/amd64]") {
		t.Fatalf("Open single amd64 image for s390x: %v; want ErrPlatformNotFound listing linux/amd64", err)
	}
	img, err := Open(ctx, ref.String(), WithPlatform(amd64))
	if err != nil || img.Source.Platform != "linux/amd64" {
		t.Fatalf("Open for its own platform: %v", err)
	}
	// Without an explicit platform, a single image is taken as it is.
	if _, err := Open(ctx, ref.String()); err != nil {
		t.Fatalf("Open without a platform: %v", err)
	}
}
