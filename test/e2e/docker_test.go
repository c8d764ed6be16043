package e2e

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/test/e2e/e2eimage"
)

// TestDockerDaemonDebian: the real Debian image, loaded into a real Docker
// daemon (Debian's dockerd, started by scripts/test.sh), reads through
// "docker:NAME" to the packages dpkg itself lists, the same as the docker
// save archive it was loaded from.
func TestDockerDaemonDebian(t *testing.T) {
	e := setup(t)
	sock := testenv.DockerSocket(t)
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	debian.once.Do(func() { debian.img, debian.err = e2eimage.Debian(e.rootfsTar) })
	if debian.err != nil {
		t.Fatalf("building the Debian image: %v", debian.err)
	}
	archive := filepath.Join(t.TempDir(), "debian.tar")
	if err := e2eimage.WriteDockerSave(archive, debian.img, "drydock-e2e/debian:12"); err != nil {
		t.Fatal(err)
	}
	testenv.DockerLoad(t, sock, archive)

	want := dpkgPackages(t, e.rootfs)
	fromArchive := debPackages(t, e.sbomJSON(t, t.TempDir(), archive))
	if diff := cmp.Diff(want, fromArchive); diff != "" {
		t.Fatalf("archive packages differ from dpkg's (-dpkg +drydock):\n%s", diff)
	}
	inv := e.sbomJSON(t, t.TempDir(), "docker:drydock-e2e/debian:12")
	if diff := cmp.Diff(want, debPackages(t, inv)); diff != "" {
		t.Errorf("docker: packages differ from dpkg's (-dpkg +drydock):\n%s", diff)
	}
	cfg, err := debian.img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if inv.Source.Kind != "docker-daemon" || inv.Source.ConfigDigest != cfg.String() {
		t.Errorf("source %+v; want kind docker-daemon and config %s", inv.Source, cfg)
	}
}
