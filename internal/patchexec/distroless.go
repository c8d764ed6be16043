package patchexec

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/drydock/drydock/internal/patch"
	"github.com/drydock/drydock/internal/version"
)

// Distroless patches images with dpkg status.d entries and no package
// manager (Google's distroless): the packages are resolved and downloaded
// with apt in a helper container of a Debian image (under buildah's chroot
// isolation), and their files are read from outside with
// `dpkg-deb --fsys-tarfile` straight into the patch layer: nothing is
// unpacked on the host and no maintainer script runs anywhere. Each
// package's status.d entry (and .md5sums) is replaced with the new
// package's control data.
//
// Not handled, as in Copacetic: files the old version had and the new one
// dropped stay in the image (distroless keeps no file lists to know them).
type Distroless struct {
	// Buildah runs the helper container (its Path, WorkDir, Sources, Log).
	Buildah *Buildah
	// Helper is a Debian image with apt, of the same release as the image.
	Helper v1.Image
	// DpkgDeb is the dpkg-deb binary ("dpkg-deb" on PATH when empty).
	DpkgDeb string
}

func (d *Distroless) dpkgDeb() string {
	if d.DpkgDeb != "" {
		return d.DpkgDeb
	}
	return "dpkg-deb"
}

// Patch resolves, downloads and lays out the plan's packages on img.
func (d *Distroless) Patch(ctx context.Context, img v1.Image, plan *patch.Plan) (*Result, error) {
	if plan == nil || plan.Manager != patch.ManagerDpkgStatusD {
		return nil, errors.New("patch: the distroless executor patches images with dpkg status.d entries only")
	}
	if d.Helper == nil {
		return nil, errors.New("patch: a distroless image has no package manager: give a Debian helper image of the same release (--helper-image)")
	}
	if _, err := exec.LookPath(d.dpkgDeb()); err != nil {
		return nil, fmt.Errorf("patching a distroless image needs dpkg-deb (apt-get install dpkg): %w", err)
	}
	ctx, cancel := d.Buildah.withTimeout(ctx)
	defer cancel()
	s, err := d.Buildah.start(ctx, d.Helper)
	if err != nil {
		return nil, fmt.Errorf("patch: helper container: %w", err)
	}
	defer s.close()
	ups, err := d.resolve(ctx, s, plan)
	if err != nil {
		return nil, err
	}
	debs := filepath.Join(s.dir, "debs")
	if err := os.Mkdir(debs, 0o777); err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	// apt drops to its _apt user to download.
	_ = os.Chmod(debs, 0o777)
	args := []string{"run", "--isolation", "chroot", "--user", "0:0", "--volume", debs + ":/drydock-debs", "--workingdir", "/drydock-debs",
		"--env", "LC_ALL=C", s.container, "--", "apt-get", "download", "-q"}
	for _, u := range ups {
		args = append(args, u.Package+"="+u.To)
	}
	if _, err := s.buildah(ctx, args...); err != nil {
		return nil, fmt.Errorf("patch %s: apt-get download: %w", names(ups), err)
	}
	links, err := topSymlinks(img)
	if err != nil {
		return nil, err
	}
	outDir := filepath.Join(d.Buildah.WorkDir, filepath.Base(s.dir)+"-out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	file := filepath.Join(outDir, "layer.tar.gz")
	if err := d.writeLayer(ctx, file, debs, ups, links); err != nil {
		os.RemoveAll(outDir)
		return nil, err
	}
	if err := reachesTargets(plan, ups); err != nil {
		os.RemoveAll(outDir)
		return nil, err
	}
	pimg, size, err := Assemble(img, file, ups, "dpkg-deb --fsys-tarfile "+upgradeArgs(ups))
	if err != nil {
		os.RemoveAll(outDir)
		return nil, err
	}
	return &Result{Image: pimg, Upgrades: ups, LayerSize: size, dir: outDir}, nil
}

// Resolve says which packages the plan would upgrade to which versions,
// from the helper's resolution against the sources, changing nothing.
func (d *Distroless) Resolve(ctx context.Context, plan *patch.Plan) ([]Upgrade, error) {
	if plan == nil || plan.Manager != patch.ManagerDpkgStatusD || d.Helper == nil {
		return nil, errors.New("patch: resolving a distroless plan needs its plan and a helper image")
	}
	ctx, cancel := d.Buildah.withTimeout(ctx)
	defer cancel()
	s, err := d.Buildah.start(ctx, d.Helper)
	if err != nil {
		return nil, fmt.Errorf("patch: helper container: %w", err)
	}
	defer s.close()
	return d.resolve(ctx, s, plan)
}

// resolve adds the sources to the helper, updates, and picks the
// candidates newer than installed.
func (d *Distroless) resolve(ctx context.Context, s *session, plan *patch.Plan) ([]Upgrade, error) {
	if err := s.addSources(ctx); err != nil {
		return nil, err
	}
	pkgs := plan.Packages()
	if err := s.aptUpdate(ctx); err != nil {
		return nil, fmt.Errorf("patch %s: in the helper: %w", strings.Join(pkgs, ", "), err)
	}
	out, err := s.query(ctx, append([]string{"apt-cache", "policy"}, pkgs...)...)
	if err != nil {
		return nil, fmt.Errorf("patch: apt-cache policy: %w", err)
	}
	ups, err := distrolessUpgrades(plan, parsePolicy(out))
	if err != nil {
		return nil, err
	}
	if len(ups) == 0 {
		return nil, ErrNothingToPatch
	}
	return ups, nil
}

func (s *session) addSources(ctx context.Context) error {
	if len(s.b.Sources) == 0 {
		return nil
	}
	var body strings.Builder
	for _, l := range s.b.Sources {
		if strings.ContainsAny(l, "\n\r") || !strings.HasPrefix(strings.TrimSpace(l), "deb ") {
			return fmt.Errorf("apt source %q: want one line \"deb URI SUITE COMPONENT...\"", l)
		}
		body.WriteString(strings.TrimSpace(l) + "\n")
	}
	f := filepath.Join(s.dir, "sources.list")
	if err := os.WriteFile(f, []byte(body.String()), 0o644); err != nil {
		return fmt.Errorf("patch: %w", err)
	}
	_, err := s.buildah(ctx, "copy", s.container, f, "/"+sourcesFile)
	return err
}

// parsePolicy reads `apt-cache policy PKG...`: package → candidate
// version ("" for "(none)"); unknown packages are absent.
func parsePolicy(out string) map[string]string {
	m := map[string]string{}
	cur := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l != "" && !strings.HasPrefix(l, " ") && strings.HasSuffix(l, ":"):
			cur, _, _ = strings.Cut(strings.TrimSuffix(l, ":"), ":")
		case cur != "" && strings.HasPrefix(strings.TrimSpace(l), "Candidate:"):
			v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "Candidate:"))
			if v == "(none)" {
				v = ""
			}
			m[cur] = v
		}
	}
	return m
}

