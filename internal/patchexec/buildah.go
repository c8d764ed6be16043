// Package patchexec executes a patch plan (internal/patch) on an image:
// the package manager runs inside the image's own root under buildah's
// chroot isolation (never on the host), and the files the upgrade changed
// become one new layer on top of the original, unchanged layers.
package patchexec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/drydock/drydock/internal/patch"
)

// Buildah runs apt inside a buildah container made from the image, with
// its own vfs storage under WorkDir (removed afterwards), so nothing is
// shared with other buildah users and no daemon is needed.
type Buildah struct {
	// Path is the buildah binary ("buildah" on PATH when empty).
	Path string
	// WorkDir holds the temporary storage; it must exist.
	WorkDir string
	// Sources are extra apt source lines ("deb URI SUITE COMPONENT...")
	// written to /etc/apt/sources.list.d inside the container for the
	// duration of the patch (they are not part of the patch layer).
	Sources []string
	// Log receives the commands' output; nil discards it.
	Log io.Writer
	// Timeout bounds the whole patch (default 30m).
	Timeout time.Duration
}

// sourcesFile is where Sources are written inside the container.
const sourcesFile = "etc/apt/sources.list.d/drydock-patch.list"

// session is one buildah container and its storage.
type session struct {
	b         *Buildah
	dir       string
	store     []string
	container string
	// platform is the image config's platform ("linux/amd64"), checked
	// against the architecture dpkg inside was built for.
	platform v1.Platform
}

func (b *Buildah) bin() string {
	if b.Path != "" {
		return b.Path
	}
	return "buildah"
}

