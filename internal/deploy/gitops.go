package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
)

// maxManifestSize skips files too big to be hand-written manifests.
const maxManifestSize = 4 << 20

// FileChange is one rewritten file of a work tree.
type FileChange struct {
	// Path is slash-separated, relative to the work tree root.
	Path    string       `json:"path"`
	Changes []LineChange `json:"changes"`

	content []byte
	mode    fs.FileMode
}

// FileProblem is a file with a selected image that could not be rewritten
// exactly.
type FileProblem struct {
	Path string `json:"path"`
	Err  string `json:"error"`
}

// RewriteTree finds the image references rw selects in the YAML files
// (*.yaml, *.yml, Kustomization) under dir and returns the rewritten files
// without writing them. Every file is read through an os.Root, so no path
// leaves dir; symbolic links are skipped, not followed; .git is skipped.
// Files that do not parse as YAML (Helm templates) are skipped. A file
// with a selected image and more than one hard link is a problem, not a
// change: its other names may be outside dir, and rewriting it would
// change them too.
func RewriteTree(dir string, rw Rewrite) ([]FileChange, []FileProblem, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open work tree: %w", err)
	}
	defer root.Close()
	var changes []FileChange
	var problems []FileProblem
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || (p != "." && strings.HasPrefix(d.Name(), ".") && d.Name() != ".github") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks and devices are never followed
		}
		ext := path.Ext(p)
		if ext != ".yaml" && ext != ".yml" && !IsKustomization(p) {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.Size() > maxManifestSize {
			return nil
		}
		data, err := root.ReadFile(p)
		if err != nil {
			return err
		}
		out, lc, err := RewriteYAML(data, IsKustomization(p), rw)
		if err != nil {
			problems = append(problems, FileProblem{Path: p, Err: err.Error()})
			return nil
		}
		if n := linkCount(fi); len(lc) > 0 && n > 1 {
			problems = append(problems, FileProblem{Path: p, Err: fmt.Sprintf("has %d hard links, which may be outside the work tree; drydock rewrites only files with one link (copy the file to break the link)", n)})
			return nil
		}
		if len(lc) > 0 {
			changes = append(changes, FileChange{Path: p, Changes: lc, content: out, mode: fi.Mode().Perm()})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk work tree: %w", err)
	}
	return changes, problems, nil
}

// GitOpsOptions configure GitOps.
type GitOpsOptions struct {
	Replaces Selector
	// OldReport and NewReport are scan reports of the old and new images;
	// the commit message lists the findings the new image fixes.
	OldReport, NewReport *ScanReport
	// Branch defaults to drydock/<first 12 hex digits of the new digest>.
	Branch string
	// DryRun rewrites nothing and commits nothing.
	DryRun bool
}

// GitOpsResult is what GitOps did.
type GitOpsResult struct {
	Branch   string         `json:"branch,omitempty"`
	Commit   string         `json:"commit,omitempty"`
	Message  string         `json:"message"`
	Files    []FileChange   `json:"files"`
	Problems []FileProblem  `json:"problems,omitempty"`
	Fixed    []FixedFinding `json:"fixed"`
}

// ErrNothingToChange means no file in the work tree selects the old image.
var ErrNothingToChange = errors.New("no image reference to rewrite")