// distrolessUpgrades picks, for each planned package, the candidate when it
// is newer than installed; a planned package (findings mode) without one
// fails, naming it.
func distrolessUpgrades(plan *patch.Plan, candidates map[string]string) ([]Upgrade, error) {
	var c version.Dpkg
	var ups []Upgrade
	var missing []string
	for _, it := range plan.Items {
		cand := candidates[it.Package]
		newer := false
		if cand != "" {
			n, err := c.Compare(cand, it.Installed)
			newer = err == nil && n > 0
		}
		if !newer {
			if plan.Mode != patch.ModeAllUpdates {
				missing = append(missing, it.Package+" (installed "+it.Installed+", wanted >= "+it.Target+")")
			}
			continue
		}
		ups = append(ups, Upgrade{Package: it.Package, Arch: it.Arch, From: it.Installed, To: cand, Source: it.Source})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no upgrade available from the configured package sources for %s: add the security repository (--apt-source) or wait for the fix", strings.Join(missing, ", "))
	}
	slices.SortFunc(ups, func(a, b Upgrade) int { return strings.Compare(a.Package, b.Package) })
	return ups, nil
}

// writeLayer streams every downloaded package's files into one layer and
// writes its status.d entry; it checks each file is the planned version
// and, in findings mode, that its source version reaches the target.
func (d *Distroless) writeLayer(ctx context.Context, file, debs string, ups []Upgrade, links map[string]string) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("patch: %w", err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	entries, err := os.ReadDir(debs)
	if err != nil {
		return fmt.Errorf("patch: %w", err)
	}
	seen := map[string]bool{}
	for i, u := range ups {
		deb := ""
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), u.Package+"_") && strings.HasSuffix(e.Name(), ".deb") {
				deb = filepath.Join(debs, e.Name())
			}
		}
		if deb == "" {
			return fmt.Errorf("patch %s: apt-get download left no .deb for it", u.Package)
		}
		control, err := d.output(ctx, "-f", deb)
		if err != nil {
			return fmt.Errorf("patch %s: read %s: %w", u.Package, filepath.Base(deb), err)
		}
		fields := controlFields(control)
		if fields["Package"] != u.Package || fields["Version"] != u.To {
			return fmt.Errorf("patch %s: downloaded %s is %s %s, not %s", u.Package, filepath.Base(deb), fields["Package"], fields["Version"], u.To)
		}
		if a := fields["Architecture"]; u.Arch != "" && a != u.Arch {
			// The helper's apt downloads for its own architecture: a
			// helper of another platform than the image's must not
			// lay foreign binaries into it.
			return fmt.Errorf("patch %s: downloaded %s is for architecture %s, the image has %s: use a helper image of the image's platform", u.Package, filepath.Base(deb), a, u.Arch)
		}
		ups[i].Source, ups[i].SourceVersion = sourceOf(fields)
		if err := d.copyData(ctx, tw, deb, links, seen); err != nil {
			return fmt.Errorf("patch %s: %w", u.Package, err)
		}
		md5, err := d.md5sums(ctx, deb)
		if err != nil {
			return fmt.Errorf("patch %s: %w", u.Package, err)
		}
		entry := bytes.TrimRight(control, "\n")
		for _, fl := range []struct {
			name string
			body []byte
		}{{u.Package, append(entry, '\n')}, {u.Package + ".md5sums", md5}} {
			if fl.body == nil {
				continue
			}
			if err := tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/status.d/" + fl.name, Mode: 0o644, Size: int64(len(fl.body)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
				return err
			}
			if _, err := tw.Write(fl.body); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("patch: write the layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("patch: write the layer: %w", err)
	}
	return f.Close()
}

