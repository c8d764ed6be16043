package main

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// lineageRegistry pushes an OS base, a runtime on it and an app on the
// runtime (the app annotated with its base) to an in-process registry.
func lineageRegistry(t *testing.T) (host string, digests map[string]string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	digests = map[string]string{}
	push := func(base v1.Image, n int, ref string, ann map[string]string) v1.Image {
		t.Helper()
		img := base
		for range n {
			l, err := random.Layer(128, types.OCILayer)
			if err != nil {
				t.Fatal(err)
			}
			if img, err = mutate.AppendLayers(img, l); err != nil {
				t.Fatal(err)
			}
		}
		if ann != nil {
			img = mutate.Annotations(img, ann).(v1.Image)
		}
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests[ref] = d.String()
		return img
	}
	empty, _ := random.Image(0, 0)
	osImg := push(empty, 2, host+"/base/os:1", nil)
	rt := push(osImg, 1, host+"/base/runtime:1", nil)
	push(rt, 2, host+"/team/app:1", map[string]string{
		"org.opencontainers.image.base.name":   host + "/base/runtime:1",
		"org.opencontainers.image.base.digest": digests[host+"/base/runtime:1"],
	})
	push(rt, 1, host+"/team/plain:1", nil)
	return host, digests
}

func TestLineageCommand(t *testing.T) {
	e := newEnv(t)
	host, digests := lineageRegistry(t)
	app, runtime, osRef := host+"/team/app:1", host+"/base/runtime:1", host+"/base/os:1"

	out, errOut, code := e.run(t, "lineage", "--format", "json", "--known-base", osRef, app)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var chain struct {
		Links []struct {
			Ref, Digest, Method, Confidence string
			Layers                          []string
		}
	}
	if err := json.Unmarshal([]byte(out), &chain); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	type row struct {
		Ref, Digest, Method, Confidence string
		Layers                          int
	}
	var got []row
	for _, l := range chain.Links {
		got = append(got, row{l.Ref, l.Digest, l.Method, l.Confidence, len(l.Layers)})
	}
	want := []row{
		{app, digests[app], "image", "", 2},
		{runtime, digests[runtime], "annotation", "high", 1},
		{osRef, digests[osRef], "layers", "high", 2},
	}
	if len(got) != len(want) {
		t.Fatalf("chain = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("link %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	// Table output, a Dockerfile for an unannotated image.
	df := filepath.Join(t.TempDir(), "Dockerfile")
	os.WriteFile(df, []byte("ARG BASE=nothing\nFROM --platform=$BUILDPLATFORM golang AS build\nFROM ${BASE}\n"), 0o644)
	out, errOut, code = e.run(t, "lineage", "--dockerfile", df, "--build-arg", "BASE="+runtime, host+"/team/plain:1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"IMAGE", "FOUND BY", "└─ " + runtime, "dockerfile", "medium", digests[runtime], "contributed 1 layer(s)"} {
		if !strings.Contains(out, s) {
			t.Errorf("table does not show %q:\n%s", s, out)
		}
	}

	// Errors exit 2.
	for _, args := range [][]string{
		{"lineage", "--format", "xml", app},
		{"lineage", host + "/team/missing:1"},
		{"lineage", "--dockerfile", filepath.Join(t.TempDir(), "nope"), app},
		{"lineage"},
	} {
		if _, errOut, code := e.run(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
