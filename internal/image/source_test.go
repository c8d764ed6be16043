package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/drydock/drydock/internal/testenv"
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

// TestDockerNeedsDaemon: without a daemon socket, "docker:" says so, and a
// DOCKER_HOST drydock cannot speak to is named by its scheme only.
func TestDockerNeedsDaemon(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "docker.sock"))
	_, err := Open(context.Background(), "docker:alpine:3.20")
	if !errors.Is(err, ErrNoStoreTool) || !strings.Contains(err.Error(), "no Docker daemon socket") {
		t.Errorf("docker: without a daemon: %v", err)
	}
	t.Setenv("DOCKER_HOST", "ssh://someone@build-host")
	_, err = Open(context.Background(), "docker:alpine:3.20")
	if !errors.Is(err, ErrNoStoreTool) || !strings.Contains(err.Error(), "ssh endpoint") || strings.Contains(err.Error(), "someone") {
		t.Errorf("docker: with an ssh DOCKER_HOST: %v", err)
	}
	if k, _ := classify("docker://alpine:3.20"); k != KindRegistry {
		t.Errorf("docker:// classified %q, want a registry", k)
	}
}

// TestDockerDaemon reads images from a real Docker daemon (Debian's
// dockerd, started by scripts/test.sh): the image read through "docker:"
// has the config and layer contents of the archive that was loaded; a
// name the daemon lacks is a one-line not-found error naming it; a name
// that could reshape the API request is refused before any request.
func TestDockerDaemon(t *testing.T) {
	sock := testenv.DockerSocket(t)
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	img := platformImage(t, amd64)
	archive := filepath.Join(t.TempDir(), "img.tar")
	tag, err := name.NewTag("drydock-test/docker-source:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	testenv.DockerLoad(t, sock, archive)

	tmp := t.TempDir()
	for _, src := range []string{"docker:drydock-test/docker-source:1", "docker-daemon:drydock-test/docker-source:1"} {
		got, err := Open(context.Background(), src, WithTempDir(tmp))
		if err != nil {
			t.Fatalf("Open(%s): %v", src, err)
		}
		if got.Source.Kind != KindDocker {
			t.Errorf("kind %q, want %q", got.Source.Kind, KindDocker)
		}
		wantCfg, _ := img.ConfigName()
		if got.Source.ConfigDigest != wantCfg.String() {
			t.Errorf("config %s, loaded %s", got.Source.ConfigDigest, wantCfg)
		}
		wl, _ := img.Layers()
		gl, err := got.Image.Layers()
		if err != nil || len(gl) != len(wl) {
			t.Fatalf("layers: %d (%v), want %d", len(gl), err, len(wl))
		}
		for i := range wl {
			if !bytes.Equal(uncompressed(t, gl[i]), uncompressed(t, wl[i])) {
				t.Errorf("layer %d content differs from the loaded archive's", i)
			}
		}
		if err := got.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Close left %v in the temp dir", left)
	}

	_, err = Open(context.Background(), "docker:drydock-test/missing:1", WithTempDir(tmp))
	if !errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "drydock-test/missing:1") {
		t.Errorf("missing image: %v; want a one-line not-exist error naming it", err)
	}
	for _, bad := range []string{"docker:x?all=1", "docker:x/../../containers/json"} {
		if _, err := Open(context.Background(), bad, WithTempDir(tmp)); !errors.Is(err, ErrBadSource) {
			t.Errorf("Open(%q): %v; want ErrBadSource", bad, err)
		}
	}
}

func uncompressed(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