// GitOps rewrites the image references in the git work tree dir (plain
// manifests, kustomization images: entries, marked Helm values) to the new
// image pinned by digest, on a new branch checked out from the current
// HEAD, and commits them with a message listing the fixed CVEs. The work
// tree is left on the new branch. It uses the git CLI.
func GitOps(ctx context.Context, dir string, newImage name.Digest, opts GitOpsOptions) (*GitOpsResult, error) {
	rw := NewRewrite(newImage, opts.Replaces)
	files, problems, err := RewriteTree(dir, rw)
	if err != nil {
		return nil, err
	}
	res := &GitOpsResult{Files: files, Problems: problems, Branch: opts.Branch}
	if res.Branch == "" {
		res.Branch = "drydock/" + ShortDigest(newImage.DigestStr())
	}
	if opts.OldReport != nil {
		res.Fixed = Fixed(opts.OldReport, opts.NewReport)
	}
	res.Message = commitMessage(rw, res)
	if len(files) == 0 {
		return res, ErrNothingToChange
	}
	if opts.DryRun {
		return res, nil
	}

	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
		}
		return strings.TrimSpace(out.String()), nil
	}
	if _, err := git("rev-parse", "--is-inside-work-tree"); err != nil {
		return nil, fmt.Errorf("%s is not a git work tree: %w", dir, err)
	}
	if _, err := git("rev-parse", "--verify", "--quiet", "refs/heads/"+res.Branch); err == nil {
		return nil, fmt.Errorf("branch %s exists already", res.Branch)
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.FromSlash(f.Path)
	}
	if st, err := git(append([]string{"status", "--porcelain", "--"}, paths...)...); err != nil {
		return nil, err
	} else if st != "" {
		return nil, fmt.Errorf("uncommitted changes in files drydock would rewrite:\n%s", st)
	}
	prev, err := git("symbolic-ref", "--quiet", "--short", "HEAD")
	if err != nil {
		if prev, err = git("rev-parse", "HEAD"); err != nil {
			return nil, err
		}
	}
	if _, err := git("switch", "-c", res.Branch); err != nil {
		return nil, err
	}
	// undo puts back the files drydock wrote (they were clean), returns to
	// the previous branch and deletes the new one; other uncommitted work is
	// left alone.
	undo := func(cause error) error {
		errs := []error{cause}
		if _, err := git(append([]string{"checkout", "--"}, paths...)...); err != nil {
			errs = append(errs, err)
		}
		if _, err := git("switch", prev); err != nil {
			if _, err := git("switch", "--detach", prev); err != nil {
				errs = append(errs, err)
			}
		}
		if _, err := git("branch", "-D", res.Branch); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, undo(err)
	}
	defer root.Close()
	for _, f := range files {
		if err := replaceInRoot(root, f); err != nil {
			return nil, undo(fmt.Errorf("write %s: %w", f.Path, err))
		}
	}
	if _, err := git(append([]string{"add", "--"}, paths...)...); err != nil {
		return nil, undo(err)
	}
	commit := []string{"commit", "--quiet", "-F", "-"}
	if _, err := git("config", "user.email"); err != nil {
		commit = append([]string{"-c", "user.name=drydock", "-c", "user.email=drydock@localhost"}, commit...)
	}
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, commit...)...)
	cmd.Stdin = strings.NewReader(res.Message)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, undo(fmt.Errorf("git commit: %v: %s", err, bytes.TrimSpace(out)))
	}
	if res.Commit, err = git("rev-parse", "HEAD"); err != nil {
		return nil, err
	}
	return res, nil
}

func commitMessage(rw Rewrite, res *GitOpsResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "drydock: pin %s to %s\n\n", rw.New.Context().Name(), ShortDigest(rw.New.DigestStr()))
	fmt.Fprintf(&b, "Replaces %s with %s.\n", rw.Sel, rw.New.String())
	if len(res.Fixed) > 0 {
		fmt.Fprintf(&b, "\nFixes %d vulnerabilit%s:\n", len(res.Fixed), map[bool]string{true: "y", false: "ies"}[len(res.Fixed) == 1])
		for _, f := range res.Fixed {
			fmt.Fprintf(&b, "- %s (%s, %s)\n", f.ID, f.Severity, f.Package)
		}
	}
	if len(res.Files) > 0 {
		b.WriteString("\nFiles:\n")
		ps := make([]string, len(res.Files))
		for i, f := range res.Files {
			ps[i] = f.Path
		}
		sort.Strings(ps)
		for _, p := range ps {
			fmt.Fprintf(&b, "- %s\n", p)
		}
	}
	return b.String()
}

// Diff renders a file's changes as a unified-style diff of the changed
// lines.
func (f FileChange) Diff() string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- a/%s\n+++ b/%s\n", f.Path, f.Path)
	for _, c := range f.Changes {
		fmt.Fprintf(&b, "@@ line %d (%s) @@\n", c.Line, c.Kind)
		if c.Old != "" {
			fmt.Fprintf(&b, "-%s\n", c.Old)
		}
		fmt.Fprintf(&b, "+%s\n", c.New)
	}
	return b.String()
}

// linkCount is the number of hard links of a file (1 when unknown).
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// replaceInRoot writes f's new content to a temporary file beside it and
// renames it into place, all through root. The file is checked again
// first (it may have changed since RewriteTree read it): it must still be
// a regular file with one link. The rename never writes through a link
// either way: another name for the old inode would keep the old bytes.
func replaceInRoot(root *os.Root, f FileChange) error {
	fi, err := root.Lstat(f.Path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("no longer a regular file")
	}
	if n := linkCount(fi); n > 1 {
		return fmt.Errorf("has %d hard links now; drydock rewrites only files with one link", n)
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	dir, base := path.Split(f.Path)
	tmp := dir + "." + base + ".drydock-" + hex.EncodeToString(rnd[:])
	t, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
	if err != nil {
		return err
	}
	_, werr := t.Write(f.content)
	if cerr := t.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = root.Chmod(tmp, f.mode)
	}
	if werr == nil {
		werr = root.Rename(tmp, f.Path)
	}
	if werr != nil {
		root.Remove(tmp)
		return werr
	}
	return nil
}
