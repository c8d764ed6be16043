package lineage

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDependents(t *testing.T) {
	const (
		debOld = "sha256:d0"
		debNew = "sha256:d1"
	)
	images := []Tracked{
		{Name: "web", Ref: "reg.example/team/web:1", Digest: "sha256:w", BaseRef: "reg.example/base/python:3", BaseDigest: "sha256:p"},
		{Name: "python", Ref: "reg.example/base/python:3", Digest: "sha256:p", BaseRef: "reg.example/base/debian:12", BaseDigest: debOld},
		{Name: "worker", Ref: "reg.example/team/worker:1", Digest: "sha256:k", BaseRef: "reg.example/base/python:3", BaseDigest: "sha256:old-python"},
		{Name: "tool", Ref: "reg.example/team/tool:2", Digest: "sha256:t", BaseRef: "reg.example/base/debian:12", BaseDigest: debOld},
		{Name: "api", Ref: "reg.example/team/api:1", Digest: "sha256:a", BaseRef: "reg.example/team/web:1"},
		{Name: "alpine-app", Ref: "reg.example/team/a:1", Digest: "sha256:x", BaseRef: "alpine:3.20", BaseDigest: "sha256:al"},
		{Name: "hub", Ref: "docker.io/library/debian:12", Digest: debNew, BaseRef: "debian"},
	}
	type row struct {
		Name, Parent string
		Depth        int
	}
	summary := func(ds []Dependent) []row {
		var out []row
		for _, d := range ds {
			out = append(out, row{d.Name, d.Parent, d.Depth})
		}
		return out
	}
	tests := []struct {
		base string
		want []row
	}{
		// By digest: python and tool directly; web and worker through python (by tag), api through web.
		{debOld, []row{{"python", "", 1}, {"tool", "", 1}, {"web", "python", 2}, {"worker", "python", 2}, {"api", "web", 3}}},
		{"reg.example/base/debian@" + debOld, []row{{"python", "", 1}, {"tool", "", 1}, {"web", "python", 2}, {"worker", "python", 2}, {"api", "web", 3}}},
		// By tag.
		{"reg.example/base/debian:12", []row{{"python", "", 1}, {"tool", "", 1}, {"web", "python", 2}, {"worker", "python", 2}, {"api", "web", 3}}},
		{"reg.example/base/python:3", []row{{"web", "", 1}, {"worker", "", 1}, {"api", "web", 2}}},
		// Tags are normalised: "alpine:3.20" is docker.io/library/alpine:3.20.
		{"index.docker.io/library/alpine:3.20", []row{{"alpine-app", "", 1}}},
		{"debian:latest", []row{{"hub", "", 1}}},
		{"sha256:nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			got, err := Dependents(images, tt.base)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summary(got)); diff != "" {
				t.Errorf("dependents (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDependentsTopologicalOrderDeepChain(t *testing.T) {
	// d is built on both b (by tag) and, through its base digest, c; it
	// must come after both, even though b is a direct dependent.
	images := []Tracked{
		{Name: "d", Ref: "r/d:1", BaseRef: "r/c:1"},
		{Name: "c", Ref: "r/c:1", Digest: "sha256:c", BaseRef: "r/b:1"},
		{Name: "b", Ref: "r/b:1", Digest: "sha256:b", BaseRef: "r/base:1"},
		{Name: "e", Ref: "r/e:1", BaseRef: "r/base:1", BaseDigest: "sha256:c"},
	}
	got, err := Dependents(images, "r/base:1")
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, d := range got {
		pos[d.Name] = i
	}
	if len(got) != 4 || pos["b"] > pos["c"] || pos["c"] > pos["d"] || pos["c"] > pos["e"] {
		t.Errorf("order = %+v", got)
	}
	if got[pos["e"]].Parent != "c" || got[pos["e"]].Depth != 3 {
		t.Errorf("e = %+v, want parent c at depth 3", got[pos["e"]])
	}
}

func TestDependentsCycle(t *testing.T) {
	images := []Tracked{
		{Name: "a", Ref: "r/a:1", BaseRef: "r/base:1"},
		{Name: "b", Ref: "r/b:1", BaseRef: "r/c:1", BaseDigest: "sha256:x"},
		{Name: "c", Ref: "r/c:1", BaseRef: "r/b:1"},
		{Name: "ok", Ref: "r/ok:1", BaseRef: "r/base:1"},
	}
	// b is on the base by digest and in a cycle with c.
	images[0].BaseRef = "r/base:1"
	images = append(images, Tracked{Name: "x", Ref: "r/x:1", BaseDigest: "sha256:base"})
	images[1].BaseDigest = "sha256:base"
	_, err := Dependents(images, "sha256:base")
	if !errors.Is(err, ErrCycle) || !strings.Contains(err.Error(), "b, c") {
		t.Fatalf("err = %v, want a cycle naming b, c", err)
	}
	// A cycle not reachable from the base does not matter.
	got, err := Dependents(images, "r/base:1")
	if err != nil || len(got) != 2 {
		t.Errorf("unrelated cycle: %v %+v", err, got)
	}
	if _, err := Dependents([]Tracked{{Name: "a"}, {Name: "a"}}, "x:1"); err == nil {
		t.Error("duplicate names accepted")
	}
}
