package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/report"
)

func newSBOMCommand(g *globals) *cobra.Command {
	var (
		sf     sourceFlags
		format string
		output string
	)
	cmd := &cobra.Command{
		Use:   "sbom <source>",
		Short: "List the packages of an image (SBOM)",
		Long: `List the packages of an image.

<source> is a registry reference (registry.example.com/team/app:1.2 or ...@sha256:...),
an OCI image layout directory, an OCI or docker-archive tarball, or a root filesystem
directory. Prefixes force a kind: registry:, oci:, archive:, rootfs:.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" {
				format = "json"
				if output == "" && stdoutIsTerminal() {
					format = "table"
				}
			}
			f, err := report.SBOM(format, report.Options{ToolName: "drydock", ToolVersion: version})
			if err != nil {
				return fmt.Errorf("--format %q: want one of %s", format, strings.Join(report.SBOMFormats(), ", "))
			}
			inv, err := loadInventory(cmd.Context(), g, &sf, args[0])
			if err != nil {
				return err
			}
			return writeOutput(output, func(w io.Writer) error { return f.Format(w, inv) })
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVarP(&format, "format", "f", "", "output format: table, json, cyclonedx, spdx (default table on a terminal, else json)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	return cmd
}
