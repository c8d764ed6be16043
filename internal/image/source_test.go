package image

import (
	"os/exec"

	"context"
	"errors"
	"github.com/drydock/drydock/internal/testenv"
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

// TestContainersStorage: an image committed by Debian's buildah into a vfs
// store is read through "containers-storage:[vfs@root+runroot]NAME", and a
// name the store lacks is the tool's one-line error.
func TestContainersStorage(t *testing.T) {
	buildah, err := exec.LookPath("buildah")
	if err != nil {
		testenv.NeedPart(t, "buildah", "buildah is not installed (scripts/test.sh installs it): %v", err)
	}
	dir := t.TempDir()
	root, runroot := filepath.Join(dir, "root"), filepath.Join(dir, "run")
	store := []string{"--storage-driver", "vfs", "--root", root, "--runroot", runroot}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(buildah, append(append([]string{}, store...), args...)...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("buildah %v: %v\n%s", args, err, ee.Stderr)
			}
			t.Fatalf("buildah %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	ctxDir := filepath.Join(dir, "ctx")
	os.MkdirAll(filepath.Join(ctxDir, "etc"), 0o755)
	os.WriteFile(filepath.Join(ctxDir, "etc", "hello.txt"), []byte("hello from buildah\n"), 0o644)
	ctr := run("from", "scratch")
	run("copy", ctr, ctxDir, "/")
	id := run("commit", "--quiet", ctr, "localhost/drydock-test/hello:1")

	spec := "containers-storage:[vfs@" + root + "+" + runroot + "]"
	img, err := Open(context.Background(), spec+"localhost/drydock-test/hello:1", WithTempDir(dir))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	cf, err := img.Image.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cf.Hex, id) && !strings.HasPrefix(id, cf.Hex) {
		t.Errorf("config digest %s, buildah says image %s", cf, id)
	}
	if img.Source.Kind != KindContainersStorage {
		t.Errorf("kind %q", img.Source.Kind)
	}
	layers, err := img.Image.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "store-*")); len(left) != 0 {
		t.Errorf("Close left %v", left)
	}

	_, err = Open(context.Background(), spec+"localhost/drydock-test/missing:1", WithTempDir(dir))
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "missing:1") {
		t.Errorf("missing image: %v; want a one-line error naming it", err)
	}
}

// TestDockerNeedsDaemon: without a daemon socket, "docker:" says so. (No
// Docker daemon can run here, so reading from one is not tested.)
func TestDockerNeedsDaemon(t *testing.T) {
	old := DockerSocket
	DockerSocket = filepath.Join(t.TempDir(), "docker.sock")
	defer func() { DockerSocket = old }()
	_, err := Open(context.Background(), "docker:alpine:3.20")
	if !errors.Is(err, ErrNoStoreTool) || !strings.Contains(err.Error(), "no Docker daemon socket") {
		t.Errorf("docker: without a daemon: %v", err)
	}
	if k, _ := classify("docker://alpine:3.20"); k != KindRegistry {
		t.Errorf("docker:// classified %q, want a registry", k)
	}
}
