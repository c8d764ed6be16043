package deploy_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The whole loop with no human step: the base tag moves, drydock rebuild
// --deploy rebases the app and rolls the rebuilt digest out to the
// Deployment that opted in, which becomes available on it (the test plays
// kubelet); the one that did not opt in keeps its image.
func TestRebuildDeploysToOptedInWorkloads(t *testing.T) {
	c, cs := cluster(t)
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	base, err := mutate.AppendLayers(empty.Image, mustLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	app, err := mutate.AppendLayers(base, mustLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	baseTag, _ := name.NewTag(host + "/os/base:1")
	appTag, _ := name.NewTag(host + "/team/app:1")
	// As buildah and docker buildx record it: the base the app was built on.
	bd, _ := base.Digest()
	app = mutate.Annotations(app, map[string]string{
		"org.opencontainers.image.base.name":   baseTag.String(),
		"org.opencontainers.image.base.digest": bd.String(),
	}).(v1.Image)
	if err := remote.Write(baseTag, base); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(appTag, app); err != nil {
		t.Fatal(err)
	}
	appDigest, _ := app.Digest()
	running := host + "/team/app@" + appDigest.String()

	ns := "loop"
	namespace(t, cs, ns)
	for _, d := range []struct {
		name  string
		optIn bool
	}{{"web", true}, {"legacy", false}} {
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, d.name, running, 1, d.optIn), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	kubelet(kctx, t, cs, ns, func(string) bool { return true }, fakeImageID)
	waitAvailable(t, cs, ns, "web")

	// The base gets a security update.
	newBase, err := mutate.AppendLayers(base, mustLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(baseTag, newBase); err != nil {
		t.Fatal(err)
	}

	cfg := filepath.Join(t.TempDir(), "drydock.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("images:\n  - name: app\n    image: %s/team/app:1\n    base: %s/os/base:1\n    rebuild:\n      kind: rebase\n", host, host)), 0o644)
	cmd := exec.Command(drydockBinary(t), "rebuild", "--config", cfg, "--no-scan", "--deploy",
		"--kubeconfig", c.Kubeconfig, "--rollout-timeout", "60s", "--format", "json")
	cmd.Env = append(os.Environ(), "DRYDOCK_CACHE_DIR="+t.TempDir(), "DRYDOCK_DATA_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("drydock rebuild --deploy: %v\n%s", err, out)
	}
	rebuilt, err := remote.Head(appTag)
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt.Digest == appDigest {
		t.Fatalf("the app was not rebuilt:\n%s", out)
	}
	want := host + "/team/app@" + rebuilt.Digest.String()
	if got := containerImages(t, cs, ns, "web")["app"]; got != want {
		t.Errorf("web runs %s, want the rebuilt %s\n%s", got, want, out)
	}
	waitAvailable(t, cs, ns, "web")
	if got := containerImages(t, cs, ns, "legacy")["app"]; got != running {
		t.Errorf("legacy did not opt in but runs %s now", got)
	}
	if !strings.Contains(string(out), "1 updated") || !strings.Contains(string(out), "1 skipped") {
		t.Errorf("rebuild output does not report the rollout:\n%s", out)
	}
}

func mustLayer(t *testing.T) v1.Layer {
	t.Helper()
	l, err := random.Layer(256, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
