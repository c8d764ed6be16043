package loop

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/patch"
	"github.com/drydock/drydock/internal/report"
)

// Patch decides from what its injected scan returns before any image is
// opened or buildah runs: these cases never reach either (the source is an
// OCI layout that does not exist, so reaching image.Open would fail with a
// different error). Buildah and the registry are exercised in test/e2e.
func TestPatchDecidesFromTheScan(t *testing.T) {
	deb := &inventory.Inventory{OS: &inventory.OS{ID: "debian", VersionID: "12"},
		Packages: []inventory.Package{{Name: "libc6", Version: "2.36-9", Type: inventory.TypeDeb, Path: "var/lib/dpkg/status"}}}
	distroless := &inventory.Inventory{OS: &inventory.OS{ID: "debian", VersionID: "12", Distroless: true},
		Packages: []inventory.Package{{Name: "libc6", Version: "2.36-9", Type: inventory.TypeDeb, Path: "var/lib/dpkg/status.d/libc6"}}}
	alpine := &inventory.Inventory{OS: &inventory.OS{ID: "alpine", VersionID: "3.20"},
		Packages: []inventory.Package{{Name: "musl", Version: "1.2.5-r0", Type: inventory.TypeAPK}}}
	errOptions := errors.New("image options asked for")
	const src = "oci:/nonexistent/layout"
	for _, tc := range []struct {
		name     string
		inv      *inventory.Inventory
		sel      patch.Selection
		dryRun   bool
		platform string
		// want
		calls   []string
		notices string
		plan    bool
		err     string
	}{
		{name: "dry run warns of unknown ids", inv: deb, sel: patch.Selection{IDs: []string{"CVE-0000-1"}}, dryRun: true, platform: "linux/arm64",
			calls: []string{"scan " + src + " linux/arm64"}, notices: "warning: CVE-0000-1: no finding of the image carries this id\n", plan: true},
		{name: "nothing to patch", inv: deb,
			calls: []string{"scan " + src + " "}, notices: "nothing to patch: no selected finding has a fixed OS package\n", plan: true},
		{name: "apk refused", inv: alpine,
			calls: []string{"scan " + src + " "}, err: src + ": apk images cannot be patched yet (supported: Debian and Ubuntu images with apt, distroless Debian images)"},
		{name: "distroless needs a helper", inv: distroless,
			calls: []string{"scan " + src + " "}, err: src + " is a distroless image (dpkg status.d, no package manager): give --helper-image, a Debian image of the same release whose apt downloads the packages"},
		{name: "all updates reads the inventory, then opens the image", inv: deb, sel: patch.Selection{AllUpdates: true}, dryRun: true,
			calls: []string{"inventory " + src + " ", "image options"}, err: errOptions.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			var notices bytes.Buffer
			res, err := Patch(context.Background(), src, PatchOptions{
				Scan: func(_ context.Context, ref, platform string) (*report.ScanReport, error) {
					calls = append(calls, "scan "+ref+" "+platform)
					return &report.ScanReport{Inventory: tc.inv}, nil
				},
				Inventory: func(_ context.Context, ref, platform string) (*inventory.Inventory, error) {
					calls = append(calls, "inventory "+ref+" "+platform)
					return tc.inv, nil
				},
				ImageOptions: func() ([]image.Option, error) {
					calls = append(calls, "image options")
					return nil, errOptions
				},
				Platform: tc.platform, Notices: &notices, Tag: "oci:/nonexistent/out", DryRun: tc.dryRun, Selection: tc.sel,
			})
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.err {
				t.Errorf("error = %q, want %q", gotErr, tc.err)
			}
			if diff := cmp.Diff(tc.calls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if got := notices.String(); got != tc.notices {
				t.Errorf("notices = %q, want %q", got, tc.notices)
			}
			if gotPlan := res != nil && res.Plan != nil && res.Outcome == nil && res.Index == nil; gotPlan != tc.plan {
				t.Errorf("result = %+v, want a plan only: %v", res, tc.plan)
			}
		})
	}
}
