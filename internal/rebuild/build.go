package rebuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/image"
)

// Build runs a configured build command, then an optional push command, and
// finds the pushed image. Configuration keys:
//
//	command     JSON array of argv templates, e.g.
//	            ["buildah","bud","--build-arg","BASE_IMAGE={{.NewBase}}","-t","{{.Target}}","{{.Context}}"];
//	            with shell set, a single script template run as shell -c
//	push        the same for the push step (optional)
//	shell       a shell ("/bin/sh"); unset means no shell is involved
//	context     build context directory ({{.Context}}); Request.Env["context"] overrides
//	dir         working directory of the commands; Request.Env["dir"] overrides
//	timeout     Go duration for all steps together (default 30m)
//	max_output  bytes of output kept, the last ones (default 65536)
//	verify      after the push: "changed" (default: Target resolves to a digest other
//	            than Current's), "base" (also: its base.digest annotation is NewBase's
//	            digest or NewBase's layers are a prefix of its layers), "none"
//	insecure    "true" allows plain HTTP to registries other than localhost
//
// Templates see .NewBase .NewBaseTag .OldBase .Target .Current .Context .ID
// .Name and .Env (Request.Env). The commands run with the caller's
// environment plus DRYDOCK_NEW_BASE, DRYDOCK_NEW_BASE_TAG, DRYDOCK_OLD_BASE,
// DRYDOCK_TARGET, DRYDOCK_CURRENT and DRYDOCK_REBUILD_ID; in shell scripts
// prefer those variables to template values, which are not shell-quoted.
type Build struct {
	command, push []*template.Template
	shell         string
	context, dir  string
	timeout       time.Duration
	maxOutput     int
	verify        string
	insecure      bool
	imageOpts     []image.Option
}

func newBuild(cfg map[string]string) (Executor, error) {
	x := &Build{shell: cfg["shell"], context: cfg["context"], dir: cfg["dir"], timeout: 30 * time.Minute, maxOutput: 64 << 10, verify: "changed"}
	var err error
	if cfg["command"] == "" {
		return nil, errors.New("build: command is required")
	}
	if x.command, err = parseArgv("command", cfg["command"], x.shell != ""); err != nil {
		return nil, err
	}
	if cfg["push"] != "" {
		if x.push, err = parseArgv("push", cfg["push"], x.shell != ""); err != nil {
			return nil, err
		}
	}
	if v := cfg["timeout"]; v != "" {
		if x.timeout, err = time.ParseDuration(v); err != nil || x.timeout <= 0 {
			return nil, fmt.Errorf("build: timeout %q: want a positive duration like 30m", v)
		}
	}
	if v := cfg["max_output"]; v != "" {
		if x.maxOutput, err = strconv.Atoi(v); err != nil || x.maxOutput <= 0 {
			return nil, fmt.Errorf("build: max_output %q: want a positive number of bytes", v)
		}
	}
	if v := cfg["verify"]; v != "" {
		switch v {
		case "changed", "base", "none":
			x.verify = v
		default:
			return nil, fmt.Errorf("build: verify %q: want changed, base or none", v)
		}
	}
	if v := cfg["insecure"]; v != "" {
		if x.insecure, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("build: insecure: %w", err)
		}
	}
	return x, nil
}