func (b *Buildah) start(ctx context.Context, img v1.Image) (*session, error) {
	if _, err := exec.LookPath(b.bin()); err != nil {
		return nil, fmt.Errorf("patching needs buildah (apt-get install buildah): %w", err)
	}
	dir, err := os.MkdirTemp(b.WorkDir, "patch-")
	if err != nil {
		return nil, fmt.Errorf("patch: create work directory: %w", err)
	}
	// buildah runs in dir and is handed paths under it (sources, volumes):
	// a relative WorkDir (--cache-dir ./cache) must not be resolved twice.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	s := &session{b: b, dir: dir, store: []string{"--storage-driver", "vfs", "--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run")}}
	if cf, err := img.ConfigFile(); err == nil && cf != nil {
		s.platform = v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	}
	in := filepath.Join(dir, "in")
	p, err := layout.Write(in, empty.Index)
	if err == nil {
		err = p.AppendImage(img)
	}
	if err != nil {
		s.close()
		return nil, fmt.Errorf("patch: write the image for buildah: %w", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "drydock-patch-" + hex.EncodeToString(rnd[:])
	// Relative to the work directory: buildah names the image after the
	// layout's path, and an image name must be lowercase.
	if _, err := s.buildah(ctx, "from", "--pull-never", "--name", name, "oci:in"); err != nil {
		s.close()
		return nil, err
	}
	s.container = name
	return s, nil
}

// buildah runs one buildah command and returns its stdout; the error
// carries the end of its stderr.
func (s *session) buildah(ctx context.Context, args ...string) (string, error) {
	argv := append(append([]string{}, s.store...), args...)
	cmd := exec.CommandContext(ctx, s.b.bin(), argv...)
	cmd.Dir = s.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if s.b.Log != nil {
		fmt.Fprintf(s.b.Log, "$ buildah %s\n", strings.Join(args, " "))
		cmd.Stdout = io.MultiWriter(&stdout, s.b.Log)
		cmd.Stderr = io.MultiWriter(&stderr, s.b.Log)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return stdout.String(), fmt.Errorf("buildah %s: %w", args[0], ctx.Err())
		}
		return stdout.String(), fmt.Errorf("buildah %s: %w: %s", args[0], err, tail(stderr.String()+stdout.String(), 1500))
	}
	return stdout.String(), nil
}

// run runs argv inside the container as root, under chroot isolation.
func (s *session) run(ctx context.Context, argv ...string) (string, error) {
	args := append([]string{"run", "--isolation", "chroot", "--user", "0:0",
		"--env", "DEBIAN_FRONTEND=noninteractive", "--env", "LC_ALL=C", "--env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		s.container, "--"}, argv...)
	return s.buildah(ctx, args...)
}

// query runs a command whose output is never empty when it succeeds
// (dpkg-query of a Debian root, apt's simulation and policy). Under heavy
// load buildah's chroot runner has been seen to lose a quick command's
// output while reporting success; such a run is repeated, and an empty
// output after three tries is an error rather than an empty answer.
func (s *session) query(ctx context.Context, argv ...string) (string, error) {
	for try := 0; try < 3; try++ {
		out, err := s.run(ctx, argv...)
		if err != nil || strings.TrimSpace(out) != "" {
			return out, err
		}
	}
	return "", fmt.Errorf("%s printed nothing three times", argv[0])
}

func (s *session) close() {
	if s.container != "" {
		_, _ = s.buildah(context.Background(), "rm", s.container)
	}
	_ = os.RemoveAll(s.dir)
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// Result is a patched image, ready to push or write. Close removes its
// temporary files once it has been written.
type Result struct {
	Image    v1.Image
	Upgrades []Upgrade
	// LayerSize is the compressed size of the patch layer.
	LayerSize int64
	dir       string
}

// Close removes the temporary files behind Image.
func (r *Result) Close() error {
	if r == nil || r.dir == "" {
		return nil
	}
	return os.RemoveAll(r.dir)
}

// Resolve says which packages the plan would upgrade to which versions,
// from the image's own package sources plus b.Sources, without changing
// anything.
func (b *Buildah) Resolve(ctx context.Context, img v1.Image, plan *patch.Plan) ([]Upgrade, error) {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	if err := supported(plan); err != nil {
		return nil, err
	}
	s, err := b.start(ctx, img)
	if err != nil {
		return nil, err
	}
	defer s.close()
	ups, _, err := s.resolve(ctx, plan)
	return ups, err
}

// Patch executes plan on img: apt-get update against the image's sources
// plus b.Sources, an exact upgrade of the resolved packages, a check of the
// package database against the plan, and the changed files as one layer
// appended to img. It fails, naming the packages, whenever a package
// cannot be upgraded to what was planned; the returned image exists only
// when everything was upgraded.
func (b *Buildah) Patch(ctx context.Context, img v1.Image, plan *patch.Plan) (*Result, error) {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	if err := supported(plan); err != nil {
		return nil, err
	}
	s, err := b.start(ctx, img)
	if err != nil {
		return nil, err
	}
	defer s.close()
	ups, before, err := s.resolve(ctx, plan)
	if err != nil {
		return nil, err
	}
	if len(ups) == 0 {
		return nil, ErrNothingToPatch
	}
	args := []string{"apt-get", "install", "-y", "-q", "--only-upgrade", "--no-install-recommends",
		"-o", "Dpkg::Options::=--force-confold", "-o", "APT::Get::allow-downgrades=false"}
	for _, u := range ups {
		args = append(args, u.Package+"="+u.To)
	}
	if _, err := s.run(ctx, args...); err != nil {
		return nil, fmt.Errorf("patch %s: apt-get install: %w", names(ups), err)
	}
	out, err := s.query(ctx, "dpkg-query", "-W", "-f", dpkgQueryFormat)
	if err != nil {
		return nil, fmt.Errorf("patch: read the package database after the upgrade: %w", err)
	}
	after, err := parseDpkgQuery(out)
	if err != nil {
		return nil, err
	}
	if err := verify(plan, before, after, ups); err != nil {
		return nil, err
	}
	outDir := filepath.Join(b.WorkDir, filepath.Base(s.dir)+"-out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	res, err := s.commit(ctx, img, outDir, ups)
	if err != nil {
		os.RemoveAll(outDir)
		return nil, err
	}
	return res, nil
}

// ErrNothingToPatch means the configured sources have no upgrade for the
// selected packages.
var ErrNothingToPatch = errors.New("nothing to patch: no selected package has an upgrade in the configured package sources")

func (b *Buildah) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	t := b.Timeout
	if t <= 0 {
		t = 30 * time.Minute
	}
	return context.WithTimeout(ctx, t)
}

func supported(plan *patch.Plan) error {
	if plan == nil {
		return errors.New("patch: no plan")
	}
	if plan.Manager != patch.ManagerApt {
		return fmt.Errorf("patch: %s images are not patched by the apt executor", plan.Manager)
	}
	if plan.Mode != patch.ModeAllUpdates && len(plan.Items) == 0 {
		return ErrNothingToPatch
	}
	return nil
}

// resolve writes the extra sources, runs apt-get update (failing when a
// source is unreachable) and simulates the upgrade.
func (s *session) resolve(ctx context.Context, plan *patch.Plan) ([]Upgrade, map[string]installed, error) {
	if err := s.addSources(ctx); err != nil {
		return nil, nil, err
	}
	out, err := s.query(ctx, "dpkg-query", "-W", "-f", dpkgQueryFormat)
	if err != nil {
		return nil, nil, fmt.Errorf("patch: read the image's package database (is apt/dpkg in the image?): %w", err)
	}
	before, err := parseDpkgQuery(out)
	if err != nil {
		return nil, nil, err
	}
	if s.platform.Architecture != "" {
		arch, err := s.query(ctx, "dpkg", "--print-architecture")
		if err != nil {
			return nil, nil, fmt.Errorf("patch: read dpkg's architecture: %w", err)
		}
		if err := sameArch(s.platform, strings.TrimSpace(arch)); err != nil {
			return nil, nil, err
		}
	}
	what := "all packages"
	if plan.Mode != patch.ModeAllUpdates {
		what = strings.Join(plan.Packages(), ", ")
	}
	if err := s.aptUpdate(ctx); err != nil {
		return nil, nil, fmt.Errorf("patch %s: %w", what, err)
	}
	sim := []string{"apt-get", "-s", "-q", "-o", "Debug::NoLocking=1"}
	if plan.Mode == patch.ModeAllUpdates {
		sim = append(sim, "upgrade")
	} else {
		sim = append(append(sim, "install", "--only-upgrade", "--no-install-recommends"), plan.Packages()...)
	}
	out, err = s.query(ctx, sim...)
	if err != nil {
		return nil, nil, fmt.Errorf("patch %s: apt cannot upgrade them (dependency conflict or unknown package): %w", what, err)
	}
	ups, err := parseSimulation(out)
	if err != nil {
		return nil, nil, fmt.Errorf("patch %s: %w", what, err)
	}
	if err := checkPlanned(plan, ups); err != nil {
		return nil, nil, err
	}
	return ups, before, nil
}

func names(ups []Upgrade) string {
	var n []string
	for _, u := range ups {
		n = append(n, u.Package)
	}
	return strings.Join(n, ", ")
}

// aptUpdate runs apt-get update and fails when any source could not be
// fetched or verified. apt before 2.1 exits 0 with only a warning then
// and ignores the error-mode option, so its output is checked as well.
func (s *session) aptUpdate(ctx context.Context) error {
	out, err := s.run(ctx, "apt-get", "update", "-q", "-o", "APT::Update::Error-Mode=any")
	if err != nil {
		return fmt.Errorf("apt-get update (a package source is unreachable or unsigned): %w", err)
	}
	if bad := updateFailures(out); bad != "" {
		return fmt.Errorf("apt-get update (a package source is unreachable or unsigned): %s", bad)
	}
	return nil
}

// updateFailures returns apt-get update's lines that report a source it
// could not fetch or verify, or "".
func updateFailures(out string) string {
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Err:") || strings.HasPrefix(l, "E:") || strings.HasPrefix(l, "W: Failed to fetch") ||
			strings.HasPrefix(l, "W: Some index files failed") || strings.HasPrefix(l, "W: GPG error") {
			bad = append(bad, l)
		}
	}
	return tail(strings.Join(bad, "; "), 1500)
}

// dpkgArch maps OCI architectures (Go's names) to Debian's.
var dpkgArch = map[string]string{
	"amd64": "amd64", "arm64": "arm64", "386": "i386", "ppc64le": "ppc64el",
	"s390x": "s390x", "riscv64": "riscv64", "mips64le": "mips64el", "loong64": "loong64",
}

// sameArch refuses an image whose config names another architecture than
// the one its dpkg installs packages for: apt would fetch dpkg's, and the
// patched image would carry binaries of an architecture its platform
// entry does not claim.
func sameArch(p v1.Platform, dpkg string) error {
	want := dpkgArch[p.Architecture]
	if p.Architecture == "arm" {
		// armel and armhf are both "arm" (variants v5/v6 and v7).
		if dpkg == "armhf" || dpkg == "armel" {
			return nil
		}
	}
	if want == "" {
		want = p.Architecture
	}
	if dpkg != want {
		return fmt.Errorf("patch: the image's platform is %s but its dpkg installs %s packages: refusing to patch a mislabelled image", p.String(), dpkg)
	}
	return nil
}
