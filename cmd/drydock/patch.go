package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/patch"
	"github.com/drydock/drydock/internal/patchexec"
	"github.com/drydock/drydock/internal/report"
)

func newPatchCommand(g *globals) *cobra.Command {
	var (
		sf         scanFlags
		tag        string
		dryRun     bool
		format     string
		output     string
		severity   string
		ids        []string
		allUpdates bool
		sources    []string
		buildah    string
		helper     string
	)
	cmd := &cobra.Command{
		Use:   "patch <image> --tag REF",
		Short: "Upgrade an image's vulnerable OS packages in place, as one new layer",
		Long: `Patch an image without rebuilding it: scan it, select the OS packages with a fixed
version (only findings at or above --severity, or only --ids), upgrade exactly those
with the image's own package manager inside an isolated root (buildah, chroot
isolation, its own storage; no daemon), and push the original layers plus one layer
holding what changed to --tag (a registry reference, or oci:DIR[:TAG] for an OCI layout).

The selection comes from the vulnerability database by default. --all-updates instead
upgrades every package for which the package sources (the image's own, plus
--apt-source lines) have a newer version, whatever the database says.

Nothing is pushed unless every selected package reached its fixed version without
adding or removing a package; the error names the package that did not.
The patched image's manifest records the original's digest (dev.drydock.patch.original)
and the upgraded packages (dev.drydock.patch.packages).

Supported: Debian and Ubuntu images with apt, and distroless Debian images (dpkg
status.d, no package manager), whose packages are downloaded by apt in a --helper-image
container and laid into the layer with dpkg-deb from outside (no maintainer script runs).
Alpine and RHEL-family images are recognised and refused with a message.`,
		Example: `  # What would be patched (no change, no push)
  drydock patch registry.example.com/app:1.4 --dry-run

  # Fix critical and high findings, with Debian's security archive as a source
  drydock patch registry.example.com/app:1.4 -t registry.example.com/app:1.4-patched \
    --severity high --apt-source "deb http://MIRROR/debian-security bookworm-security main"

  # Every security update, written to an OCI layout
  drydock patch registry.example.com/app:1.4 -t oci:./out:patched --all-updates \
    --apt-source "deb http://MIRROR/debian-security bookworm-security main" -f json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if format == "" {
				format = "table"
				if output != "" || !stdoutIsTerminal() {
					format = "json"
				}
			}
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			if tag == "" && !dryRun {
				return errors.New("--tag is required (or --dry-run to only print the plan)")
			}
			if allUpdates && (severity != "" || len(ids) > 0) {
				return errors.New("--all-updates upgrades every package with an update: it cannot be combined with --severity or --ids")
			}
			if severity != "" {
				if err := patch.ValidSeverity(severity); err != nil {
					return fmt.Errorf("--severity: %w", err)
				}
			}
			var rep *report.ScanReport
			if allUpdates {
				inv, err := loadInventory(ctx, g, &sf.source, args[0])
				if err != nil {
					return err
				}
				rep = &report.ScanReport{Inventory: inv}
			} else {
				r, err := runScan(ctx, g, &sf, args[0], cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				rep = r
			}
			plan, err := patch.Make(rep, patch.Selection{MinSeverity: severity, IDs: ids, AllUpdates: allUpdates})
			if err != nil {
				return err
			}
			for _, id := range plan.UnknownIDs {
				fmt.Fprintf(g.notices(cmd), "warning: %s: no finding of the image carries this id\n", id)
			}
			if dryRun && !allUpdates {
				return writeOutput(output, func(w io.Writer) error { return patch.Write(w, plan, format) })
			}
			switch plan.Manager {
			case patch.ManagerApt:
			case patch.ManagerDpkgStatusD:
				if helper == "" {
					return fmt.Errorf("%s is a distroless image (dpkg status.d, no package manager): give --helper-image, a Debian image of the same release whose apt downloads the packages", args[0])
				}
			default:
				return fmt.Errorf("%s: %s images cannot be patched yet (supported: Debian and Ubuntu images with apt, distroless Debian images)", args[0], plan.Manager)
			}
			if !allUpdates && len(plan.Items) == 0 {
				fmt.Fprintln(g.notices(cmd), "nothing to patch: no selected finding has a fixed OS package")
				return writeOutput(output, func(w io.Writer) error { return patch.Write(w, plan, format) })
			}

			tmp, cleanup, err := g.tempDir()
			if err != nil {
				return err
			}
			defer cleanup()
			iopts, err := sf.source.imageOptions(tmp)
			if err != nil {
				return err
			}
			img, err := image.Open(ctx, args[0], iopts...)
			if err != nil {
				return err
			}
			defer img.Close()
			if img.Image == nil {
				return fmt.Errorf("%s is a root filesystem directory: patch needs an image (registry reference, OCI layout or archive)", args[0])
			}
			if img.Source.IndexDigest != "" && sf.source.platform == "" {
				return fmt.Errorf("%s is a multi-platform index: drydock patches one platform at a time; pass --platform os/arch (the result is a single-platform image)", args[0])
			}
			x := &patchexec.Buildah{Path: buildah, WorkDir: tmp, Sources: sources}
			if g.logLevel == "debug" {
				x.Log = os.Stderr
			}
			original := img.Source.Ref
			if img.Source.Digest != "" {
				original = strings.TrimSuffix(img.Source.Ref, "@"+img.Source.Digest) + "@" + img.Source.Digest
			}
			out := &patch.Outcome{Original: original, Plan: plan, DryRun: dryRun}
			var dl *patchexec.Distroless
			if plan.Manager == patch.ManagerDpkgStatusD {
				h, err := image.Open(ctx, helper, iopts...)
				if err != nil {
					return fmt.Errorf("--helper-image: %w", err)
				}
				defer h.Close()
				if h.Image == nil {
					return fmt.Errorf("--helper-image %s: want an image, not a directory", helper)
				}
				dl = &patchexec.Distroless{Buildah: x, Helper: h.Image}
			}
			if dryRun {
				var ups []patch.Upgrade
				if dl != nil {
					ups, err = dl.Resolve(ctx, plan)
				} else {
					ups, err = x.Resolve(ctx, img.Image, plan)
				}
				if err != nil {
					return err
				}
				out.Upgrades = ups
				return writeOutput(output, func(w io.Writer) error { return patch.WriteOutcome(w, out, format) })
			}
			slog.Info("patching", "image", original, "packages", len(plan.Items), "mode", plan.Mode)
			var res *patchexec.Result
			if dl != nil {
				res, err = dl.Patch(ctx, img.Image, plan)
			} else {
				res, err = x.Patch(ctx, img.Image, plan)
			}
			if err != nil {
				return err
			}
			defer res.Close()
			ref, err := patchexec.Write(ctx, res.Image, tag, sf.source.insecure, iopts...)
			if err != nil {
				return err
			}
			slog.Info("patched", "image", ref, "upgrades", len(res.Upgrades), "layer_bytes", res.LayerSize)
			out.Image, out.Upgrades, out.LayerSize = ref, res.Upgrades, res.LayerSize
			return writeOutput(output, func(w io.Writer) error { return patch.WriteOutcome(w, out, format) })
		},
	}
	sf.register(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&tag, "tag", "t", "", "where to push the patched image: a registry reference, or oci:DIR[:TAG]")
	fl.BoolVar(&dryRun, "dry-run", false, "print the plan (package, installed → target, findings fixed) and change nothing; with --all-updates, resolve the upgrades against the package sources")
	fl.StringVarP(&format, "format", "f", "", "output format: table, json (default table on a terminal, else json)")
	fl.StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	fl.StringVar(&severity, "severity", "", "only fix findings at or above this severity: critical, high, medium, low")
	fl.StringSliceVar(&ids, "ids", nil, "only fix these advisory ids (or aliases), comma-separated")
	fl.BoolVar(&allUpdates, "all-updates", false, "upgrade every OS package the package sources have a newer version of, not only those the vulnerability database names")
	fl.StringArrayVar(&sources, "apt-source", splitEnv("DRYDOCK_PATCH_APT_SOURCES"), `extra apt source line used while patching ("deb URI SUITE COMPONENT"), repeatable (env DRYDOCK_PATCH_APT_SOURCES, newline-separated)`)
	fl.StringVar(&helper, "helper-image", os.Getenv("DRYDOCK_PATCH_HELPER_IMAGE"), "distroless images: a Debian image of the same release whose apt resolves and downloads the packages (env DRYDOCK_PATCH_HELPER_IMAGE)")
	fl.StringVar(&buildah, "buildah", envOr("DRYDOCK_BUILDAH", "buildah"), "buildah binary (env DRYDOCK_BUILDAH)")
	return cmd
}

// splitEnv is the non-empty lines of an environment variable.
func splitEnv(name string) []string {
	var out []string
	for _, l := range strings.Split(os.Getenv(name), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
