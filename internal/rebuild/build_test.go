package rebuild

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// rebaseCmd builds testdata/rebasecmd, a stand-in for a user's build tool.
func rebaseCmd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rebasecmd")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/rebasecmd").CombinedOutput()
	if err != nil {
		t.Fatalf("build rebasecmd: %v\n%s", err, out)
	}
	return bin
}

func argv(t *testing.T, a ...string) string {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBuildRealCommand(t *testing.T) {
	f := newFixture(t)
	bin := rebaseCmd(t)
	x, err := New("build", map[string]string{
		"command": argv(t, bin, "build", "{{.Context}}/out-{{.ID}}"),
		"push":    argv(t, bin, "push", "{{.Context}}/out-{{.ID}}", "{{.Target}}"),
		"context": t.TempDir(),
		"timeout": "2m",
		"verify":  "base",
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Rebuild(context.Background(), f.request())
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.ParseReference(f.appTag)
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	if want := tag.Context().Digest(desc.Digest.String()).String(); res.Image != want || res.Image == f.appRef {
		t.Errorf("result image %s, tag resolves to %s (current %s)", res.Image, want, f.appRef)
	}
	if !strings.Contains(res.Log, "pushing "+f.appTag) || !strings.Contains(res.Log, "built ") {
		t.Errorf("log does not show the commands' output: %q", res.Log)
	}
	img, _ := desc.Image()
	want := slices.Concat(diffIDs(t, f.v2), diffIDs(t, f.app)[2:])
	if got := diffIDs(t, img); !slices.Equal(got, want) {
		t.Errorf("built image layers = %v, want %v", got, want)
	}
	// With verify=base, a retry finds the target built and runs nothing.
	before := f.reg.puts.Load()
	res2, err := x.Rebuild(context.Background(), f.request())
	if err != nil || res2.Image != res.Image || !strings.Contains(res2.Log, "nothing run") || f.reg.puts.Load() != before {
		t.Errorf("retry: %v %+v", err, res2)
	}
}

func TestBuildEnvShellAndChecks(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	x, err := New("build", map[string]string{
		"shell":   "/bin/sh",
		"command": `echo "$DRYDOCK_NEW_BASE|$DRYDOCK_NEW_BASE_TAG|$DRYDOCK_OLD_BASE|$DRYDOCK_TARGET|$DRYDOCK_REBUILD_ID|{{.Env.flavour}}" > env.txt`,
		"verify":  "none",
	})
	if err != nil {
		t.Fatal(err)
	}
	req := f.request()
	req.Env = map[string]string{"dir": dir, "flavour": "slim"}
	if _, err := x.Rebuild(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{f.v2Ref, f.baseTag, f.v1Ref, f.appTag, "r1", "slim"}, "|") + "\n"
	if string(b) != want {
		t.Errorf("environment seen by the command = %q, want %q", b, want)
	}

	// A command that pushes nothing: the target still is the current image.
	x, _ = New("build", map[string]string{"command": argv(t, "true")})
	if _, err := x.Rebuild(context.Background(), req); err == nil || !strings.Contains(err.Error(), "pushed nothing new") {
		t.Errorf("no-op build: %v", err)
	}
	// verify=base refuses an image not on the new base.
	other := makeImage(t, f.v1, []layerSpec{{createdBy: "other"}}, nil, nil)
	pushImage(t, other, f.appTag)
	x, _ = New("build", map[string]string{"command": argv(t, "true"), "verify": "base"})
	if _, err := x.Rebuild(context.Background(), req); err == nil || !strings.Contains(err.Error(), "is not built on") {
		t.Errorf("wrong base: %v", err)
	}
}

func TestBuildFailures(t *testing.T) {
	f := newFixture(t)
	req := f.request()

	x, _ := New("build", map[string]string{"command": argv(t, "sh", "-c", "echo compiling; echo boom >&2; exit 3")})
	_, err := x.Rebuild(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing command: %v", err)
	}

	// The timeout kills the whole process group, the shell's child included.
	x, _ = New("build", map[string]string{"command": argv(t, "sh", "-c", "sleep 30; echo done"), "timeout": "300ms"})
	start := time.Now()
	_, err = x.Rebuild(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Errorf("timeout: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("timeout took %s", d)
	}

	// Output is bounded.
	x, _ = New("build", map[string]string{"command": argv(t, "sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done; exit 1"), "max_output": "1000"})
	_, err = x.Rebuild(context.Background(), req)
	if err == nil || len(err.Error()) > 2000 || !strings.Contains(err.Error(), "omitted") || !strings.Contains(err.Error(), "line 19999") {
		t.Errorf("bounded output: %d bytes: %.300v", len(err.Error()), err)
	}

	// A missing program.
	x, _ = New("build", map[string]string{"command": argv(t, "/nonexistent/buildah", "bud")})
	if _, err = x.Rebuild(context.Background(), req); err == nil || !strings.Contains(err.Error(), "/nonexistent/buildah") {
		t.Errorf("missing program: %v", err)
	}

	for _, cfg := range []map[string]string{
		{},
		{"command": "buildah bud ."},
		{"command": `["x"]`, "timeout": "soon"},
		{"command": `["{{.Nope"]`},
		{"command": `["x"]`, "verify": "maybe"},
	} {
		if _, err := New("build", cfg); err == nil {
			t.Errorf("config %v accepted", cfg)
		}
	}
	// A template naming an unknown field fails at run time, before running anything.
	x, _ = New("build", map[string]string{"command": argv(t, "echo", "{{.Nope}}")})
	if _, err := x.Rebuild(context.Background(), req); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("bad template field: %v", err)
	}
}