func parseArgv(key, s string, shell bool) ([]*template.Template, error) {
	var argv []string
	if shell {
		argv = []string{s}
	} else if err := json.Unmarshal([]byte(s), &argv); err != nil || len(argv) == 0 {
		return nil, fmt.Errorf("build: %s must be a non-empty JSON array of strings (or set shell to run a script)", key)
	}
	var out []*template.Template
	for i, a := range argv {
		t, err := template.New(fmt.Sprintf("%s[%d]", key, i)).Option("missingkey=error").Parse(a)
		if err != nil {
			return nil, fmt.Errorf("build: %s: %w", key, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func (x *Build) setImageOptions(opts []image.Option) { x.imageOpts = append(x.imageOpts, opts...) }

// Name is "build".
func (x *Build) Name() string { return "build" }

type buildData struct {
	NewBase, NewBaseTag, OldBase, Target, Current, Context, ID, Name string
	Env                                                              map[string]string
}

// Rebuild runs the build and push commands and returns the image Target
// then names. With verify "base", a Target already on NewBase (and not
// Current) is returned without building again.
func (x *Build) Rebuild(ctx context.Context, req Request) (Result, error) {
	if req.Target == "" || req.NewBase == "" {
		return Result{}, errors.New("build: request needs Target and NewBase")
	}
	data := buildData{NewBase: req.NewBase, NewBaseTag: req.NewBaseTag, OldBase: req.OldBase, Target: req.Target, Current: req.Current,
		Context: firstNonEmpty(req.Env["context"], x.context), ID: req.ID, Name: req.Name, Env: req.Env}
	if data.Env == nil {
		data.Env = map[string]string{}
	}
	dir := firstNonEmpty(req.Env["dir"], x.dir)
	ropts := image.RemoteOptions(ctx, append([]image.Option{image.WithInsecure(x.insecure)}, x.imageOpts...)...)

	if x.verify == "base" {
		if d, err := x.check(req, ropts); err == nil {
			return Result{Image: d, Tags: []string{req.Target}, Log: fmt.Sprintf("%s is already built on %s; nothing run", req.Target, req.NewBase)}, nil
		}
	}

	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	env := append(os.Environ(),
		"DRYDOCK_NEW_BASE="+req.NewBase,
		"DRYDOCK_NEW_BASE_TAG="+req.NewBaseTag,
		"DRYDOCK_OLD_BASE="+req.OldBase,
		"DRYDOCK_TARGET="+req.Target,
		"DRYDOCK_CURRENT="+req.Current,
		"DRYDOCK_REBUILD_ID="+req.ID,
	)
	out := &tailBuffer{max: x.maxOutput}
	for _, step := range []struct {
		name string
		tpl  []*template.Template
	}{{"build", x.command}, {"push", x.push}} {
		if step.tpl == nil {
			continue
		}
		argv, err := render(step.tpl, data)
		if err != nil {
			return Result{}, fmt.Errorf("build: %s command: %w", step.name, err)
		}
		if x.shell != "" {
			argv = []string{x.shell, "-c", argv[0]}
		}
		fmt.Fprintf(out, "$ %s\n", strings.Join(argv, " "))
		if err := run(ctx, argv, dir, env, out); err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return Result{}, fmt.Errorf("build: %s command timed out after %s; last output:\n%s", step.name, x.timeout, out.Tail(2048))
			}
			return Result{}, fmt.Errorf("build: %s command %s: %w; last output:\n%s", step.name, argv[0], err, out.Tail(2048))
		}
	}
	d, err := x.check(req, ropts)
	if err != nil {
		return Result{}, fmt.Errorf("build: %w; last output:\n%s", err, out.Tail(2048))
	}
	return Result{Image: d, Tags: []string{req.Target}, Log: fmt.Sprintf("built and pushed %s as %s\n%s", req.Target, d, out.Tail(4096))}, nil
}

// check resolves Target and holds it to the verify setting; it returns the
// digest reference.
func (x *Build) check(req Request, ropts []remote.Option) (string, error) {
	tr, err := image.ParseReference(req.Target, x.insecure)
	if err != nil {
		return "", err
	}
	if x.verify == "none" {
		desc, err := remote.Head(tr, ropts...)
		if err != nil {
			return "", fmt.Errorf("resolve %s after the build: %w", tr, err)
		}
		return tr.Context().Digest(desc.Digest.String()).String(), nil
	}
	desc, err := remote.Get(tr, ropts...)
	if err != nil {
		return "", fmt.Errorf("resolve %s after the build: %w", tr, err)
	}
	ref := tr.Context().Digest(desc.Digest.String()).String()
	if req.Current != "" {
		if cr, err := image.ParseReference(req.Current, x.insecure); err == nil {
			if cd, ok := cr.(name.Digest); ok && cd.DigestStr() == desc.Digest.String() {
				return "", fmt.Errorf("%s still points to the current image %s: the build pushed nothing new", tr, desc.Digest)
			}
		}
	}
	if x.verify != "base" {
		return ref, nil
	}
	img, err := desc.Image()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", ref, err)
	}
	nb, err := image.ParseReference(req.NewBase, x.insecure)
	if err != nil {
		return "", err
	}
	if d, ok := nb.(name.Digest); ok && m.Annotations[image.AnnotationBaseDigest] == d.DigestStr() {
		return ref, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", ref, err)
	}
	bdesc, err := remote.Get(nb, append(slices.Clone(ropts), remote.WithPlatform(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}))...)
	if err != nil {
		return "", fmt.Errorf("read new base %s: %w", nb, err)
	}
	bimg, err := bdesc.Image()
	if err != nil {
		return "", fmt.Errorf("read new base %s: %w", nb, err)
	}
	bcf, err := bimg.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("read new base %s: %w", nb, err)
	}
	if n := len(bcf.RootFS.DiffIDs); commonPrefix(bcf.RootFS.DiffIDs, cf.RootFS.DiffIDs) != n {
		return "", fmt.Errorf("%s is not built on %s: neither its base.digest annotation nor its layers match", ref, req.NewBase)
	}
	return ref, nil
}

func render(tpls []*template.Template, data buildData) ([]string, error) {
	var out []string
	for _, t := range tpls {
		var b strings.Builder
		if err := t.Execute(&b, data); err != nil {
			return nil, err
		}
		out = append(out, b.String())
	}
	return out, nil
}

// run runs argv in its own process group, so that a timeout kills the
// whole tree (a shell and what it started), not just the first process.
func run(ctx context.Context, argv []string, dir string, env []string, out *tailBuffer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd.Run()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(len(p))
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return len(p), nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return len(p), nil
}

// Tail is at most n of the last bytes kept, starting at a line boundary when
// there is one, and says how much was dropped.
func (t *tailBuffer) Tail(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i+1 < len(b) {
			b = b[i+1:]
		}
	}
	s := string(b)
	if dropped := t.total - int64(len(b)); dropped > 0 {
		s = fmt.Sprintf("[%d bytes of output omitted]\n", dropped) + s
	}
	return s
}
