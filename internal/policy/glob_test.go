package policy

import "testing"

func TestGlob(t *testing.T) {
	tests := []struct {
		glob, name string
		want       bool
	}{
		{"registry.example.com/team/*", "registry.example.com/team/app", true},
		{"registry.example.com/team/*", "registry.example.com/team/app/sub", false}, // * is one segment
		{"registry.example.com/team/*", "registry.example.com/team", false},
		{"registry.example.com/team/*", "registry.example.com/other/app", false},
		{"registry.example.com/team/*", "evil.example.com/registry.example.com/team/app", false},
		{"registry.example.com/base/**", "registry.example.com/base/debian", true},
		{"registry.example.com/base/**", "registry.example.com/base/debian/slim", true},
		{"registry.example.com/base/**", "registry.example.com/base", false}, // trailing ** needs a segment
		{"registry.example.com/**/app", "registry.example.com/app", true},    // inner ** may be empty
		{"registry.example.com/**/app", "registry.example.com/a/b/c/app", true},
		{"registry.example.com/**/app", "registry.example.com/a/b/c/app2", false},
		{"**", "docker.io/library/nginx", true},
		{"**/**/nginx", "docker.io/library/nginx", true},
		{"*.example.com/team/*", "registry.example.com/team/app", true},
		{"*.example.com/team/*", "example.com/team/app", false},
		{"registry.example.com/team/old-*", "registry.example.com/team/old-billing", true},
		{"registry.example.com/team/old-*", "registry.example.com/team/new-billing", false},
		{"registry.example.com/team/*-svc", "registry.example.com/team/a-b-svc", true},
		{"registry.example.com/team/a*b*c", "registry.example.com/team/axxbyyc", true},
		{"registry.example.com/team/a*b*c", "registry.example.com/team/axxbyyd", false},
		{"Registry.Example.com/Team/*", "registry.example.com/team/app", true}, // case-insensitive
		{"localhost:5000/*", "localhost:5000/app", true},
		{"legacy-*", "legacy-billing", true},
		{"legacy-*", "legacy-", true},
		{"legacy-*", "prod", false},
		{"*", "", false}, // nothing matches an empty name
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.glob)
		if err != nil {
			t.Fatalf("compileGlob(%q): %v", tt.glob, err)
		}
		if got := g.match(tt.name); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.glob, tt.name, got, tt.want)
		}
	}
}

func TestGlobErrors(t *testing.T) {
	for _, g := range []string{"", "  ", "registry.example.com//app", "registry.example.com/team/", "/team", "team/a**", "team/app:1.2@sha256:abc", "team/app@sha256:abc", "team/my app"} {
		if _, err := compileGlob(g); err == nil {
			t.Errorf("compileGlob(%q) accepted", g)
		}
	}
}