func (d *Distroless) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, d.dpkgDeb(), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg-deb %s: %w: %s", args[0], err, tail(stderr.String(), 500))
	}
	return out, nil
}

// copyData streams the package's data archive into tw, with paths under
// the image's top-level directory symlinks (usrmerge: lib → usr/lib)
// rewritten to their targets, so the layer never replaces those links.
func (d *Distroless) copyData(ctx context.Context, tw *tar.Writer, deb string, links map[string]string, seen map[string]bool) error {
	cmd := exec.CommandContext(ctx, d.dpkgDeb(), "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	copyErr := func() error {
		tr := tar.NewReader(out)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read the package's files: %w", err)
			}
			name, skip := relink(h.Name, links)
			if skip {
				continue
			}
			if h.Typeflag == tar.TypeLink {
				h.Linkname, _ = relink(h.Linkname, links)
			}
			if h.Typeflag == tar.TypeDir {
				if seen[name] {
					continue
				}
				name += "/"
			}
			seen[strings.TrimSuffix(name, "/")] = true
			h.Name = name
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if h.Typeflag == tar.TypeReg {
				if _, err := io.Copy(tw, tr); err != nil {
					return err
				}
			}
		}
	}()
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil && copyErr == nil {
		return fmt.Errorf("dpkg-deb --fsys-tarfile: %w: %s", err, tail(stderr.String(), 500))
	}
	return copyErr
}

// relink cleans a package path and moves it under its top-level symlink's
// target; skip is set for the root and for the symlinked directory itself.
func relink(name string, links map[string]string) (string, bool) {
	p := strings.TrimPrefix(path.Clean("/"+name), "/")
	if p == "" {
		return "", true
	}
	first, rest, _ := strings.Cut(p, "/")
	if target, ok := links[first]; ok {
		if rest == "" {
			return "", true
		}
		return target + "/" + rest, false
	}
	return p, false
}

func (d *Distroless) md5sums(ctx context.Context, deb string) ([]byte, error) {
	out, err := d.output(ctx, "--ctrl-tarfile", deb)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read the package's control files: %w", err)
		}
		if path.Clean("/"+h.Name) == "/md5sums" {
			return io.ReadAll(io.LimitReader(tr, 16<<20))
		}
	}
}

// controlFields reads the single-line fields of a control stanza.
func controlFields(b []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, " ") {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// sourceOf is the source package and version of a control stanza: Source
// may be absent (same name and version), a name, or "name (version)".
func sourceOf(f map[string]string) (string, string) {
	src := f["Source"]
	if src == "" {
		return f["Package"], f["Version"]
	}
	if n, v, ok := strings.Cut(src, " ("); ok {
		return n, strings.TrimSuffix(v, ")")
	}
	return src, f["Version"]
}

// topSymlinks lists the image's top-level directory symlinks ("lib" →
// "usr/lib") after all layers are applied.
func topSymlinks(img v1.Image) (map[string]string, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("patch: read the image's layers: %w", err)
	}
	links := map[string]string{}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("patch: read a layer: %w", err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rc.Close()
				return nil, fmt.Errorf("patch: read a layer: %w", err)
			}
			p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			if p == "" || strings.Contains(p, "/") {
				continue
			}
			if w, ok := strings.CutPrefix(p, ".wh."); ok {
				delete(links, w)
				continue
			}
			if h.Typeflag == tar.TypeSymlink {
				t := strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
				if !strings.HasPrefix(h.Linkname, "/") {
					t = strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
				}
				if t != "" && !strings.Contains(t, "..") {
					links[p] = t
				}
			} else {
				delete(links, p)
			}
		}
		rc.Close()
	}
	return links, nil
}

// reachesTargets fails, naming the packages, when a downloaded package's
// source version is below its planned fixed version.
func reachesTargets(plan *patch.Plan, ups []Upgrade) error {
	var c version.Dpkg
	var low []string
	for _, it := range plan.Items {
		if it.Target == "" {
			continue
		}
		for _, u := range ups {
			if u.Package != it.Package {
				continue
			}
			have := u.SourceVersion
			if have == "" {
				have = u.To
			}
			if n, err := c.Compare(have, it.Target); err != nil || n < 0 {
				low = append(low, fmt.Sprintf("%s (source version %s, below the fixed %s)", u.Package, have, it.Target))
			}
		}
	}
	if len(low) > 0 {
		return fmt.Errorf("the configured package sources do not have the fixed versions of %s", strings.Join(low, ", "))
	}
	return nil
}
