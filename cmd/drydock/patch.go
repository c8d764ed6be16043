package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/patch"
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

		keyPath, policyPath, failOn, policyResult string
		noPolicy                                  bool
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
Alpine and RHEL-family images are recognised and refused with a message.

A multi-platform index in a registry is patched per platform: every platform image
is patched (or kept, when it has nothing to patch) and a new index with the same
platforms is pushed; if any platform fails, nothing is pushed and the error names it.
--platform patches one platform only (the result is a single-platform image).

After the push the result is scanned again: every finding the plan targeted must be
gone and no OS package may be new, or the command fails. With --key a signed verdict
(as "drydock attest") is then pushed for the patched image, with the decision given
by --policy, --fail-on, --policy-result or --no-policy.`,
		Example: `  # What would be patched (no change, no push)
  drydock patch registry.example.com/app:1.4 --dry-run

  # Fix critical and high findings, with Debian's security archive as a source
  drydock patch registry.example.com/app:1.4 -t registry.example.com/app:1.4-patched \
    --severity high --apt-source "deb http://MIRROR/debian-security bookworm-security main"

  # Patch and sign a verdict, as a rebuild would be signed
  drydock patch registry.example.com/app:1.4 -t registry.example.com/app:1.4-patched \
    --key ci.key --fail-on critical --apt-source "deb http://MIRROR/debian-security bookworm-security main"

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
			var (
				ev     attest.Evaluator
				signer *attest.Signer
			)
			if keyPath != "" {
				switch {
				case dryRun:
					return errors.New("--key signs the pushed result: it cannot be combined with --dry-run")
				case strings.HasPrefix(tag, "oci:"):
					return errors.New("--key pushes a verdict next to the patched image: --tag must be a registry reference, not an OCI layout")
				case policyPath == "" && failOn == "" && policyResult == "" && !noPolicy:
					return errNoDecision("--key")
				}
				var err error
				if ev, err = policyEvaluator(policyPath, failOn, policyResult, noPolicy); err != nil {
					return err
				}
				if signer, err = loadSigner(keyPath); err != nil {
					return err
				}
			}
			tmp, cleanup, err := g.tempDir()
			if err != nil {
				return err
			}
			defer cleanup()
			stderr := cmd.ErrOrStderr()
			// The scan and the inventory read the image on the platform
			// given: "" once a platform image is named by its digest.
			onPlatform := func(platform string) scanFlags {
				f := sf
				f.source.platform = platform
				return f
			}
			o := loop.PatchOptions{
				Scan: func(ctx context.Context, ref, platform string) (*report.ScanReport, error) {
					f := onPlatform(platform)
					return runScan(ctx, g, &f, ref, stderr)
				},
				Inventory: func(ctx context.Context, ref, platform string) (*inventory.Inventory, error) {
					f := onPlatform(platform)
					return loadInventory(ctx, g, &f.source, ref)
				},
				ImageOptions: func() ([]image.Option, error) { return sf.source.imageOptions(tmp) },
				Platform:     sf.source.platform,
				Insecure:     sf.source.insecure,
				TempDir:      tmp,
				Notices:      g.notices(cmd),
				Tag:          tag,
				DryRun:       dryRun,
				Selection:    patch.Selection{MinSeverity: severity, IDs: ids, AllUpdates: allUpdates},
				Sources:      sources,
				Buildah:      buildah,
				Helper:       helper,
				Evaluator:    ev,
				Signer:       signer,
				Tool:         attest.Scanner{Name: "drydock", Version: version},
			}
			if g.logLevel == "debug" {
				o.Log = os.Stderr
			}
			res, err := loop.Patch(ctx, args[0], o)
			if res != nil {
				// A rescan that failed still reports what it found; its
				// error wins over the write's.
				werr := writeOutput(output, func(w io.Writer) error { return res.Write(w, format) })
				if err == nil {
					err = werr
				}
			}
			return err
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
	fl.StringVar(&keyPath, "key", "", "sign a verdict for the patched image with this private key, after a rescan confirms the patch (as drydock attest; needs a decision flag)")
	fl.StringVar(&policyPath, "policy", "", "with --key: the drydock policy whose decision the verdict records")
	fl.StringVar(&failOn, "fail-on", "", "with --key: the verdict fails when a finding at or above this severity remains")
	fl.StringVar(&policyResult, "policy-result", "", "with --key: record this outcome, decided elsewhere: pass or fail")
	fl.BoolVar(&noPolicy, "no-policy", false, "with --key: sign without a decision (the verdict never passes)")
	cmd.MarkFlagsMutuallyExclusive("policy", "fail-on", "policy-result", "no-policy")
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
