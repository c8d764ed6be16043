package patch

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Formats lists the plan's output formats.
func Formats() []string { return []string{"table", "json"} }

// Write renders the plan as "table" or "json".
func Write(w io.Writer, p *Plan, format string) error {
	if table, err := writeJSON(w, p, format); !table {
		return err
	}
	return writeTable(w, p)
}

// writeJSON writes v for the "json" format; for "table" it writes nothing
// and reports that the caller renders the table.
func writeJSON(w io.Writer, v any, format string) (table bool, err error) {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return false, enc.Encode(v)
	case "table", "":
		return true, nil
	}
	return false, fmt.Errorf("format %q: want %s", format, strings.Join(Formats(), " or "))
}

func writeTable(w io.Writer, p *Plan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Image: %s\n", strings.TrimSpace(p.Image+" "+p.Digest))
	fmt.Fprintf(tw, "OS: %s (patched with %s, selection: %s)\n", p.OS, p.Manager, p.Mode)
	if len(p.Items) == 0 {
		fmt.Fprintln(tw, "Nothing to patch.")
	} else {
		fmt.Fprintln(tw, "PACKAGE\tINSTALLED\t→ TARGET\tSEVERITY\tFIXES")
		for _, it := range p.Items {
			target := it.Target
			if target == "" {
				target = "newest available"
			} else if it.Source != "" && it.Source != it.Package {
				target = ">= " + target + " (source " + it.Source + ")"
			} else {
				target = ">= " + target
			}
			fmt.Fprintf(tw, "%s\t%s\t→ %s\t%s\t%s\n", it.Package, it.Installed, target, it.Severity, strings.Join(it.Findings, ", "))
		}
	}
	if len(p.Skipped) > 0 {
		fmt.Fprintf(tw, "\nNot fixable in place (%d):\n", len(p.Skipped))
		for _, s := range p.Skipped {
			fmt.Fprintf(tw, "  %s\t%s %s\t%s\n", s.ID, s.Package, s.Version, s.Reason)
		}
	}
	if len(p.UnknownIDs) > 0 {
		fmt.Fprintf(tw, "\nRequested ids not found in the image: %s\n", strings.Join(p.UnknownIDs, ", "))
	}
	return tw.Flush()
}

// WriteOutcome renders a patch's outcome as "table" or "json".
func WriteOutcome(w io.Writer, o *Outcome, format string) error {
	if table, err := writeJSON(w, o, format); !table {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	switch {
	case o.DryRun:
		fmt.Fprintf(tw, "Dry run: %s would get %d upgrade(s)\n", o.Original, len(o.Upgrades))
	default:
		fmt.Fprintf(tw, "Patched %s\n     -> %s (one layer, %d bytes)\n", o.Original, o.Image, o.LayerSize)
	}
	if len(o.Upgrades) > 0 {
		fmt.Fprintln(tw, "PACKAGE\tFROM\t→ TO")
		for _, u := range o.Upgrades {
			fmt.Fprintf(tw, "%s\t%s\t→ %s\n", u.Package, u.From, u.To)
		}
	}
	if r := o.Rescan; r != nil {
		if r.OK() {
			fmt.Fprintf(tw, "Rescan: the targeted findings are gone, no new package (%d findings left)\n", r.Findings)
		} else {
			fmt.Fprintf(tw, "Rescan: %v\n", r.Err())
		}
	}
	for _, v := range o.Verdicts {
		fmt.Fprintf(tw, "Verdict %s for %s: %s\n", v.Result, v.Subject, v.Ref)
	}
	return tw.Flush()
}

// WriteIndexOutcome renders the patch of an index as "table" or "json".
func WriteIndexOutcome(w io.Writer, o *IndexOutcome, format string) error {
	if table, err := writeJSON(w, o, format); !table {
		return err
	}
	switch {
	case o.DryRun:
		fmt.Fprintf(w, "Dry run of the index %s (%d platforms)\n", o.Original, len(o.Platforms))
	case o.Image == "":
		fmt.Fprintf(w, "Nothing to patch in the index %s\n", o.Original)
	default:
		fmt.Fprintf(w, "Patched the index %s\n     -> %s (%d platforms)\n", o.Original, o.Image, len(o.Platforms))
	}
	for _, p := range o.Platforms {
		fmt.Fprintf(w, "\n== %s\n", p.Platform)
		var err error
		if p.Outcome != nil {
			err = WriteOutcome(w, p.Outcome, "table")
		} else {
			err = Write(w, p.Plan, "table")
		}
		if err != nil {
			return err
		}
	}
	return nil
}
