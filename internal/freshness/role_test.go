package freshness

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// IsBase tells the images other tracked images are built on from
// applications; ImageFor finds the configured image of a stored one.
func TestIsBaseAndImageFor(t *testing.T) {
	cfg, err := ParseConfig([]byte(`images:
  - name: golden
    image: reg.example/platform/golden:12
    base: docker.io/library/debian:12
    rebuild: {kind: rebase}
  - name: shop
    image: reg.example/team/shop:1
    base: reg.example/platform/golden:12
    rebuild: {kind: rebase}
  - name: shop-canary
    image: reg.example/team/shop:canary
    base: reg.example/platform/golden:12
    rebuild: {kind: rebase}
`))
	if err != nil {
		t.Fatal(err)
	}
	var roles []bool
	for _, n := range []string{"golden", "shop", "shop-canary", "missing"} {
		roles = append(roles, cfg.IsBase(n))
	}
	if diff := cmp.Diff([]bool{true, false, false, false}, roles); diff != "" {
		t.Errorf("IsBase (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		repo string
		tags []string
		want string
	}{
		{"reg.example/team/shop", []string{"1"}, "shop"},
		{"reg.example/team/shop", []string{"canary", "x"}, "shop-canary"},
		{"reg.example/team/shop", nil, ""}, // two images: ambiguous without a tag
		{"reg.example/platform/golden", nil, "golden"},
		{"reg.example/team/other", []string{"1"}, ""},
	} {
		if got := cfg.ImageFor(tc.repo, tc.tags); got != tc.want {
			t.Errorf("ImageFor(%s, %v) = %q; want %q", tc.repo, tc.tags, got, tc.want)
		}
	}
}
