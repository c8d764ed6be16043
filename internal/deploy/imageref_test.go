package deploy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	dA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestParseImageID(t *testing.T) {
	tests := []struct {
		in      string
		want    RunningImage
		wantErr string
	}{
		{"docker-pullable://nginx@" + dA, RunningImage{"index.docker.io/library/nginx", dA}, ""},
		{"docker-pullable://reg.example:5000/team/app@" + dA, RunningImage{"reg.example:5000/team/app", dA}, ""},
		{"reg.example/app@" + dA, RunningImage{"reg.example/app", dA}, ""},
		{"127.0.0.1:5000/app@" + dB, RunningImage{"127.0.0.1:5000/app", dB}, ""},
		{dA, RunningImage{Digest: dA}, ""},
		{"docker://" + dA, RunningImage{Digest: dA}, ""},
		{"", RunningImage{}, "empty"},
		{"docker-pullable://", RunningImage{}, "empty"},
		{"nginx:1.27", RunningImage{}, "no sha256 digest"},
		{"nginx@sha256:abc", RunningImage{}, "no sha256 digest"},
		{"nginx@" + strings.ToUpper(dA), RunningImage{}, "no sha256 digest"},
		{"UPPER/app@" + dA, RunningImage{}, "repository"},
	}
	for _, tt := range tests {
		got, err := ParseImageID(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseImageID(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseImageID(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseImageID(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func FuzzParseImageID(f *testing.F) {
	for _, s := range []string{"docker-pullable://nginx@" + dA, dA, "reg:5000/a/b@" + dB, "", "x@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ri, err := ParseImageID(s)
		if err != nil {
			return
		}
		if !digestRE().MatchString(ri.Digest) {
			t.Fatalf("ParseImageID(%q) digest %q", s, ri.Digest)
		}
		if !strings.Contains(s, ri.Digest) {
			t.Fatalf("ParseImageID(%q) invented digest %q", s, ri.Digest)
		}
		if ri.Repository != "" {
			if _, err := ParseRef(ri.Repository + "@" + ri.Digest); err != nil {
				t.Fatalf("ParseImageID(%q) repository %q does not parse back: %v", s, ri.Repository, err)
			}
		}
	})
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
	}{
		{"nginx", Ref{"index.docker.io/library/nginx", "latest", ""}},
		{"nginx:1.27", Ref{"index.docker.io/library/nginx", "1.27", ""}},
		{"reg:5000/team/app", Ref{"reg:5000/team/app", "latest", ""}},
		{"reg:5000/team/app:v2", Ref{"reg:5000/team/app", "v2", ""}},
		{"reg.example/app@" + dA, Ref{"reg.example/app", "", dA}},
		{"reg.example/app:1.2@" + dA, Ref{"reg.example/app", "1.2", dA}},
	}
	for _, tt := range tests {
		got, err := ParseRef(tt.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseRef(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{"reg.example/app:", "reg.example/app@sha256:zz", "Reg.example/App", "reg.example/app:bad tag"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

func TestSelectorMatches(t *testing.T) {
	tests := []struct {
		sel   string
		image string
		want  bool
	}{
		{"reg.example/app", "reg.example/app:1.0", true},
		{"reg.example/app", "reg.example/app@" + dA, true},
		{"reg.example/app", "reg.example/other:1.0", false},
		{"reg.example/app:1.0", "reg.example/app:1.0", true},
		{"reg.example/app:1.0", "reg.example/app:1.0@" + dA, true},
		{"reg.example/app:1.0", "reg.example/app:1.1", false},
		{"reg.example/app:1.0", "reg.example/app@" + dA, false},
		{"reg.example/app@" + dA, "reg.example/app@" + dA, true},
		{"reg.example/app@" + dA, "reg.example/app:9@" + dA, true},
		{"reg.example/app@" + dA, "mirror.example/app@" + dA, false},
		{dA, "mirror.example/app@" + dA, true},
		{dA, "mirror.example/app@" + dB, false},
		{"nginx", "docker.io/library/nginx:1", true},
		{"nginx:latest", "nginx", true},
	}
	for _, tt := range tests {
		sel, err := ParseSelector(tt.sel)
		if err != nil {
			t.Fatalf("ParseSelector(%q): %v", tt.sel, err)
		}
		if got := sel.Matches(tt.image); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.sel, tt.image, got, tt.want)
		}
	}
	sel := Selector{Repository: "reg.example/app", Exclude: dA}
	if sel.Matches("reg.example/app@" + dA) {
		t.Errorf("the excluded (new) digest was selected")
	}
}
