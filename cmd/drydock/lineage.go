package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/lineage"
)

func newLineageCommand(g *globals) *cobra.Command {
	var (
		dockerfile string
		buildArgs  []string
		known      []string
		base       string
		format     string
		platform   string
		insecure   bool
	)
	cmd := &cobra.Command{
		Use:   "lineage <image>",
		Short: "Show an image's base chain and the layers each base contributed",
		Long: `Show an image's base chain (app → runtime base → OS base) with digests and the
layers each image contributed, and how each base was found:

  annotation  org.opencontainers.image.base.name/base.digest on the image (high when
              the digest is given and its layers are a prefix of the image's)
  flag        --base (high when its layers are a prefix of the image's)
  layers      the longest --known-base whose layers are a prefix of the image's (high)
  dockerfile  the final stage's FROM in --dockerfile (low: the tag may have moved;
              medium when its layers are a prefix of the image's today)

Each base is then traced the same way, up to 5 levels.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			tmp, cleanup, err := g.tempDir()
			if err != nil {
				return err
			}
			defer cleanup()
			iopts := []image.Option{image.WithInsecure(insecure), image.WithTempDir(tmp), image.WithUserAgent("drydock/" + version)}
			if platform != "" {
				p, err := image.ParsePlatform(platform)
				if err != nil {
					return err
				}
				iopts = append(iopts, image.WithPlatform(p))
			}
			opts := []lineage.Option{lineage.WithImageOptions(iopts...), lineage.WithKnownBases(known...)}
			if base != "" {
				opts = append(opts, lineage.WithBase(base))
			}
			if dockerfile != "" {
				b, err := os.ReadFile(dockerfile)
				if err != nil {
					return fmt.Errorf("--dockerfile: %w", err)
				}
				bargs := map[string]string{}
				for _, a := range buildArgs {
					k, v, ok := strings.Cut(a, "=")
					if !ok || k == "" {
						return fmt.Errorf("--build-arg %q: want NAME=VALUE", a)
					}
					bargs[k] = v
				}
				opts = append(opts, lineage.WithDockerfile(b, bargs))
			}
			chain, err := lineage.Resolve(cmd.Context(), args[0], opts...)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(chain)
			}
			return writeLineageTable(os.Stdout, chain)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dockerfile, "dockerfile", "", "Dockerfile the image was built from (its final stage's FROM is the least trusted clue)")
	fl.StringArrayVar(&buildArgs, "build-arg", nil, "NAME=VALUE overriding an ARG default of --dockerfile (repeatable)")
	fl.StringArrayVar(&known, "known-base", nil, "base image reference to match layer chains against (repeatable; the longest match wins)")
	fl.StringVar(&base, "base", "", "the image's base, overriding every other clue for the first level")
	fl.StringVarP(&format, "format", "f", "table", "output format: table, json")
	fl.StringVar(&platform, "platform", "", "platform to pick from multi-arch images, os/arch[/variant] (default linux/<host arch>)")
	fl.BoolVar(&insecure, "insecure", false, "allow plain HTTP to the registry (localhost is always allowed)")
	return cmd
}

func writeLineageTable(w io.Writer, c *lineage.Chain) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tDIGEST\tFOUND BY\tCONFIDENCE\tLAYERS")
	for i, l := range c.Links {
		ref := l.Ref
		if i > 0 {
			ref = strings.Repeat("  ", i-1) + "└─ " + ref
		}
		conf := string(l.Confidence)
		if conf == "" {
			conf = "-"
		}
		digest := l.Digest
		if digest == "" {
			digest = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", ref, digest, l.Method, conf, len(l.Layers))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range c.Links {
		fmt.Fprintf(w, "\n%s contributed %d layer(s):\n", l.Ref, len(l.Layers))
		for _, d := range l.Layers {
			fmt.Fprintf(w, "  %s\n", d)
		}
		if l.Note != "" {
			fmt.Fprintf(w, "  note: %s\n", l.Note)
		}
	}
	return nil
}
